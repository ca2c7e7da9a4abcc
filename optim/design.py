"""One design run as the CLI and the app ask for it: fit the start shape, optimise it (through the surrogate,
the full simulation, or a trust region of both), optionally verify it with the simulation, and hand back a
`DesignRun`. The caller loads the surrogate (`load_surrogate`) and renders the result.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geometry import properties
from geometry.shape import Shape
from optim import constraints as C
from optim import parametrise
from optim.backends import SimulationBackend, SurrogateBackend
from optim.incidence import Inclined, check_lift_reachable
from optim.optimise import OPTIMISERS, RTOL, AnyParam, Design, Result, StepCallback, optimise
from optim.parametrise import Parametrisation
from optim.plots import Snapshot
from optim.problem import Problem
from optim.trust import trust_region

BACKENDS = ("surrogate", "simulation")
PARAMETRISATIONS = (*parametrise.KINDS, "rigid")  # rigid: the start section itself, only its incidence free
INCIDENCE = ("fixed", "free")
NEEDS_SURROGATE = "this optimisation needs a surrogate model: load one (optim.design.load_surrogate)"
FIT_NOTE = 0.02  # D: a fit further than this from the start shape is reported (sharp corners are rounded)


@dataclass
class Options:
    """What to optimise and how. Lengths are in the start shape's D; `check` names the first bad option."""

    re: list[float]
    backend: str = "surrogate"
    optimiser: str = "slsqp"
    parametrisation: str = "bspline"
    variables: int | None = None  # control points (B-spline) or modes (Fourier)
    steps: int = 60  # optimiser iterations at most; with trust_region, full simulations
    rtol: float = RTOL  # the stopping rule (optim.optimise.settled); 0: every step the optimiser takes
    lr: float | None = None
    lift_weight: float = 0.0
    limits: C.Limits = field(default_factory=C.Limits)
    objective: str = "drag"  # drag | lift-to-drag (optim.problem)
    cl: float | None = None  # the mean lift coefficient held at this value
    min_cl: float | None = None  # ... or at least this
    incidence: str = "fixed"  # fixed | free: the incidence as a design variable (optim.incidence)
    re_weights: list[float] | None = None  # the mean's weights over re
    worst_case: bool = False  # minimise the largest over re instead
    trust_region: bool = False
    verify: bool = False
    resolution: float | None = None  # of the full simulation

    def check(self) -> None:
        """Raise ValueError when an option cannot be used (each Re as the solver would judge it)."""
        from sim.setups import check_reynolds_numbers

        check_reynolds_numbers(self.re)
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; allowed: {', '.join(BACKENDS)}")
        if self.optimiser not in OPTIMISERS:
            raise ValueError(f"unknown optimiser {self.optimiser!r}; allowed: {', '.join(OPTIMISERS)}")
        if self.trust_region and self.backend != "surrogate":
            raise ValueError("--trust-region manages the surrogate's steps; it needs --backend surrogate")
        if not (self.lift_weight >= 0 and math.isfinite(self.lift_weight)):
            raise ValueError(f"the lift weight must be a number >= 0; got {self.lift_weight}")
        if not (0 <= self.rtol < 1):
            raise ValueError(f"the stopping tolerance must be >= 0 and < 1; got {self.rtol}")
        if self.parametrisation not in PARAMETRISATIONS:
            raise ValueError(
                f"unknown parametrisation {self.parametrisation!r}; allowed: {', '.join(PARAMETRISATIONS)}"
            )
        if self.incidence not in INCIDENCE:
            raise ValueError(f"unknown incidence {self.incidence!r}; allowed: {', '.join(INCIDENCE)}")
        problem = self.problem(self.limits)
        problem.check()
        if self.optimiser == "adam" and (self.cl is not None or self.min_cl is not None or self.worst_case):
            raise ValueError("the lift limits and the worst case over Re need the slsqp optimiser")
        if self.trust_region and (problem.lifting or self.worst_case or self.inclined):
            raise ValueError(
                "--trust-region optimises the drag of the shape alone; lift, incidence and the worst case "
                "over Re need the surrogate or the simulation backend"
            )
        if problem.lifting and self.limits.symmetric and not self.inclined:
            raise ValueError(
                "a section symmetric about the flow axis has no lift at a fixed zero incidence: free the "
                "incidence (--incidence free) or drop --symmetric"
            )

    @property
    def inclined(self) -> bool:
        """Whether the incidence is a design variable (free, or the only one: rigid)."""
        return self.incidence == "free" or self.parametrisation == "rigid"

    def problem(self, limits: C.Limits) -> Problem:
        """The optimisation problem these options pose, under `limits`."""
        return Problem(
            list(self.re),
            limits,
            self.lift_weight,
            self.objective,
            self.re_weights,
            self.worst_case,
            self.cl,
            self.min_cl,
        )

    @property
    def needs_surrogate(self) -> bool:
        """Whether the optimisation itself drives the surrogate (it must then be loaded)."""
        return self.backend == "surrogate" or self.trust_region


