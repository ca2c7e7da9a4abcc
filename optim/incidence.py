"""The incidence as a design variable: a section (any parametrisation, or the start shape held rigid) turned
nose-up about its centroid by one more variable, the last.

The flow is along +x and the nose at -x; a positive incidence turns the section clockwise (nose up), as
geometry.sampler.incline does. The section's own outline (`section`) is what the shape constraints judge: its
chord and thickness are the section's, whatever its incidence; the flow sees `points`. The variable is in
radians (so that a step in it is of the size of a step in D); results report degrees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from geometry import properties
from optim.parametrise import Parametrisation

if TYPE_CHECKING:
    from optim.backends import Backend
    from optim.problem import Problem

MAX_INCIDENCE = 20.0  # degrees either way from the start's pose: the families' range, and the window's


@dataclass
class Inclined:
    """`base`'s outline (or the fixed `rigid` outline when base is None) turned by the last variable."""

    base: Parametrisation | None
    rigid: torch.Tensor | None = None  # (K, 2) the section when base is None

    @property
    def kind(self) -> str:
        return self.base.kind if self.base is not None else "rigid"

    @property
    def symmetric(self) -> bool:
        return self.base.symmetric if self.base is not None else False

    @property
    def fit_error(self) -> float:
        return self.base.fit_error if self.base is not None else 0.0

    @property
    def theta0(self) -> torch.Tensor:
        zero = torch.zeros(1, dtype=torch.float64)
        return torch.cat([self.base.theta0, zero]) if self.base is not None else zero

    @property
    def size(self) -> int:
        return len(self.theta0)

    def section(self, theta: torch.Tensor) -> torch.Tensor:
        """The section's outline before it is turned (the start's axes)."""
        if self.base is None:
            assert self.rigid is not None
            return self.rigid.to(theta.dtype)
        return self.base.points(theta[:-1])

    def points(self, theta: torch.Tensor) -> torch.Tensor:
        """The outline the flow sees: the section turned nose-up by theta[-1] about its centroid."""
        p = self.section(theta)
        a = theta[-1]
        c, s = torch.cos(a), torch.sin(a)
        turn = torch.stack([torch.stack([c, -s]), torch.stack([s, c])])  # clockwise by a: p @ turn
        centre = properties.centroid(p)
        return (p - centre) @ turn + centre

    def scaled(self, theta: torch.Tensor, k: float) -> torch.Tensor:
        """The variables of the section scaled by k about the origin, at the same incidence."""
        return torch.cat([theta[:-1] * k, theta[-1:]])


def incidence_deg(param: object, theta: np.ndarray | torch.Tensor) -> float:
    """The incidence (degrees, nose up) a design adds to the start's pose; 0 when the incidence is fixed."""
    return math.degrees(float(theta[-1])) if isinstance(param, Inclined) else 0.0


def check_lift_reachable(param: Parametrisation | Inclined, problem: Problem, backend: Backend) -> None:
    """For a rigid section, the lift limit against the lift the incidence range gives (the backend's, at
    +-MAX_INCIDENCE from the start's pose); ValueError naming both when no incidence reaches it."""
    target = problem.cl if problem.cl is not None else problem.min_cl
    if target is None or param.kind != "rigid":
        return
    ends = []
    with torch.no_grad():
        for deg in (-MAX_INCIDENCE, MAX_INCIDENCE):
            pts = param.points(torch.tensor([math.radians(deg)], dtype=torch.float64))
            ends.append(float(problem.lift([backend(pts, r) for r in problem.re])))
    lo, hi = min(ends), max(ends)
    if (problem.cl is not None and not lo <= target <= hi) or (problem.min_cl is not None and hi < target):
        raise ValueError(
            f"a Cl of {target:g} is out of reach: turning this section from {-MAX_INCIDENCE:g} to "
            f"{MAX_INCIDENCE:g} degrees gives Cl {lo:.3g} to {hi:.3g}; ask for a Cl in that range, or let "
            "the shape change (a parametrisation other than rigid)"
        )
