"""Exact shape gradients of Cd and Cl by the discrete adjoint.

The body enters the equations only through the diagonal coefficients c(points) of sim.body (R += c * q), and
the coefficient is C(q, c) = k * sum c * q over the u (drag) or v (lift) unknowns. One transposed solve with
the converged Jacobian's factorisation, J^T psi = dC/dq, gives dC/dc = dC/dc|_q - psi * q, and torch carries
that through c(points) to the points and whatever parameters made them.

`station_sensitivities` gives the sensitivities of both coefficients to a normal displacement of the outline
given by its values at the Cp stations (hat functions in arc length), a fixed-size form the datasets can
store; `mode_matrix` maps them to the gradient on surrogate.gradients' smooth Fourier modes.
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


# ---------- sensitivities to a normal displacement of the outline at the Cp stations ----------


def outward_normals(points: np.ndarray) -> np.ndarray:
    """Outward unit normals (n, 2) at the vertices of a counter-clockwise outline: the chord between the two
    neighbours turned clockwise, as surrogate.gradients.normal_modes takes them."""
    t = np.roll(points, -1, 0) - np.roll(points, 1, 0)
    n = np.stack([t[:, 1], -t[:, 0]], 1)
    return n / np.linalg.norm(n, axis=1, keepdims=True)


def vertex_arc_fractions(points: np.ndarray) -> np.ndarray:
    """Arc-length fraction in [0, 1) of each vertex, counter-clockwise from the leading-edge vertex (the first
    of smallest x), measured as sim.forces.surface_stations measures it: its station k of M lies at k / M."""
    start = int(np.argmin(points[:, 0]))
    ring = np.roll(points, -start, 0)
    seg = np.linalg.norm(np.roll(ring, -1, 0) - ring, axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)[:-1]]) / seg.sum()
    return np.roll(s, start)


def hat_matrix(points: np.ndarray, stations: int = 64) -> np.ndarray:
    """H (n, stations): the normal displacement of vertex i is sum_k H[i, k] a_k for station amplitudes a, the
    periodic piecewise-linear interpolation in arc length of the values a_k at the stations."""
    u = vertex_arc_fractions(points) * stations
    j = np.floor(u).astype(int)
    f = u - j
    h = np.zeros((len(points), stations))
    rows = np.arange(len(points))
    np.add.at(h, (rows, j % stations), 1.0 - f)
    np.add.at(h, (rows, (j + 1) % stations), f)
    return h


def mode_matrix(points: np.ndarray, stations: int = 64, k: int = 8) -> np.ndarray:
    """(2k, stations): the values of surrogate.gradients.normal_modes' K = 2k Fourier modes (cos, then sin,
    of 1..k periods in the arc fraction from vertex 0) at the stations. As hat amplitudes they stand for the
    modes interpolated between stations, so station_sensitivities(...) @ mode_matrix(...).T approximates the
    gradient on the modes from the stored station sensitivities (exactly, for the interpolated modes)."""
    s = (np.arange(stations) / stations - vertex_arc_fractions(points)[0]) % 1.0
    phase = 2 * np.pi * np.arange(1, k + 1)[:, None] * s[None, :]
    return np.concatenate([np.cos(phase), np.sin(phase)], 0)


def point_gradients(result: SimResult) -> np.ndarray:
    """(2, n, 2): dCd and dCl with respect to the simulated polygon's vertices. Two transposed solves, one per
    objective (the factorisation's solve takes a single right-hand side), then one batched backward pass
    through one evaluation of the body coefficients for both."""
    grads = [coefficient_gradients(result, objective) for objective in ("cd", "cl")]
    points = torch.tensor(result.points, dtype=torch.float64, requires_grad=True)
    c_u, c_v = coefficients(points, result.domain.grid, result.domain.nu, result.penalty, result.immersed)
    g_u, g_v = (torch.as_tensor(np.stack(g)) for g in zip(*grads, strict=True))
    (grad,) = torch.autograd.grad((c_u, c_v), points, (g_u, g_v), is_grads_batched=True, allow_unused=True)
    return np.zeros((2,) + result.points.shape) if grad is None else grad.numpy()


def station_sensitivities(result: SimResult, stations: int = 64) -> np.ndarray:
    """(2, stations): dCd/da_k and dCl/da_k, the adjoint sensitivities to a normal displacement of the outline
    given by its values at the Cp stations.

    The vertices p_i of the simulated polygon move to p_i + a(s_i) n_i, with n_i the outward unit normal
    (`outward_normals`), s_i the vertex's arc-length position, and a(s) = sum_k a_k hat_k(s): hat_k is the
    periodic piecewise-linear function of arc length that is 1 at station k and 0 at the other stations
    (`hat_matrix`). The stations are sim.forces.surface_stations(points, stations), the ones the datasets
    store: evenly spaced in arc length from the leading-edge vertex (`vertex_arc_fractions`). So any normal
    displacement given by its values at the stations, interpolated linearly in arc length, changes Cd by
    sum_k a_k dCd/da_k to first order. Units: per unit displacement in D (D = 1); Cd and Cl as in SimResult.
    """
    dp = point_gradients(result)
    normal = np.einsum("oij,ij->oi", dp, outward_normals(result.points))
    return normal @ hat_matrix(result.points, stations)