@dataclass
class DesignRun:
    """A finished design run: the optimiser's result, the outlines it passed through, and what result.json
    holds.

    Points are in the start shape's D, centred; `start` maps them back to the user's units.
    """

    result: Result
    snapshots: list[Snapshot]  # every accepted step's outline, the final design last
    options: Options
    limits: C.Limits  # as used: with the surrogate's window
    parametrisation: AnyParam
    wall_s: float  # the optimisation's own time
    start: Shape
    predicted: tuple[float | None, float | None] | None = (
        None  # surrogate Cd (initial, final); None: no model
    )
    ood: dict | None = None  # the final design's out-of-distribution report (with a surrogate)
    simulated: tuple[float, float] | None = None  # full-simulation Cd (initial, final), when simulated
    pred_final: dict | None = (
        None  # the final design's surrogate Cd and Cl at each Re: {"cd": [...], "cl": [...]}
    )
    sim_final: dict | None = None  # the same by the full simulation, when simulated

    @property
    def backend(self) -> str:
        """Where the drag came from: surrogate, simulation or trust-region."""
        return "trust-region" if self.options.trust_region else self.options.backend

    @property
    def optimiser(self) -> str:
        return "adam (trust region)" if self.options.trust_region else self.options.optimiser

    def to_dict(self) -> dict[str, Any]:
        """result.json's content (app.common.jsonable makes it JSON)."""
        res, param = self.result, self.parametrisation
        out: dict[str, Any] = {
            "backend": self.backend,
            "optimiser": self.optimiser,
            "re": list(self.options.re),
            "status": res.status,
            "message": res.message,
            "limits": self.limits.to_dict(),
            "parametrisation": {
                "kind": param.kind,
                "variables": param.size,
                "symmetric": param.symmetric,
                "fit_error": param.fit_error,
            },
            "active_constraints": res.active,
            "history": res.history,
            "evaluations": res.evaluations,
            "wall_s": self.wall_s,
        }
        if self.predicted is not None:
            out["cd_pred_initial"], out["cd_pred_final"] = self.predicted
            out["ood"] = self.ood
        if self.simulated is not None:
            out["cd_sim_initial"], out["cd_sim_final"] = self.simulated
        w = self.options.problem(self.limits).weights
        out["objective"] = self.options.objective
        out["re_weights"], out["worst_case"] = w.tolist(), self.options.worst_case
        for tag, f in (("pred", self.pred_final), ("sim", self.sim_final)):
            if f is not None:
                out[f"cl_{tag}_final"] = float(np.dot(w, f["cl"]))
                out[f"cd_{tag}_per_re"], out[f"cl_{tag}_per_re"] = f["cd"], f["cl"]
        final = res.final.points
        out["cl_final"] = res.final.cl
        out["incidence_final"] = res.final.incidence
        out["area_final"] = float(properties.area(torch.as_tensor(final)))
        out["thickness_final"] = float(properties.thickness(torch.as_tensor(final)))
        out["length_final"] = float(np.ptp(final[:, 0]))
        out["user_scale"], out["user_offset"] = self.start.scale, self.start.offset.tolist()
        return out


