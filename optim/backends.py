"""Where the drag of a design comes from: the surrogate or the full simulation with its adjoint.

Both take the outline in the start shape's units (D0 = 1, any position) and return Cd and Cl as differentiable
torch scalars, with forces scaled by D0: when the area is free the body's own diameter D changes, and so does
the Reynolds number it sees (geometry.properties.own_scale). The optimiser calls `backend(points, re)` and
back-propagates whatever it builds from the result; it does not know which backend it drives.

- `SurrogateBackend`: normalises the body (centroid, D) onto the network's window (shrunk by the window's
  scale s when it reaches farther than the window holds), predicts at the Re it then sees, and scales Cd and
  Cl by the length they are per (D s). Cheap enough for every optimiser step.
- `SimulationBackend`: solves the steady flow around the body itself (forces are per D0 already) on a grid
  fixed at the start, so that the objective does not jump when the grid would follow the body; the backward
  pass is one adjoint solve with the converged Jacobian (sim.adjoint), for Cd and Cl together.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from geometry import properties

if TYPE_CHECKING:
    from sim.result import SimResult
    from sim.setups import Domain
    from surrogate.model import Surrogate


Backend = Callable[[torch.Tensor, float], dict[str, torch.Tensor]]  # (points, Re) -> {"cd", "cl"}


@dataclass
class SurrogateBackend:
    """One surrogate, or an ensemble (surrogate.ensemble): then Cd and Cl are the members' mean, and `spread`
    gives their standard deviation. `model` is the (first) member: its window and normalisation."""

    model: Surrogate
    card: dict = field(default_factory=dict)
    folder: str | None = None
    name: str = "surrogate"
    members: list[Surrogate] = field(default_factory=list)  # all members (an ensemble), or [model]

    def __post_init__(self) -> None:
        if not self.members:
            self.members = [self.model]

    @classmethod
    def load(cls, folder: str | Path) -> SurrogateBackend:
        """The model (or ensemble) in `folder`, frozen: gradients flow to the outline only."""
        from surrogate import members, model_files

        models, card = model_files.load(folder)
        members.for_inference(models)
        return cls(models[0], card, str(folder), members=models)

    @functools.cached_property
    def coverage(self) -> dict | None:
        """The training shapes (surrogate.coverage), read once: every out-of-distribution score uses them."""
        from surrogate import coverage

        return coverage.load(self.folder) if self.folder else None

    @property
    def window_reach(self) -> float:
        """The largest |x| or |y| (in the body's own D, about its centroid) the surrogate takes."""
        return self.model.window.max_reach

    @property
    def re_range(self) -> tuple[float, float]:
        """The Reynolds numbers the model was trained on (its card's, else the dataset defaults)."""
        from surrogate.datasets.settings import RE_MAX, RE_MIN

        r = (self.card.get("dataset") or {}).get("re") or {}
        return float(r.get("min", RE_MIN)), float(r.get("max", RE_MAX))

    def normalise(self, points: torch.Tensor, re: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(outline about its centroid in its own D, that D, the Re on it)."""
        d, re_own = properties.own_scale(points, re)
        return (points - properties.centroid(points)) / d, d, re_own

    def each(self, points: torch.Tensor, re: float) -> torch.Tensor:
        """(K, 2): every member's Cd and Cl (per the start's D), the members in one pass (surrogate.members).

        The body is shown on the window shrunk by the window's scale s, at Re s; s is held constant in the
        derivative: the flow does not depend on the length it is measured in, so an exact surrogate's Cd D s
        does not change with s."""
        from surrogate import members, physics

        q, d, re_own = self.normalise(points, re)
        s = self.model.window.scale(q.detach().cpu().numpy())
        re_w = (re_own * s).reshape(1)
        x = members.states(self.members, (q / s).float()[None], re_w.float()).double()  # (K, 1, 3, n, n)
        k = x.shape[0]
        cdl = physics.drag_lift_on(x[:, 0], re_w.expand(k), self.model.window)
        return cdl * (d * s)

    def drag_over_re(self, points: np.ndarray, res: np.ndarray) -> np.ndarray:
        """The members' mean Cd (per the outline's D) at each of the Reynolds numbers `res`, in one batched
        pass (a drag-against-Re curve)."""
        from surrogate import members, physics

        with torch.no_grad():
            q, d, _ = self.normalise(torch.as_tensor(np.asarray(points, dtype=np.float64)), 1.0)
            s = self.model.window.scale(q.numpy())
            re_w = torch.as_tensor(np.asarray(res, dtype=np.float64) * float(d) * s)
            shown = (q / s).float()[None].expand(len(re_w), -1, -1)
            x = members.states(self.members, shown, re_w.float()).double()  # (K, B, 3, n, n)
            cd = torch.stack([physics.drag_lift_on(xk, re_w, self.model.window)[:, 0] for xk in x]).mean(0)
        return (cd * float(d) * s).numpy()

    def __call__(self, points: torch.Tensor, re: float) -> dict[str, torch.Tensor]:
        cdl = self.each(points, re).mean(0)
        return {"cd": cdl[0], "cl": cdl[1]}

    def spread(self, points: torch.Tensor, re: float) -> float | None:
        """The members' standard deviation of Cd (None for a single model)."""
        return self.drag_and_spread(points, re)[1] if len(self.members) > 1 else None

    def drag_and_spread(self, points: torch.Tensor, re: float) -> tuple[float, float | None]:
        """The mean Cd and the members' standard deviation (None for a single model), in one pass."""
        with torch.no_grad():
            cd = self.each(points, re)[:, 0]
        return float(cd.mean()), (float(cd.std()) if len(cd) > 1 else None)


