"""One design run as the CLI and the app ask for it: fit, optimise (surrogate, simulation or trust region), verify,
and the result as a JSON-ready dict. The caller only renders it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from geometry import properties
from geometry.shape import Shape
from optim import constraints as C
from optim import parametrise
from optim.backends import SimulationBackend, SurrogateBackend
from optim.optimize import OPTIMISERS, Problem, Result, optimise
from optim.trust import trust_region

BACKENDS = ("surrogate", "simulation")


@dataclass
class Options:
    re: list[float]
    backend: str = "surrogate"
    model: str | None = None  # default: the shipped model
    optimiser: str = "slsqp"
    parametrisation: str = "bspline"
    variables: int | None = None  # control points (B-spline) or modes (Fourier)
    steps: int = 60  # optimiser iterations; with trust_region, full simulations
    lr: float | None = None
    lift_weight: float = 0.0
    limits: C.Limits = field(default_factory=C.Limits)
    trust_region: bool = False
    verify: bool = False
    resolution: float | None = None  # of the full simulation

    def check(self) -> None:
        if not self.re or any(not (math.isfinite(r) and r > 0) for r in self.re):
            raise ValueError(f"Re must be positive numbers; got {self.re}")
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; allowed: {', '.join(BACKENDS)}")
        if self.optimiser not in OPTIMISERS:
            raise ValueError(f"unknown optimiser {self.optimiser!r}; allowed: {', '.join(OPTIMISERS)}")
        if self.trust_region and self.backend != "surrogate":
            raise ValueError("--trust-region manages the surrogate's steps; it needs --backend surrogate")
        if not (self.lift_weight >= 0 and math.isfinite(self.lift_weight)):
            raise ValueError(f"the lift weight must be a number >= 0; got {self.lift_weight}")


def default_model() -> Path:
    from surrogate.defaults import DEFAULT_MODEL

    return DEFAULT_MODEL


def load_surrogate(model: str | Path | None) -> SurrogateBackend:
    return SurrogateBackend.load(model or default_model())


def prepare(shape: Shape, opts: Options, surrogate: SurrogateBackend | None):
    """(parametrisation, limits with the surrogate's window) after checking that the problem can be solved."""
    opts.check()
    limits = C.Limits(**opts.limits.to_dict())
    if opts.backend == "surrogate":
        limits.window = surrogate.window_reach
        reach = float(np.abs(shape.points).max())
        if reach > limits.window:
            raise ValueError(
                f"the start shape reaches {reach:.2f} D from its centroid, beyond the surrogate's window "
                f"({limits.window:.2f} D): the surrogate cannot judge it; use --backend simulation, or start from a "
                "shorter body (e.g. ellipse:3)"
            )
    if limits.max_ood is not None:
        limits.coverage = surrogate.coverage if surrogate else None
        if limits.coverage is None:
            raise ValueError(
                "--max-ood needs a model with its training shapes (coverage.npz); this one has none"
            )
    C.check(limits)
    param = parametrise.make(opts.parametrisation, shape.points, opts.variables, limits.symmetric)
    return param, limits


def run(
    shape: Shape,
    opts: Options,
    surrogate: SurrogateBackend | None = None,
    callback=None,
    should_stop=None,
    log=None,
) -> tuple[dict, Result]:
    """Optimise `shape` as `opts` says; returns (result.json's dict, the optimiser's Result)."""
    log = log or (lambda msg: None)
    if surrogate is None and (opts.backend == "surrogate" or opts.model):
        surrogate = load_surrogate(opts.model)
    param, limits = prepare(shape, opts, surrogate)
    if param.fit_error > 0.02:
        log(
            f"note: the {opts.parametrisation} fit differs from the start shape by up to {param.fit_error:.3f} D "
            "(sharp corners are rounded); the optimisation starts from the fit"
        )
    problem = Problem(list(opts.re), limits, opts.lift_weight)
    snapshots: list[tuple[int, np.ndarray]] = []

    def each(rec: dict, design) -> None:
        if rec.get("accepted", True):
            snapshots.append((rec["step"], design.points))
        if callback:
            callback(rec, design)

    t0 = time.perf_counter()
    if opts.trust_region:
        sim = SimulationBackend(opts.resolution)
        res = trust_region(param, surrogate, sim, problem, opts.steps, callback=each, should_stop=should_stop)
    else:
        backend = surrogate if opts.backend == "surrogate" else SimulationBackend(opts.resolution)
        res = optimise(param, backend, problem, opts.optimiser, opts.steps, opts.lr, each, should_stop)
    out = {
        "backend": "trust-region" if opts.trust_region else opts.backend,
        "optimiser": "adam (trust region)" if opts.trust_region else opts.optimiser,
        "re": list(opts.re),
        "status": res.status,
        "message": res.message,
        "limits": limits.to_dict(),
        "parametrisation": {
            "kind": param.kind,
            "variables": param.size,
            "symmetric": param.symmetric,
            "fit_error": param.fit_error,
        },
        "active_constraints": res.active,
        "history": res.history,
        "evaluations": res.evaluations,
        "wall_s": time.perf_counter() - t0,
    }
    if surrogate is not None:
        out["cd_pred_initial"] = _predicted(surrogate, res.initial.points, opts.re)
        out["cd_pred_final"] = _predicted(surrogate, res.final.points, opts.re)
        from optim.verify import ood

        final = Shape.from_points(res.final.points)  # as the surrogate sees it: D = 1, at Re D / D0
        out["ood"] = ood(surrogate, final, float(np.exp(np.mean(np.log(opts.re)))) * final.scale)
    if opts.backend == "simulation" or opts.trust_region:
        out["cd_sim_initial"], out["cd_sim_final"] = res.initial.cd, res.final.cd
    elif opts.verify:
        log("verifying the initial and the final design with the full simulation")
        out["cd_sim_initial"] = simulated_cd(res.initial.points, opts.re, opts.resolution)
        out["cd_sim_final"] = simulated_cd(res.final.points, opts.re, opts.resolution)
    out["cl_final"] = res.final.cl
    out["area_final"] = float(properties.area(torch.as_tensor(res.final.points)))
    out["thickness_final"] = float(properties.thickness(torch.as_tensor(res.final.points)))
    out["length_final"] = float(np.ptp(res.final.points[:, 0]))
    out["user_scale"], out["user_offset"] = shape.scale, shape.offset.tolist()
    if not snapshots or snapshots[-1][1] is not res.final.points:
        snapshots.append((res.history[-1]["step"] if res.history else 0, res.final.points))
    out["_snapshots"] = snapshots
    return out, res


def _predicted(surrogate: SurrogateBackend, points: np.ndarray, re: list[float]) -> float | None:
    p = torch.as_tensor(points)
    try:
        with torch.no_grad():
            return float(np.mean([float(surrogate(p, r)["cd"]) for r in re]))
    except Exception:  # noqa: BLE001 - a body the surrogate cannot take has no prediction
        return None


def simulated_cd(points: np.ndarray, re: list[float], resolution: float | None) -> float:
    """The drag (per start-shape D) of the design by the default full simulation."""
    from sim.setups import DEFAULT_RESOLUTION
    from sim.solver import simulate

    s = Shape.from_points(points)
    d = s.scale  # the design's own D in start-shape units
    return float(np.mean([simulate(s, r * d, resolution or DEFAULT_RESOLUTION).cd * d for r in re]))


def user_points(points: np.ndarray, start: Shape) -> np.ndarray:
    """Design points (start-shape D units, centred) in the user's units, at the start shape's position."""
    return np.asarray(points) * start.scale + start.offset
