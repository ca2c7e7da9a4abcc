"""The full simulation of one case: set-up -> body coefficients -> Newton solve -> forces.

Composes the sim modules; `simulate` is the entry point for a Shape, `run_case` for points in a prepared
Domain. The result type is sim.result's, the extrapolated split sim.split's, the channel benchmark
sim.channel's.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from geometry.arrays import Array, to_numpy
from geometry.shape import Shape
from sim import forces, newton, setups
from sim.body import coefficients
from sim.equations import Equations
from sim.errors import SimulationError
from sim.grid import Grid
from sim.newton import NewtonResult
from sim.result import IMMERSED, SimResult
from sim.setups import Domain
from sim.split import extrapolate_split, split_domain

PENALTY = 1e6  # lambda in units of U / D (times nu / (U D) when that is larger: Re < 1)
STATIONS = 64  # surface Cp stations
# how cd_pressure / cd_viscous are measured (forces.pressure_part)
SPLIT = "fluid-side stress, scaled to the body force"
# Newton from uniform flow is reliable up to RE_DIRECT (docs/validation.md, measurements behind the code).
# Above it the solve is a continuation in Re: converged at RE_DIRECT from uniform flow, then at Re values
# growing by at most CONTINUATION_RATIO, each from the previous state. A direct solve that fails above
# RE_FALLBACK is retried the same way from RE_FALLBACK.
RE_DIRECT = 40.0
RE_FALLBACK = 10.0
CONTINUATION_RATIO = 1.5
STAGE_STEPS = 15  # Newton steps allowed per continuation stage
WARM_STEPS = 8  # Newton steps from a given start (run_case's initial) before the usual start is tried


def continuation_ladder(re: float, start: float, ratio: float = CONTINUATION_RATIO) -> list[float]:
    """Reynolds numbers from `start` to `re`, each at most `ratio` times the one before (geometric)."""
    if re <= start:
        return [float(re)]
    n = math.ceil(math.log(re / start) / math.log(ratio) - 1e-9)
    return [start * (re / start) ** (i / n) for i in range(n)] + [float(re)]


def run_case(
    points: Array,
    domain: Domain,
    resolution: float,
    *,
    penalty: float = PENALTY,
    immersed: str = IMMERSED,
    backend: str = "auto",
    tol: float = 1e-9,
    max_steps: int = 25,
    progress: Callable[[int, float], None] | None = None,
    initial: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> SimResult:
    """Solve the steady flow around the polygon `points` in `domain`, at the domain's Reynolds number.

    The Reynolds number is the domain's own (`domain.re`, from which its viscosity follows), so the solve
    cannot disagree with the domain it runs in; a case at another Re needs its own domain
    (`setups.unconfined(re, ...)`). Above RE_DIRECT the solution is reached by continuation in Re
    (`continuation_ladder`); the converged state is the same steady solution, to Newton's tolerance.

    Args:
        points: the outline (n, 2), counter-clockwise, in domain units (numpy, or a tensor: its values
            are used).
        domain: grid, Re, inflow and walls (sim.setups).
        resolution: cells per D next to the body, the grid's; recorded in the result.
        penalty, immersed: the immersed-boundary model (sim.body).
        backend, tol, max_steps, progress: for the Newton solve (sim.newton.solve); tol is relative to
            the stress scale.
        initial: u, v, p on this grid to start Newton from (e.g. a coarser solution of the same case,
            `interpolated_fields`); if that fails, the usual start is used.

    Returns:
        The SimResult, with the converged state and its factorisation for the adjoint.
    """
    t0 = time.perf_counter()
    pts = np.asarray(to_numpy(points), dtype=float)  # numpy throughout: the solve never imports torch
    case = _Case(pts, domain, penalty, immersed, backend, tol * _stress_scale(domain), progress)
    stage = _converge(case, max_steps, initial)
    return _result(case, stage, resolution, t0)


def _stress_scale(domain: Domain) -> float:
    """The force scale residuals are measured in: the dynamic pressure U^2, or the viscous stress nu U / D
    when larger (Re < 1), times D. The penalty and the residual tolerance scale with it, so a Stokes flow is
    held by the body and converges like any other."""
    stress = max(1.0, domain.nu / (domain.u_ref * domain.d_ref))
    return domain.u_ref**2 * domain.d_ref * stress


class _Stage(NamedTuple):
    """One converged Newton solve at some Re: its equations, body coefficients, penalty and Newton result."""

    eq: Equations
    c_u: np.ndarray
    c_v: np.ndarray
    lam: float
    res: NewtonResult


@dataclass(frozen=True)
class _Case:
    """What stays fixed across the Newton solves of one run_case: the body, its domain, the immersed-boundary
    model and Newton's settings (tol absolute, in the stress scale)."""

    pts: np.ndarray
    domain: Domain
    penalty: float
    immersed: str
    backend: str
    tol: float
    progress: Callable[[int, float], None] | None

    def stage(self, re_s: float, q0: np.ndarray | None, steps: int) -> _Stage:
        """Newton's solve at Reynolds number re_s (the domain's viscosity rescaled), from q0 or uniform
        flow."""
        domain, g = self.domain, self.domain.grid
        nu_s = domain.nu * domain.re / re_s
        eq = Equations(g, nu_s, domain.inflow, domain.walls)
        lam = self.penalty * domain.u_ref / domain.d_ref * max(1.0, nu_s / (domain.u_ref * domain.d_ref))
        c_u, c_v = (to_numpy(c) for c in coefficients(self.pts, g, nu_s, lam, self.immersed))
        pen = eq.body_vector(c_u, c_v)
        res = newton.solve(
            lambda q: eq.residual(q, pen),
            lambda q: eq.jacobian(q, pen),
            eq.uniform_state() if q0 is None else q0,
            tol=self.tol,
            max_steps=steps,
            backend=self.backend,
            progress=self.progress,
        )
        return _Stage(eq, c_u, c_v, lam, res)


