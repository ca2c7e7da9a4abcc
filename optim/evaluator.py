"""One design evaluated: its variables -> outline -> the backend's Cd and Cl at each Reynolds number -> the
problem's objective, the lift, the constraint violation, and the gradients in the variables, counted and
cached. A design that would cross itself is refused (ValueError), and `should_stop()` raises Stop between
evaluations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, overload

import numpy as np
import torch

from optim import constraints as C
from optim.backends import Backend
from optim.incidence import Inclined, incidence_deg
from optim.parametrise import Parametrisation
from optim.problem import Problem

AnyParam = Parametrisation | Inclined
FEASIBLE = 2e-3  # largest constraint violation (in D, or relative for area and curvature) counted as feasible


class Stop(Exception):
    """Raised inside the loop when should_stop() says so."""


@dataclass
class Design:
    """One evaluated design: its variables, outline, objective, forces and constraint violation."""

    theta: np.ndarray
    points: np.ndarray  # (K, 2) in the start shape's D, centroid at the origin
    objective: float
    cd: float  # the weighted mean over the Reynolds numbers
    cl: float
    violation: float
    cds: list[float] = field(default_factory=list)  # at each Reynolds number
    cls: list[float] = field(default_factory=list)
    incidence: float = 0.0  # degrees, nose up, added to the start's pose
    section: np.ndarray | None = None  # (K, 2) the section before its incidence (None: as points)

    @property
    def feasible(self) -> bool:
        """Whether every constraint holds within FEASIBLE."""
        return self.violation <= FEASIBLE


def is_simple(points: np.ndarray) -> bool:
    """Whether the outline is a simple polygon (does not cross itself)."""
    from shapely import Polygon

    return bool(Polygon(points).is_valid)


def centred(points: np.ndarray) -> np.ndarray:
    """The outline moved so that its centroid is at the origin."""
    from geometry import properties

    return points - np.asarray(properties.centroid(points))


class Evaluator:
    """Objective, Cd and Cl of a design (and the gradients in theta), counted, with the latest designs
    remembered."""

    def __init__(
        self,
        param: Parametrisation | Inclined,
        backend: Backend,
        problem: Problem,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.param, self.backend, self.problem = param, backend, problem
        self.should_stop = should_stop or (lambda: False)
        self.count = 0
        self._cache: dict[bytes, tuple[Design, dict[str, np.ndarray] | None]] = {}

    @overload
    def __call__(self, theta: np.ndarray, grad: Literal[True] = True) -> tuple[Design, np.ndarray]: ...

    @overload
    def __call__(self, theta: np.ndarray, grad: bool) -> tuple[Design, np.ndarray | None]: ...

    def __call__(self, theta: np.ndarray, grad: bool = True) -> tuple[Design, np.ndarray | None]:
        """(the design, d objective / d theta when `grad`); raises ValueError for an outline that crosses
        itself, and Stop when should_stop() says so. Repeated variables are answered from a small cache."""
        design, grads = self.evaluate(theta, grad)
        return design, (grads["objective"] if grads is not None else None)

    def gradients(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """d/d theta of the objective, of the mean Cl ("cl") and of each Reynolds number's term ("terms",
        (R, m)) at theta."""
        grads = self.evaluate(theta, True)[1]
        assert grads is not None
        return grads

    def evaluate(self, theta: np.ndarray, grad: bool = True) -> tuple[Design, dict[str, np.ndarray] | None]:
        key = np.asarray(theta, dtype=np.float64).tobytes()
        if key in self._cache and (self._cache[key][1] is not None or not grad):
            return self._cache[key]
        if self.should_stop():
            raise Stop
        pb = self.problem
        th = torch.tensor(theta, dtype=torch.float64, requires_grad=grad)
        pts = self.param.points(th)
        p = pts.detach().numpy()
        if not is_simple(p):
            raise ValueError("the outline crosses itself")
        vals = [self.backend(pts, re) for re in pb.re]
        f, terms, cl = pb.value(vals), pb.terms(vals), pb.lift(vals)
        grads = None
        if grad:
            grads = {"objective": torch.autograd.grad(f, th, retain_graph=True)[0].numpy()}
            if pb.cl is not None or pb.min_cl is not None:
                grads["cl"] = torch.autograd.grad(cl, th, retain_graph=True)[0].numpy()
            if pb.worst_case:
                rows = [torch.autograd.grad(t, th, retain_graph=True)[0] for t in terms]
                grads["terms"] = torch.stack(rows).numpy()
        self.count += 1
        section = self.param.section(th).detach()
        w = pb.weights
        cds = [float(v["cd"].detach()) for v in vals]
        cls = [float(v["cl"].detach()) for v in vals]
        design = Design(
            np.array(theta, dtype=np.float64),
            centred(p),
            float(f.detach()),
            float(np.dot(w, cds)),
            float(np.dot(w, cls)),
            max(C.violation(section, pb.limits, pts.detach()), pb.lift_violation(float(np.dot(w, cls)))),
            cds,
            cls,
            incidence_deg(self.param, theta),
            centred(section.numpy()) if isinstance(self.param, Inclined) else None,
        )
        if len(self._cache) > 64:
            self._cache.clear()
        self._cache[key] = (design, grads)
        return design, grads
