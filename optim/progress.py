"""A run followed step by step, for a live view (the app): every step's drag and feasibility, the best
feasible design so far (what a run stopped mid-way keeps), and the words for how a run ended and which design
it kept."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optim.evaluator import FEASIBLE, Design


@dataclass
class BestSoFar:
    """A run followed step by step, for a live view: every step's Cd (and the surrogate's prediction in a
    trust region), and the best feasible accepted design so far, which is what a run stopped mid-way keeps."""

    cd: list[float] = field(default_factory=list)
    predicted: list[float] = field(default_factory=list)
    feasible: list[bool] = field(default_factory=list)  # each step's: every constraint held
    best: tuple[float, np.ndarray, float] | None = None  # (objective, points, Cd)
    best_step: int | None = None  # the step the best feasible design came from

    def add(self, rec: dict, design: Design) -> tuple[np.ndarray, float]:
        """Record one step's record and design.

        Returns:
            (points, Cd) of the best design so far; this step's while none has been feasible.
        """
        self.cd.append(rec["cd"])
        if "cd_pred" in rec:
            self.predicted.append(rec["cd_pred"])
        ok = rec["violation"] <= FEASIBLE and rec.get("accepted", True)
        self.feasible.append(rec["violation"] <= FEASIBLE)
        if ok and (self.best is None or rec["objective"] < self.best[0]):
            self.best = (rec["objective"], design.points, rec["cd"])
            self.best_step = int(rec["step"])
        _, points, cd = self.best or (rec["objective"], design.points, rec["cd"])
        return points, cd


STATUS = {  # what each way a run ends means, in a user's words
    "converged": "converged: the objective changed by less than 0.01% over the last steps",
    "steps": "ended at the step limit: more steps may lower the drag further",
    "stopped": "stopped before the end: the best design so far is kept",
    "interrupted": "interrupted: the best design so far is kept",
}


def kept(best_step: int | None, feasible_any: bool) -> str:
    """Which design a run keeps and why, in a user's words."""
    if best_step is None or not feasible_any:
        return "no design met every constraint: the one closest to meeting them is shown"
    return f"the design of step {best_step}: the lowest objective among those that met every constraint"
