"""Newton's method for R(q) = 0 with the exact Jacobian, a sparse direct solver and a backtracking line search.

Divergence is detected and reported with the step and the cause (NaN, growth, no convergence), never as a NaN drag.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sim.errors import SimulationError
from sim.linsolve import make_solver


def _accurate_solve(solver, J, b, rtol: float = 1e-8):
    """Solve J x = b, refining iteratively; if the factorisation stays inaccurate (PARDISO's pivot perturbation
    on a badly scaled matrix), fall back to SuperLU for this and the following steps."""
    x = solver.solve(b)
    scale = float(np.max(np.abs(b))) or 1.0
    for _ in range(3):
        res = b - J @ x
        if np.all(np.isfinite(res)) and float(np.max(np.abs(res))) <= rtol * scale:
            return x, solver
        x = x + solver.solve(res)
    res = b - J @ x
    if np.all(np.isfinite(res)) and float(np.max(np.abs(res))) <= rtol * scale:
        return x, solver
    fallback = make_solver("splu")
    fallback.factor(J)
    return fallback.solve(b), fallback


@dataclass
class NewtonResult:
    q: np.ndarray
    steps: int
    residuals: list[float]
    solver: object = field(repr=False)  # holds the factorisation of the last Jacobian (for the adjoint)
    wall_s: float = 0.0


def solve(
    residual: Callable[[np.ndarray], np.ndarray],
    jacobian: Callable[[np.ndarray], object],
    q0: np.ndarray,
    tol: float = 1e-9,
    max_steps: int = 25,
    backend: str = "auto",
    progress: Callable[[int, float], None] | None = None,
) -> NewtonResult:
    """Iterate until max|R| <= tol. The returned solver holds a factorisation of J at the final state."""
    t0 = time.perf_counter()
    solver = make_solver(backend)
    q = q0.copy()
    r = residual(q)
    norm = float(np.max(np.abs(r)))
    history = [norm]
    first = norm
    for step in range(1, max_steps + 1):
        if not np.isfinite(norm):
            raise SimulationError(
                f"diverged at Newton step {step - 1}: the residual is not finite (NaN or inf)"
            )
        J = jacobian(q)
        solver.factor(J)
        if norm <= tol:  # converged; the factorisation at q is kept for the adjoint
            return NewtonResult(q, step - 1, history, solver, time.perf_counter() - t0)
        dq, solver = _accurate_solve(solver, J, -r)
        if not np.all(np.isfinite(dq)):
            raise SimulationError(
                f"diverged at Newton step {step}: the linear solve gave NaN (singular Jacobian)"
            )
        alpha = 1.0
        for _ in range(8):  # backtracking on max|R|
            q_new = q + alpha * dq
            r_new = residual(q_new)
            n_new = float(np.max(np.abs(r_new)))
            if np.isfinite(n_new) and (n_new < norm or n_new <= tol):
                break
            alpha *= 0.5
        q, r, norm = q_new, r_new, n_new
        history.append(norm)
        if progress is not None:
            progress(step, norm)
        if norm > 1e6 * max(first, 1.0):
            raise SimulationError(f"diverged at Newton step {step}: the residual grew to {norm:.3g}")
    raise SimulationError(
        f"no convergence after {max_steps} Newton steps: residual {norm:.3g} > tolerance {tol:.1g} "
        "(try a lower Reynolds number or a finer resolution)"
    )
