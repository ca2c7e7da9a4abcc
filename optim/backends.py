"""Where the drag of a design comes from: the surrogate P(f(shape, Re)) or the full simulation with its adjoint.

Both take the outline in the start shape's units (D0 = 1, any position) and return Cd and Cl as differentiable
torch scalars, with forces scaled by D0: when the area is free the body's own diameter D changes, and so does the
Reynolds number it sees (Re D / D0). The optimiser calls `backend(points, re)` and `.backward()`s whatever it builds
from the result; it does not know which backend it drives.

- `SurrogateBackend`: normalises the body (centroid, D) onto the network's window, predicts at Re D, and scales
  Cd and Cl by D. One forward and backward costs milliseconds.
- `SimulationBackend`: solves the steady flow around the body itself (forces are per D0 already) on a grid fixed
  at the start, so that the objective does not jump when the grid would follow the body; the backward pass is
  one adjoint solve with the converged Jacobian (sim.adjoint), for Cd and Cl together.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from geometry import properties


@dataclass
class SurrogateBackend:
    """One surrogate, or an ensemble (surrogate.ensemble): then Cd and Cl are the members' mean, and `spread`
    gives their standard deviation. `model` is the (first) member: its window and normalisation."""

    model: object  # surrogate.model.Surrogate
    card: dict = field(default_factory=dict)
    folder: str | None = None
    name: str = "surrogate"
    members: list = field(default_factory=list)  # all members (an ensemble), or [model]

    def __post_init__(self) -> None:
        if not self.members:
            self.members = [self.model]

    @classmethod
    def load(cls, folder) -> SurrogateBackend:
        from surrogate import ensemble
        from surrogate.train import load_model

        if ensemble.is_ensemble(folder):
            models, card = ensemble.load(folder)
        else:
            model, card = load_model(folder)
            models = [model]
        for m in models:
            for p in m.parameters():
                p.requires_grad_(False)
        return cls(models[0], card, str(folder), members=models)

    @functools.cached_property
    def coverage(self) -> dict | None:
        """The training shapes (surrogate.coverage), read once: every run's out-of-distribution score uses them."""
        from surrogate import coverage

        return coverage.load(self.folder) if self.folder else None

    @property
    def window_reach(self) -> float:
        """The largest |x| or |y| (in the body's own D, about its centroid) the network's window holds."""
        return self.model.window.fit_half_width()

    @property
    def re_range(self) -> tuple[float, float]:
        from surrogate.defaults import RE_MAX, RE_MIN

        r = (self.card.get("dataset") or {}).get("re") or {}
        return float(r.get("min", RE_MIN)), float(r.get("max", RE_MAX))

    def normalise(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(outline about its centroid in its own D, D)."""
        d = properties.equivalent_diameter(points)
        return (points - properties.centroid(points)) / d, d

    def state(
        self, points: torch.Tensor, re: float, member=None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(predicted state (1, 3, n, n) on the window, Re the body sees, D)."""
        q, d = self.normalise(points)
        re_d = (re * d).reshape(1)
        model = self.model if member is None else member
        return model(q.float()[None], re_d.float()).double(), re_d, d

    def each(self, points: torch.Tensor, re: float) -> torch.Tensor:
        """(K, 2): every member's Cd and Cl (per the start's D)."""
        from surrogate import physics

        out = []
        for m in self.members:
            x, re_d, d = self.state(points, re, m)
            out.append(physics.drag_lift_on(x, re_d, self.model.window)[0] * d)
        return torch.stack(out)

    def __call__(self, points: torch.Tensor, re: float) -> dict[str, torch.Tensor]:
        cdl = self.each(points, re).mean(0)
        return {"cd": cdl[0], "cl": cdl[1]}

    def spread(self, points: torch.Tensor, re: float) -> float | None:
        """The members' standard deviation of Cd (None for a single model)."""
        return self.drag_and_spread(points, re)[1] if len(self.members) > 1 else None

    def drag_and_spread(self, points: torch.Tensor, re: float) -> tuple[float, float | None]:
        """The mean Cd and the members' standard deviation (None for a single model), from one pass over them."""
        with torch.no_grad():
            cd = self.each(points, re)[:, 0]
        return float(cd.mean()), (float(cd.std()) if len(cd) > 1 else None)


class _Simulated(torch.autograd.Function):
    """(points) -> [Cd, Cl] by the full simulation; backward by one adjoint solve for the weighted pair."""

    @staticmethod
    def forward(ctx, points, run):
        result = run(points.detach().numpy())
        ctx.result = result
        ctx.save_for_backward(points)
        return points.new_tensor([result.cd, result.cl])

    @staticmethod
    def backward(ctx, grad):
        from sim import adjoint

        (points,) = ctx.saved_tensors
        with torch.enable_grad():  # autograd runs a Function's backward without grad mode
            x = points.detach().clone().requires_grad_(True)
            g = adjoint.gradient(ctx.result, x, x, objective={"cd": float(grad[0]), "cl": float(grad[1])})
        return g, None


@dataclass
class SimulationBackend:
    resolution: float | None = None  # cells per D next to the body (default: the dataset's)
    name: str = "simulation"
    last: object = None  # the last SimResult (its fields, for plots)
    _domains: dict = field(default_factory=dict)
    _bounds: tuple | None = None

    def fix_grid(self, points: np.ndarray, margin: float = 0.3) -> None:
        """Fix the grid for designs near `points` (their bounds plus a margin)."""
        p = np.asarray(points) - properties.centroid(np.asarray(points))
        lo, hi = p.min(0) - margin, p.max(0) + margin
        self._bounds = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
        self._domains.clear()

    def _domain(self, re: float, p: np.ndarray):
        from sim import setups

        b = self._bounds
        inside = b is not None and p[:, 0].min() >= b[0] and p[:, 1].min() >= b[1] and p[:, 0].max() <= b[2]
        inside = inside and p[:, 1].max() <= b[3]
        if not inside:  # first call, or the design left the fixed grid: a new one around it
            self.fix_grid(p)
        key = (re, self._bounds)
        if key not in self._domains:
            self._domains[key] = setups.unconfined(re, self._bounds, self.res)
        return self._domains[key]

    @property
    def res(self) -> float:
        from sim.setups import DEFAULT_RESOLUTION

        return float(self.resolution or DEFAULT_RESOLUTION)

    def __call__(self, points: torch.Tensor, re: float) -> dict[str, torch.Tensor]:
        from sim.solver import run_case

        centred = points - properties.centroid(points)

        def run(p: np.ndarray):
            self.last = run_case(p, self._domain(re, p), re, self.res)
            return self.last

        cdl = _Simulated.apply(centred, run)
        return {"cd": cdl[0], "cl": cdl[1]}


def objective(values: list[dict[str, torch.Tensor]], lift_weight: float) -> torch.Tensor:
    """Cd + w |Cl|, averaged over the Reynolds numbers evaluated."""
    terms = [v["cd"] + lift_weight * torch.abs(v["cl"]) for v in values]
    return torch.stack(terms).mean()


def check_re(re: float) -> float:
    if not (isinstance(re, (int, float)) and math.isfinite(re) and re > 0):
        raise ValueError(f"Re must be a positive number; got {re!r}")
    return float(re)
