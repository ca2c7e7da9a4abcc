"""The full simulation of one case: set-up -> body coefficients -> Newton solve -> forces.

Composes the sim modules; `simulate` is the entry point for a Shape, `run_case` for points in a prepared
Domain.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geometry.arrays import Array, to_numpy
from geometry.shape import Shape
from sim import forces, newton, setups
from sim.body import coefficients
from sim.equations import Equations
from sim.errors import SetupError, SimulationError
from sim.grid import Grid
from sim.newton import NewtonResult
from sim.setups import Domain

PENALTY = 1e6  # lambda in units of U / D (times nu / (U D) when that is larger: Re < 1)
IMMERSED = "cutlink"  # immersed-boundary method, see sim/body.py
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


@dataclass
class SimResult:
    """Coefficients, diagnostics, and the state kept for the adjoint and plots.

    Coefficients are per unit span on the domain's reference velocity U and length D: Cd = Fx / (0.5 U^2 D),
    Cl = Fy / (0.5 U^2 D), with the flow along +x.
    """

    cd: float
    cd_pressure: float
    cd_viscous: float
    cl: float
    cl_pressure: float
    cl_viscous: float
    split_closure: float  # (pressure + viscous stress integrals) / body force, before scaling
    cd_momentum: float  # independent check: control-volume momentum balance
    cl_momentum: float
    re: float
    converged: bool
    steps: int
    factorisations: int
    wall_s: float
    residual: float
    cells: int
    unknowns: int
    resolution: float
    setup: str
    cp: np.ndarray = field(repr=False)
    stations: np.ndarray = field(repr=False)
    # state for the adjoint, field output and plots
    domain: Domain = field(repr=False)
    equations: Equations = field(repr=False)
    q: np.ndarray = field(repr=False)
    c_u: np.ndarray = field(repr=False)  # body coefficients (sim.body)
    c_v: np.ndarray = field(repr=False)
    penalty: float = field(repr=False)
    points: np.ndarray = field(repr=False)
    immersed: str = field(repr=False, default=IMMERSED)
    newton: NewtonResult | None = field(repr=False, default=None)  # its factorisation serves the adjoint
    # how the split was measured: "surface" (this solve's fluid-side stress, scaled to the body force) or
    # "extrapolated" (extrapolate_split; split_solves then describes both solves: resolution, cells, steps,
    # wall_s, cd, cd_pressure as one solve reports it, and the unscaled pressure_integral the extrapolation
    # used; the other fields describe this resolution's solve, except wall_s, the time of both); split_note
    # says why auto did not extrapolate where it meant to
    split: str = "surface"
    split_solves: list[dict[str, float]] = field(default_factory=list)
    split_note: str = ""

    def fields(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """u (nx+1, ny), v (nx, ny+1), p (nx, ny) on the staggered grid."""
        return self.equations.fields(self.q)

    def to_dict(self) -> dict[str, Any]:
        """The coefficients and diagnostics as JSON-ready values (the state for the adjoint is left out)."""
        keys = (
            "cd cd_pressure cd_viscous cl cl_pressure cl_viscous split_closure cd_momentum cl_momentum re "
            "converged steps factorisations wall_s residual cells unknowns resolution setup split "
            "split_solves "
            "split_note"
        ).split()
        out = {k: getattr(self, k) for k in keys}
        out["cp"] = self.cp.tolist()
        out["stations"] = self.stations.tolist()
        return out


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
    re = domain.re
    pts = np.asarray(to_numpy(points), dtype=float)  # numpy throughout: the solve never imports torch
    g = domain.grid
    # Stress scale: the dynamic pressure U^2, or the viscous stress nu U / D when larger (Re < 1). The
    # penalty and the residual tolerance scale with it, so a Stokes flow is held by the body and converges
    # like any other.
    stress = max(1.0, domain.nu / (domain.u_ref * domain.d_ref))
    scale = domain.u_ref**2 * domain.d_ref * stress

    Stage = tuple[Equations, np.ndarray, np.ndarray, float, NewtonResult]

    def stage(re_s: float, q0: np.ndarray | None, steps: int) -> Stage:
        nu_s = domain.nu * re / re_s
        eq = Equations(g, nu_s, domain.inflow, domain.walls)
        lam = penalty * domain.u_ref / domain.d_ref * max(1.0, nu_s / (domain.u_ref * domain.d_ref))
        c_u, c_v = (to_numpy(c) for c in coefficients(pts, g, nu_s, lam, immersed))
        pen = eq.body_vector(c_u, c_v)
        res = newton.solve(
            lambda q: eq.residual(q, pen),
            lambda q: eq.jacobian(q, pen),
            eq.uniform_state() if q0 is None else q0,
            tol=tol * scale,
            max_steps=steps,
            backend=backend,
            progress=progress,
        )
        return eq, c_u, c_v, lam, res

    def continuation(start: float) -> Stage:
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
                eq, c_u, c_v, lam, res = stage(re_s, q0, STAGE_STEPS if re_s != re else max_steps)
            except SimulationError as exc:
                raise SimulationError(_continuation_failure(re, re_s, last_ok, exc)) from None
            q_prev, prev_ok = q, last_ok
            q, steps, facts, last_ok = res.q, steps + res.steps, facts + res.factorisations, re_s
        res.steps, res.factorisations = steps, facts
        return eq, c_u, c_v, lam, res

    warm: Stage | None = None
    if initial is not None:
        try:
            q0 = Equations(g, domain.nu, domain.inflow, domain.walls).state(*initial)
            warm = stage(re, q0, min(max_steps, WARM_STEPS))
        except SimulationError:
            warm = None
    if warm is not None:
        eq, c_u, c_v, lam, res = warm
    elif re > RE_DIRECT:
        eq, c_u, c_v, lam, res = continuation(RE_DIRECT)
    else:
        try:
            eq, c_u, c_v, lam, res = stage(re, None, max_steps)
        except SimulationError as exc:
            if re <= RE_FALLBACK:
                raise SimulationError(
                    f"{exc} at Re {re:g}; this is unexpected below Re {RE_FALLBACK:g}: "
                    "please report the shape"
                ) from None
            eq, c_u, c_v, lam, res = continuation(RE_FALLBACK)
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
        re=float(re),
        converged=res.residuals[-1] <= tol * scale,  # newton.solve raises when it does not converge
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
        immersed=immersed,
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


def split_domain(
    shape: Shape, re: float, resolution: float, box: float, split: str
) -> tuple[Domain, float] | None:
    """(domain, resolution) of the second solve that `simulate`'s split option asks for, or None (cheap: no
    solve).

    The second solve is at SPLIT_RATIO times the resolution, or at 1 / SPLIT_RATIO times where that grid is
    beyond the allowed resolution or cells. "auto" needs none for a body that is not sharp for the grid, nor
    where neither grid is allowed; "extrapolated" then names why it cannot."""
    if split not in setups.SPLITS:
        raise ValueError(f"unknown split {split!r}; allowed: {', '.join(setups.SPLITS)}")
    if split == "surface" or (split == "auto" and not setups.sharp(shape.points, resolution)):
        return None
    refused: list[str] = []
    for other in (setups.SPLIT_RATIO * resolution, resolution / setups.SPLIT_RATIO):
        try:
            return setups.unconfined(re, shape.bounds(), other, box), other
        except SetupError as exc:
            refused.append(f"at resolution {other:g}: {exc}")
    if split == "auto":
        return None
    raise SetupError(
        f"the extrapolated split needs a second solve and neither grid is allowed ({'; '.join(refused)}); "
        "use --split surface"
    )


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


def stress_pressure(result: SimResult) -> tuple[float, float] | None:
    """The pressure integral of the fluid-side wall stress (forces.surface_stress_forces) as coefficients (Cd,
    Cl), not scaled to the body force: the single-solve split times the closure that forces.pressure_part
    divided it by. None where the closure is outside that range (the split is then the outline integral)."""
    lo, hi = forces.CLOSURE_RANGE
    if not lo <= result.split_closure <= hi:
        return None
    return result.cd_pressure * result.split_closure, result.cl_pressure * result.split_closure


def extrapolate_split(result: SimResult, other: SimResult, strict: bool = False) -> SimResult:
    """`result` with its pressure parts replaced by the first-order Richardson extrapolation of the two
    solves' pressure integrals, f + (f - f_coarse) / (ratio - 1) with f the finer solve's, and its viscous
    parts the total minus those; `other` is the same case at another resolution.

    Why: near a corner or a nose of a few cells the wall stress is resolved only to first order, so the
    pressure part converges slowly while the total hardly moves. The integral is taken as it is, not scaled to
    the body force as the single-solve split is: on pointed bodies the stress integrals fall short of the body
    force even on fine grids, and the unscaled pressure integral is the one that agrees with body-fitted
    references, so the shortfall is the viscous part's (docs/validation.md, pressure/viscous split).

    Not extrapolated (result returned with a split_note, or SimulationError if `strict`) where either solve's
    integrals close poorly on its body force (outside pressure_part's range) or the two totals differ by over
    2% (the solves would not be the same flow)."""
    lo, hi = sorted((result, other), key=lambda r: r.resolution)
    part_lo, part_hi = stress_pressure(lo), stress_pressure(hi)
    why = ""
    if part_lo is None or part_hi is None:
        why = "a solve's stress integrals do not close on its body force"
    elif abs(other.cd / result.cd - 1) > 0.02:
        why = (
            f"the totals at resolutions {lo.resolution:g} and {hi.resolution:g} differ by over 2% "
            f"({lo.cd:.4f}, {hi.cd:.4f})"
        )
    if why or part_lo is None or part_hi is None:
        if strict:
            raise SimulationError(f"the split cannot be extrapolated: {why}")
        return dataclasses.replace(result, split_note=f"not extrapolated: {why}; the split is this solve's")
    r = hi.resolution / lo.resolution
    (cdp1, clp1), (cdp2, clp2) = part_lo, part_hi
    cdp = cdp2 + (cdp2 - cdp1) / (r - 1)
    clp = clp2 + (clp2 - clp1) / (r - 1)
    solves = [
        {
            "resolution": x.resolution,
            "cells": x.cells,
            "steps": x.steps,
            "wall_s": x.wall_s,
            "cd": x.cd,
            "cd_pressure": x.cd_pressure,
            "pressure_integral": part[0],
        }
        for x, part in zip((lo, hi), (part_lo, part_hi), strict=True)
    ]
    return dataclasses.replace(
        result,
        cd_pressure=cdp,
        cd_viscous=result.cd - cdp,
        cl_pressure=clp,
        cl_viscous=result.cl - clp,
        wall_s=result.wall_s + other.wall_s,
        split="extrapolated",
        split_solves=solves,
    )


@dataclass
class ChannelResult:
    """The Schaefer-Turek benchmark's solve and its pressure difference dp (benchmark units)."""

    sim: SimResult
    dp: float

    def to_dict(self) -> dict[str, Any]:
        """Cd, Cl and dp beside the FEATFLOW reference values and their errors, and the solve's
        diagnostics."""
        st = setups.SCHAEFER_TUREK
        ref = setups.SCHAEFER_TUREK_REFERENCE
        out: dict[str, Any] = {"cd": self.sim.cd, "cl": self.sim.cl, "dp": self.dp, **ref}
        out["cd_rel_err"] = (self.sim.cd - ref["cd_ref"]) / ref["cd_ref"]
        out["cl_abs_err"] = abs(self.sim.cl - ref["cl_ref"])
        out["dp_rel_err"] = (self.dp - ref["dp_ref"]) / ref["dp_ref"]
        out.update(
            cd_pressure=self.sim.cd_pressure,
            cd_viscous=self.sim.cd_viscous,
            cd_momentum=self.sim.cd_momentum,
            resolution=self.sim.resolution,
            cells=self.sim.cells,
            unknowns=self.sim.unknowns,
            steps=self.sim.steps,
            wall_s=self.sim.wall_s,
            re=self.sim.re,
            diameter=st["diameter"],
        )
        return out


def schaefer_turek(resolution: float = setups.DEFAULT_RESOLUTION, **options: Any) -> ChannelResult:
    """The DFG 2D-1 benchmark: cylinder D = 0.1 at (0.2, 0.2) in the 2.2 x 0.41 channel, Re = 20."""
    from geometry.presets import circle_points

    st = setups.SCHAEFER_TUREK
    d, u_mean = st["diameter"], 2.0 / 3.0 * st["u_max"]
    domain = setups.channel(resolution)
    centre = np.array(st["centre"]) / d
    sim = run_case(circle_points(512) + centre, domain, resolution, **options)  # Re 20: the domain's
    _, _, p = sim.fields()
    front_back = np.stack([centre - [0.5, 0.0], centre + [0.5, 0.0]])
    pf, pb = forces.interp2(p, domain.grid.xc, domain.grid.yc, front_back).tolist()
    return ChannelResult(sim, (pf - pb) * u_mean**2)


def _continuation_failure(re: float, re_s: float, last_ok: float | None, exc: Exception) -> str:
    """Advice that works: the highest Re that did converge on the way (or none)."""
    if last_ok is None:
        return f"{exc} at Re {re_s:g}, the start of the continuation to Re {re:g}"
    return (
        f"no steady solution at Re {re:g}: continuation from Re {last_ok:g} (converged) to Re {re_s:g} "
        f"failed ({exc}). The steady flow around this body may not exist beyond about Re {last_ok:g} "
        f"(bluff bodies shed vortices above Re 40-50); simulate at Re {last_ok:g} or below"
    )
