"""Exact shape gradients of Cd and Cl by the discrete adjoint.

The body enters the equations only through the diagonal coefficients c(points) of sim.body (R += c * q), and
the coefficient is C(q, c) = k * sum c * q over the u (drag) or v (lift) unknowns. One transposed solve with
the converged Jacobian's factorisation, J^T psi = dC/dq, gives dC/dc = dC/dc|_q - psi * q, and torch carries
that through c(points) to the points and whatever parameters made them.
"""

from __future__ import annotations

import numpy as np
import torch

from sim.body import coefficients
from sim.result import SimResult


def _weights(objective: str | dict[str, float]) -> dict[str, float]:
    w = {objective: 1.0} if isinstance(objective, str) else dict(objective)
    unknown = sorted(set(w) - {"cd", "cl"})
    if unknown or not w:
        raise ValueError(f"objective must be 'cd', 'cl' or weights of them; got {objective!r}")
    return {"cd": float(w.get("cd", 0.0)), "cl": float(w.get("cl", 0.0))}


def coefficient_gradients(
    result: SimResult, objective: str | dict[str, float] = "cd"
) -> tuple[np.ndarray, np.ndarray]:
    """dC/dc_u (nx+1, ny) and dC/dc_v (nx, ny+1) for C = cd, cl, or a weighted sum {"cd": a, "cl": b}: the
    adjoint is linear in dC/dq, so a combination costs one transposed solve."""
    w = _weights(objective)
    eq, q = result.equations, result.q
    L = eq.layout
    k = result.domain.force_scale
    pen = eq.body_vector(result.c_u, result.c_v)
    dc_dq = np.zeros(eq.n)
    dc_dq[L.iu[1:]] = w["cd"] * k * pen[L.iu[1:]]
    dc_dq[L.iv[:, 1:-1]] = w["cl"] * k * pen[L.iv[:, 1:-1]]
    if result.newton is None:
        raise ValueError("the result keeps no Newton state, so it has no factorisation for the adjoint")
    psi = result.newton.solve_transposed(dc_dq)
    u, v, _ = eq.fields(q)
    g_u = w["cd"] * k * u
    g_v = w["cl"] * k * v
    g_u[1:] -= psi[L.iu[1:]] * u[1:]
    g_v[:, 1:-1] -= psi[L.iv[:, 1:-1]] * v[:, 1:-1]
    return g_u, g_v


def gradient(
    result: SimResult,
    points: torch.Tensor,
    wrt: torch.Tensor | None = None,
    objective: str | dict[str, float] = "cd",
) -> torch.Tensor:
    """d objective / d wrt, where `points` (n, 2, domain units) was computed from `wrt` by torch operations
    (wrt defaults to the points themselves). `points` must equal the polygon that `result` was solved for.
    The objective is "cd", "cl" or weights {"cd": 1, "cl": w}: one call, one backward through `points`'
    graph."""
    p = points.detach().numpy()
    if p.shape != result.points.shape or np.max(np.abs(p - result.points)) > 1e-12 * max(
        1.0, np.abs(p).max()
    ):
        raise ValueError("the points differ from the polygon that was simulated")
    g_u, g_v = coefficient_gradients(result, objective)
    wrt = points if wrt is None else wrt
    c_u, c_v = coefficients(points, result.domain.grid, result.domain.nu, result.penalty, result.immersed)
    (grad,) = torch.autograd.grad(
        (c_u, c_v), wrt, (torch.as_tensor(g_u), torch.as_tensor(g_v)), allow_unused=True
    )
    return torch.zeros_like(wrt) if grad is None else grad
