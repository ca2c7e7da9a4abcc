"""Newton's method for R(q) = 0 with the exact Jacobian, a sparse direct solver and a backtracking line
search.

Chord steps: once Newton is in its asymptotic range (a step cut the residual tenfold), the next step reuses
the last factorisation (one cheap solve instead of a factorisation); a chord step that does not cut the
residual tenfold sends the next step back to a fresh factorisation. The factorisation kept at the end serves
the adjoint: transposed solves are refined against the exact Jacobian at the converged state, so the adjoint
stays exact.

Divergence is detected and reported with the step and the cause (NaN, growth, no convergence), never as a NaN
drag.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from sim.errors import SimulationError
from sim.linsolve import Factorisation, make_solver


def refined_solve(
    solver: Factorisation,
    A: sp.csr_matrix,
    b: np.ndarray,
    transpose: bool = False,
    rtol: float = 1e-10,
    max_iter: int = 8,
) -> tuple[np.ndarray, bool]:
    """Solve A x = b (or A^T x = b) with a factorisation of A or of a nearby matrix, by iterative refinement.

    Returns (x, converged): converged when max|b - A x| <= rtol max|b| within max_iter refinements."""
    op = A.T if transpose else A
    x = solver.solve(b, transpose=transpose)
    scale = float(np.max(np.abs(b))) or 1.0
    for _ in range(max_iter):
        res = b - op @ x
        if not np.all(np.isfinite(res)):
            return x, False
        if float(np.max(np.abs(res))) <= rtol * scale:
            return x, True
        x = x + solver.solve(res, transpose=transpose)
    res = b - op @ x
    return x, bool(np.all(np.isfinite(res)) and float(np.max(np.abs(res))) <= rtol * scale)


@dataclass
class NewtonResult:
    """The converged state, the convergence history, and what the adjoint needs: the Jacobian and a
    factorisation of it near the state."""

    q: np.ndarray
    steps: int  # Newton iterations (exact and chord)
    factorisations: int
    residuals: list[float]
    solver: Factorisation = field(repr=False)  # a factorisation of the Jacobian near q
    jacobian: Callable[[np.ndarray], sp.csr_matrix] = field(repr=False)
    wall_s: float = 0.0

    def solve_transposed(self, b: np.ndarray) -> np.ndarray:
        """J(q)^T x = b at the converged state (for the adjoint), exact to round-off."""
        J = self.jacobian(self.q)
        if self.factorisations == 0:  # converged from the start: nothing was factorised yet
            self.solver.factor(J)
            self.factorisations = 1
        x, ok = refined_solve(self.solver, J, b, transpose=True)
        if not ok:  # the kept factorisation is too far from J(q): factorise J(q) itself
            self.solver.factor(J)
            x, ok = refined_solve(self.solver, J, b, transpose=True)
            if not ok:
                raise SimulationError("the adjoint solve did not converge (ill-conditioned Jacobian)")
        return x


def solve(
    residual: Callable[[np.ndarray], np.ndarray],
    jacobian: Callable[[np.ndarray], sp.csr_matrix],
    q0: np.ndarray,
    tol: float = 1e-9,
    max_steps: int = 25,
    backend: str = "auto",
    chord: bool = True,
    progress: Callable[[int, float], None] | None = None,
) -> NewtonResult:
    """Iterate from q0 until max|R| <= tol; SimulationError names the step and the cause when it diverges or
    has not converged after max_steps.

    Args:
        residual, jacobian: R(q) and its exact Jacobian dR/dq (a sparse matrix of a fixed pattern).
        q0: the start.
        tol: on max|R|.
        max_steps: Newton steps allowed (exact and chord together).
        backend: the sparse solver (sim.linsolve.make_solver).
        chord: reuse the last factorisation once Newton is in its asymptotic range.
        progress: called with (step, max|R|) after every step.
    """
    t0 = time.perf_counter()
    solver = make_solver(backend)
    q = q0.copy()
    r = residual(q)
    norm = float(np.max(np.abs(r)))
    history = [norm]
    first = norm
    factorisations = 0
    use_chord = False
    for step in range(1, max_steps + 2):  # the last pass only checks the residual of step max_steps
        if not np.isfinite(norm):
            raise SimulationError(
                f"diverged at Newton step {step - 1}: the residual is not finite (NaN or inf)"
            )
        if norm <= tol:
            return NewtonResult(
                q, step - 1, factorisations, history, solver, jacobian, time.perf_counter() - t0
            )
        if use_chord:
            dq = solver.solve(-r)
        else:
            J = jacobian(q)
            solver.factor(J)
            factorisations += 1
            dq, ok = refined_solve(solver, J, -r, rtol=1e-8, max_iter=3)
            if not ok:  # PARDISO's perturbed pivots on a badly scaled matrix: SuperLU from here on
                solver = make_solver("splu")
                solver.factor(J)
                dq = solver.solve(-r)
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
        use_chord = chord and alpha == 1.0 and n_new <= 0.1 * norm and n_new < 1e-3 * first
        q, r, norm = q_new, r_new, n_new
        history.append(norm)
        if progress is not None:
            progress(step, norm)
        if norm > 1e6 * max(first, 1.0):
            raise SimulationError(f"diverged at Newton step {step}: the residual grew to {norm:.3g}")
    raise SimulationError(
        f"no convergence after {max_steps} Newton steps: residual {norm:.3g} > tolerance {tol:.1g}"
    )