def default_model() -> Path:
    """The shipped surrogate's folder."""
    from surrogate.paths import DEFAULT_MODEL

    return DEFAULT_MODEL


def load_surrogate(model: str | Path | None) -> SurrogateBackend:
    """The surrogate (or ensemble) in folder `model` (default: the shipped one), ready for `run`."""
    return SurrogateBackend.load(model or default_model())


def prepare(shape: Shape, opts: Options, surrogate: SurrogateBackend | None) -> tuple[AnyParam, C.Limits]:
    """Check that the problem can be solved, before any work.

    Returns:
        The parametrisation fitted to `shape`, and the limits with the surrogate's window (surrogate backend).
    Raises:
        ValueError (C.InfeasibleError among them) naming the problem and what would resolve it.
    """
    opts.check()
    if surrogate is None and opts.needs_surrogate:
        raise ValueError(NEEDS_SURROGATE)
    limits = C.Limits(**opts.limits.to_dict())
    limits.keep_area = limits.keep_area or opts.parametrisation == "rigid"  # a rigid section keeps its own
    if opts.backend == "surrogate" and surrogate is not None:
        limits.window = surrogate.window_reach
        reach = float(np.abs(shape.points).max())
        if reach > limits.window:
            raise ValueError(
                f"the start shape reaches {reach:.2f} D from its centroid, beyond the surrogate's window "
                f"({limits.window:.2f} D): the surrogate cannot judge it; use --backend simulation, or start "
                "from a shorter body (e.g. ellipse:3)"
            )
    if limits.max_ood is not None:
        limits.coverage = surrogate.coverage if surrogate else None
        if limits.coverage is None:
            raise ValueError(
                "--max-ood needs a model with its training shapes (coverage.npz); this one has none"
            )
    C.check(limits)
    param: AnyParam
    if opts.parametrisation == "rigid":
        param = Inclined(None, torch.as_tensor(shape.points))
    else:
        param = parametrise.make(opts.parametrisation, shape.points, opts.variables, limits.symmetric)
        if opts.incidence == "free":
            param = Inclined(param)
    backend = surrogate if opts.backend == "surrogate" else SimulationBackend(opts.resolution)
    if backend is not None:
        check_lift_reachable(param, opts.problem(limits), backend)
    return param, limits


def run(
    shape: Shape,
    opts: Options,
    surrogate: SurrogateBackend | None,
    callback: StepCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    log: Callable[[str], None] | None = None,
) -> DesignRun:
    """Optimise `shape` as `opts` says.

    Args:
        surrogate: the loaded surrogate (`load_surrogate`); None only for the simulation backend, which then
            has no predicted drag or out-of-distribution report.
        callback: called with each step's record and design (progress, live plots).
        should_stop: polled between evaluations; True ends the run with the best design so far.
        log: receives notes for the user (a poor fit, the verification starting).
    """
    say = log or (lambda msg: None)
    param, limits = prepare(shape, opts, surrogate)
    if param.fit_error > FIT_NOTE:
        say(
            f"note: the {opts.parametrisation} fit differs from the start shape by up to "
            f"{param.fit_error:.3f} D (sharp corners are rounded); the optimisation starts from the fit"
        )
    snapshots: list[Snapshot] = []

    def each(rec: dict, design: Design) -> None:
        if rec.get("accepted", True):
            snapshots.append((rec["step"], design.points))
        if callback:
            callback(rec, design)

    t0 = time.perf_counter()
    res = _optimise(param, opts, limits, surrogate, each, should_stop)
    done = DesignRun(res, snapshots, opts, limits, param, time.perf_counter() - t0, shape)
    w = opts.problem(limits).weights
    if surrogate is not None:
        first, last = (_predicted(surrogate, d.points, opts.re) for d in (res.initial, res.final))
        done.predicted = tuple(float(np.dot(w, f["cd"])) if f else None for f in (first, last))  # type: ignore[assignment]
        done.pred_final = last
        done.ood = _ood(surrogate, res.final.points, opts.re)
    if opts.backend == "simulation" or opts.trust_region:
        done.simulated = (res.initial.cd, res.final.cd)
        if not opts.trust_region:
            done.sim_final = {"cd": res.final.cds, "cl": res.final.cls}
    elif opts.verify:
        say("verifying the initial and the final design with the full simulation")
        first, last = (simulated_forces(d.points, opts.re, opts.resolution) for d in (res.initial, res.final))
        done.simulated = (float(np.dot(w, first["cd"])), float(np.dot(w, last["cd"])))
        done.sim_final = last
    if not snapshots or snapshots[-1][1] is not res.final.points:
        snapshots.append((res.history[-1]["step"] if res.history else 0, res.final.points))
    return done