class _Simulated(torch.autograd.Function):
    """(points) -> [Cd, Cl] by the full simulation; backward by one adjoint solve for the weighted pair."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        points: torch.Tensor,
        run: Callable[[np.ndarray], SimResult],
    ) -> torch.Tensor:
        result = run(points.detach().numpy())
        ctx.result = result
        ctx.save_for_backward(points)
        return points.new_tensor([result.cd, result.cl])

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        from sim import adjoint

        (points,) = ctx.saved_tensors
        with torch.enable_grad():  # autograd runs a Function's backward without grad mode
            x = points.detach().clone().requires_grad_(True)
            g = adjoint.gradient(ctx.result, x, x, objective={"cd": float(grad[0]), "cl": float(grad[1])})
        return g, None


@dataclass
class SimulationBackend:
    """The full simulation as a backend, on a grid fixed around the start design (refixed when a design leaves
    it), with one domain per Reynolds number."""

    resolution: float | None = None  # cells per D next to the body (default: the dataset's)
    name: str = "simulation"
    last: SimResult | None = None  # the last solve (its fields, for plots)
    _domains: dict[tuple, Domain] = field(default_factory=dict)
    _bounds: tuple[float, float, float, float] | None = None

    def fix_grid(self, points: np.ndarray, margin: float = 0.3) -> tuple[float, float, float, float]:
        """Fix the grid for designs near `points` (their bounds plus a margin); returns those bounds."""
        p = np.asarray(points) - properties.centroid(np.asarray(points))
        lo, hi = p.min(0) - margin, p.max(0) + margin
        self._bounds = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
        self._domains.clear()
        return self._bounds

    def _domain(self, re: float, p: np.ndarray) -> Domain:
        from sim import setups

        b = self._bounds
        lo, hi = p.min(0), p.max(0)
        if b is None or not (lo[0] >= b[0] and lo[1] >= b[1] and hi[0] <= b[2] and hi[1] <= b[3]):
            b = self.fix_grid(p)  # first call, or the design left the fixed grid: a new one around it
        key = (re, b)
        if key not in self._domains:
            self._domains[key] = setups.unconfined(re, b, self.res)
        return self._domains[key]

    @property
    def res(self) -> float:
        """Cells per D next to the body."""
        from sim.setups import DEFAULT_RESOLUTION

        return float(self.resolution or DEFAULT_RESOLUTION)

    def __call__(self, points: torch.Tensor, re: float) -> dict[str, torch.Tensor]:
        from sim.solver import run_case

        centred = points - properties.centroid(points)

        def run(p: np.ndarray) -> SimResult:
            self.last = run_case(p, self._domain(re, p), self.res)
            return self.last

        cdl = _Simulated.apply(centred, run)
        return {"cd": cdl[0], "cl": cdl[1]}
