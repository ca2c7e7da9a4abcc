"""What a design run minimises, over which Reynolds numbers, under which limits on the shape and the lift.

The objective is built per Reynolds number from the backend's Cd and Cl (per the start's D): `drag`,
Cd + w |Cl|, or `lift-to-drag`, -Cl / Cd (its minimum is the best lift-to-drag ratio). Over a list of Reynolds
numbers it is their weighted mean, or with `worst_case` the largest (SLSQP minimises it as a bound u >= each
term). The lift limits hold the weighted mean Cl at a value (`cl`) or above one (`min_cl`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from optim import constraints as C

OBJECTIVES = ("drag", "lift-to-drag")

Values = list[dict[str, torch.Tensor]]  # per Reynolds number: {"cd", "cl"}, as a backend returns them


@dataclass
class Problem:
    """What is minimised (see the module's docstring) and under which limits."""

    re: list[float]
    limits: C.Limits = field(default_factory=C.Limits)
    lift_weight: float = 0.0  # drag objective: Cd + lift_weight |Cl|
    objective: str = "drag"
    re_weights: list[float] | None = None  # the mean's weights over re (default: equal)
    worst_case: bool = False  # minimise the largest term over re instead of the mean
    cl: float | None = None  # the weighted mean Cl held at this value
    min_cl: float | None = None  # the weighted mean Cl at least this

    def check(self) -> None:
        """Raise ValueError naming the first option that cannot be used."""
        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {self.objective!r}; allowed: {', '.join(OBJECTIVES)}")
        if self.re_weights is not None:
            w = self.re_weights
            if len(w) != len(self.re):
                raise ValueError(
                    f"{len(w)} Reynolds-number weights for {len(self.re)} Reynolds numbers; give one weight "
                    "per Reynolds number"
                )
            if not all(math.isfinite(x) and x >= 0 for x in w) or sum(w) <= 0:
                raise ValueError(f"the Reynolds-number weights must be >= 0 and not all 0; got {w}")
            if self.worst_case:
                raise ValueError(
                    "the worst case over the Reynolds numbers takes no weights; give one of them"
                )
        if self.cl is not None and self.min_cl is not None:
            raise ValueError("the lift is either held at a value or bounded below; give one of them")
        for name in ("cl", "min_cl"):
            v = getattr(self, name)
            if v is not None and not math.isfinite(v):
                raise ValueError(f"the lift coefficient must be a finite number; got {v}")

    @property
    def lifting(self) -> bool:
        """Whether the lift is constrained or part of the objective's ratio."""
        return self.cl is not None or self.min_cl is not None or self.objective == "lift-to-drag"

    @property
    def weights(self) -> np.ndarray:
        """The mean's weights over re, summing to 1."""
        w = np.ones(len(self.re)) if self.re_weights is None else np.asarray(self.re_weights, dtype=float)
        return w / w.sum()

    def terms(self, values: Values) -> torch.Tensor:
        """(R,): the objective at each Reynolds number."""
        if self.objective == "lift-to-drag":
            return torch.stack([-v["cl"] / v["cd"] for v in values])
        return torch.stack([v["cd"] + self.lift_weight * torch.abs(v["cl"]) for v in values])

    def value(self, values: Values) -> torch.Tensor:
        """The objective: the terms' weighted mean, or their largest with worst_case."""
        t = self.terms(values)
        return t.max() if self.worst_case else (torch.as_tensor(self.weights, dtype=t.dtype) * t).sum()

    def terms_of(self, design: object) -> list[float]:
        """The objective's terms of an evaluated design (optim.optimise.Design: cds and cls per Re)."""
        cds, cls = design.cds, design.cls  # type: ignore[attr-defined]
        if self.objective == "lift-to-drag":
            return [-cl / cd for cd, cl in zip(cds, cls, strict=True)]
        return [cd + self.lift_weight * abs(cl) for cd, cl in zip(cds, cls, strict=True)]

    def lift(self, values: Values) -> torch.Tensor:
        """The weighted mean Cl over re."""
        w = torch.as_tensor(self.weights, dtype=values[0]["cl"].dtype)
        return (w * torch.stack([v["cl"] for v in values])).sum()

    def lift_violation(self, cl: float) -> float:
        """How far the lift limit is violated (0 where it holds), relative to the limit (at least 0.1)."""
        if self.cl is not None:
            return abs(cl - self.cl) / max(abs(self.cl), 0.1)
        if self.min_cl is not None:
            return max(self.min_cl - cl, 0.0) / max(abs(self.min_cl), 0.1)
        return 0.0