def _converge(
    case: _Case, max_steps: int, initial: tuple[np.ndarray, np.ndarray, np.ndarray] | None
) -> _Stage:
    """The solve at the domain's Re: from `initial` where that converges within WARM_STEPS; else from uniform
    flow, directly up to RE_DIRECT and by continuation above it, or from RE_FALLBACK where the direct solve
    fails."""
    re = case.domain.re
    warm = None if initial is None else _warm_start(case, max_steps, initial)
    if warm is not None:
        return warm
    if re > RE_DIRECT:
        return _continuation(case, max_steps, RE_DIRECT)
    try:
        return case.stage(re, None, max_steps)
    except SimulationError as exc:
        if re <= RE_FALLBACK:
            raise SimulationError(
                f"{exc} at Re {re:g}; this is unexpected below Re {RE_FALLBACK:g}: please report the shape"
            ) from None
        return _continuation(case, max_steps, RE_FALLBACK)


def _warm_start(
    case: _Case, max_steps: int, initial: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> _Stage | None:
    """The solve from the given u, v, p, or None where it does not converge within WARM_STEPS."""
    d = case.domain
    try:
        q0 = Equations(d.grid, d.nu, d.inflow, d.walls).state(*initial)
        return case.stage(d.re, q0, min(max_steps, WARM_STEPS))
    except SimulationError:
        return None


def _continuation(case: _Case, max_steps: int, start: float) -> _Stage:
    """The solve reached along continuation_ladder from `start`, each stage from a secant prediction of the
    last two converged states; the steps and factorisations counted are those of all stages."""
    re = case.domain.re
    q: np.ndarray | None = None
    q_prev: np.ndarray | None = None
    last_ok: float | None = None
    prev_ok: float | None = None
    steps, facts = 0, 0
    for re_s in continuation_ladder(re, start):
        q0 = q
        if q is not None and q_prev is not None and last_ok is not None and prev_ok is not None:
            # secant predictor in log Re from the last two converged states
            q0 = q + (q - q_prev) * (math.log(re_s / last_ok) / math.log(last_ok / prev_ok))
        try:
            stage = case.stage(re_s, q0, STAGE_STEPS if re_s != re else max_steps)
        except SimulationError as exc:
            raise SimulationError(_continuation_failure(re, re_s, last_ok, exc)) from None
        q_prev, prev_ok = q, last_ok
        q, steps, facts, last_ok = (
            stage.res.q,
            steps + stage.res.steps,
            facts + stage.res.factorisations,
            re_s,
        )
    stage.res.steps, stage.res.factorisations = steps, facts
    return stage


def _continuation_failure(re: float, re_s: float, last_ok: float | None, exc: Exception) -> str:
    """Advice that works: the highest Re that did converge on the way (or none)."""
    if last_ok is None:
        return f"{exc} at Re {re_s:g}, the start of the continuation to Re {re:g}"
    return (
        f"no steady solution at Re {re:g}: continuation from Re {last_ok:g} (converged) to Re {re_s:g} "
        f"failed ({exc}). The steady flow around this body may not exist beyond about Re {last_ok:g} "
        f"(bluff bodies shed vortices above Re 40-50); simulate at Re {last_ok:g} or below"
    )


def _result(case: _Case, stage: _Stage, resolution: float, t0: float) -> SimResult:
    """The forces, their split, the momentum check and Cp of a converged solve, as a SimResult."""
    domain, pts, g = case.domain, case.pts, case.domain.grid
    eq, c_u, c_v, lam, res = stage
    u, v, p = eq.fields(res.q)
    k = domain.force_scale
    fx, fy = (float(f) for f in forces.body_force(u, v, c_u, c_v))
    xmin, ymin = pts.min(0).tolist()
    xmax, ymax = pts.max(0).tolist()
    m = 0.5 * domain.d_ref
    box = (xmin - m, ymin - m, xmax + m, ymax + m)
    mx, my = (float(f) for f in forces.momentum_balance(u, v, p, g, domain.nu, box))
    stations, cp = forces.surface_cp(p, pts, g, STATIONS, domain.u_ref)
    # the split: fluid-side stress integrals scaled to the body force
    px, py, closure = forces.pressure_part(u, v, p, pts, g, domain.nu, fx, fy)
    return SimResult(
        cd=k * fx,
        cd_pressure=k * px,
        cd_viscous=k * (fx - px),
        cl=k * fy,
        cl_pressure=k * py,
        cl_viscous=k * (fy - py),
        split_closure=closure,
        cd_momentum=k * mx,
        cl_momentum=k * my,
        re=float(domain.re),
        converged=res.residuals[-1] <= case.tol,  # newton.solve raises when it does not converge
        steps=res.steps,
        factorisations=res.factorisations,
        wall_s=time.perf_counter() - t0,
        residual=res.residuals[-1],
        cells=g.cells,
        unknowns=eq.n,
        resolution=float(resolution),
        setup=domain.name,
        cp=cp,
        stations=stations,
        domain=domain,
        equations=eq,
        q=res.q,
        c_u=c_u,
        c_v=c_v,
        penalty=lam,
        immersed=case.immersed,
        points=pts,
        newton=res,
    )


def simulate(
    shape: Shape,
    re: float,
    resolution: float = setups.DEFAULT_RESOLUTION,
    box: float = setups.DEFAULT_BOX,
    split: str = "surface",
    **options: Any,
) -> SimResult:
    """Steady flow around a normalised shape (D = 1) in the default unconfined domain at Reynolds number re.

    Args:
        shape: the body, D = 1.
        re: Reynolds number U D / nu.
        resolution: cells per D next to the body.
        box: half-width of the square domain, in D.
        split: how the pressure/viscous split is measured. "surface": on this solve (forces.pressure_part).
            "extrapolated": also solve at setups.SPLIT_RATIO times the resolution (or, where that grid is not
            allowed, at 1 / SPLIT_RATIO times) and extrapolate the pressure part (extrapolate_split), for
            bodies whose split converges slowly. "auto": extrapolate only where the outline turns sharply
            within a cell (setups.sharp: a corner, or a nose of radius under about two cells), and keep this
            solve's split, with a split_note, if the second solve cannot be made or fails.
        **options: keyword options of run_case.

    Returns:
        The result at this resolution: the total Cd and Cl are always this solve's.
    """
    domain = setups.unconfined(re, shape.bounds(), resolution, box)
    second = split_domain(shape, re, resolution, box, split)
    result = run_case(shape.points, domain, resolution, **options)
    if second is None:
        return result
    other_domain, other = second
    try:
        start = interpolated_fields(result, other_domain.grid)
        other_result = run_case(shape.points, other_domain, other, initial=start, **options)
    except (SimulationError, MemoryError) as exc:
        why = f"the second solve of the extrapolated split, at resolution {other:g}, failed: {exc}"
        if split == "extrapolated":
            raise SimulationError(why) from None
        return dataclasses.replace(result, split_note=f"{why}; the split is this solve's")
    return extrapolate_split(result, other_result, strict=split == "extrapolated")


def interpolated_fields(result: SimResult, grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The result's u, v, p interpolated bilinearly onto the nodes of another grid over the same domain: a
    start for a finer solve of the same case."""
    g = result.domain.grid
    u, v, p = result.fields()

    def onto(
        values: np.ndarray, xs: np.ndarray, ys: np.ndarray, to_x: np.ndarray, to_y: np.ndarray
    ) -> np.ndarray:
        X, Y = np.meshgrid(to_x, to_y, indexing="ij")
        pts = np.stack([X.ravel(), Y.ravel()], 1)
        return forces.interp2(values, xs, ys, pts).reshape(X.shape)

    return (
        onto(u, g.xf, g.yc, grid.xf, grid.yc),
        onto(v, g.xc, g.yf, grid.xc, grid.yf),
        onto(p, g.xc, g.yc, grid.xc, grid.yc),
    )