def _optimise(
    param: AnyParam,
    opts: Options,
    limits: C.Limits,
    surrogate: SurrogateBackend | None,
    each: StepCallback,
    should_stop: Callable[[], bool] | None,
) -> Result:
    """The optimiser `opts` names, on the backend it names."""
    problem = opts.problem(limits)
    sim = SimulationBackend(opts.resolution)
    if opts.backend == "simulation":
        return optimise(
            param, sim, problem, opts.optimiser, opts.steps, opts.lr, each, should_stop, rtol=opts.rtol
        )
    if surrogate is None:
        raise ValueError(NEEDS_SURROGATE)
    if opts.trust_region:
        assert isinstance(param, Parametrisation)  # Options.check: the incidence is fixed there
        return trust_region(
            param, surrogate, sim, problem, opts.steps, callback=each, should_stop=should_stop
        )
    return optimise(
        param, surrogate, problem, opts.optimiser, opts.steps, opts.lr, each, should_stop, rtol=opts.rtol
    )


def _predicted(surrogate: SurrogateBackend, points: np.ndarray, re: list[float]) -> dict | None:
    """The surrogate's Cd and Cl at each Re: {"cd": [...], "cl": [...]} (None for a body it cannot take)."""
    p = torch.as_tensor(points)
    try:
        with torch.no_grad():
            v = [surrogate(p, r) for r in re]
    except Exception:  # noqa: BLE001 - a body the surrogate cannot take has no prediction
        return None
    return {"cd": [float(x["cd"]) for x in v], "cl": [float(x["cl"]) for x in v]}


def _ood(surrogate: SurrogateBackend, points: np.ndarray, re: list[float]) -> dict:
    """The design's out-of-distribution report, as the surrogate sees it: D = 1, at the geometric mean Re on
    its own D."""
    from optim.verify import ood

    _, re_own = properties.own_scale(points, float(np.exp(np.mean(np.log(re)))))
    return ood(surrogate, Shape.from_points(points), float(re_own))


def simulated_forces(points: np.ndarray, re: list[float], resolution: float | None) -> dict[str, list[float]]:
    """The design's Cd and Cl (per start-shape D) at each Re by the default full simulation."""
    from sim.setups import DEFAULT_RESOLUTION
    from sim.solver import simulate

    s = Shape.from_points(points)
    out: dict[str, list[float]] = {"cd": [], "cl": []}
    for r in re:
        d, re_own = properties.own_scale(points, r)
        res = simulate(s, float(re_own), resolution or DEFAULT_RESOLUTION)
        out["cd"].append(res.cd * float(d))
        out["cl"].append(res.cl * float(d))
    return out


def simulated_cd(points: np.ndarray, re: list[float], resolution: float | None) -> float:
    """The design's Cd (per start-shape D) by the default full simulation, averaged over `re`."""
    return float(np.mean(simulated_forces(points, re, resolution)["cd"]))


def user_points(points: np.ndarray, start: Shape) -> np.ndarray:
    """Design points (start-shape D units, centred) in the user's units, at the start shape's position."""
    return np.asarray(points) * start.scale + start.offset
