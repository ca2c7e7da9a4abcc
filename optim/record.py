"""A run's record: the start, the best design, one line per step, how it ended, and the stopping rule that
ends a converged run."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from optim.evaluator import FEASIBLE, Design

RTOL = 1e-4  # the stopping rule: the objective's relative change over the last steps (SLSQP's 3, Adam's 15)
SETTLE_STEPS = {"slsqp": 3, "adam": 15}


class Settled(Exception):
    """Raised inside the loop when the stopping rule says the run has converged."""


@dataclass
class Result:
    """An optimisation's outcome: the start and the best design, one record per step, and how it ended."""

    initial: Design
    final: Design
    history: list[dict] = field(default_factory=list)  # per step: objective, cd, cl, violation, wall_s
    active: list[str] = field(default_factory=list)
    status: str = "steps"  # converged | steps | stopped | interrupted
    message: str = ""
    wall_s: float = 0.0
    evaluations: int = 0


def settled(history: list[dict], rtol: float, window: int) -> bool:
    """The stopping rule: whether the last `window` steps changed the objective by at most rtol of its value
    and every design among them (and the one before) was feasible."""
    if rtol <= 0 or len(history) <= window:
        return False
    last = history[-(window + 1) :]
    f = [r["objective"] for r in last]
    return all(r["violation"] <= FEASIBLE for r in last) and max(f) - min(f) <= rtol * abs(f[-1])


StepCallback = Callable[[dict, Design], None]


def record(result: Result, design: Design, step: int, t0: float, callback: StepCallback | None) -> None:
    rec = {
        "step": step,
        "objective": design.objective,
        "cd": design.cd,
        "cl": design.cl,
        "violation": design.violation,
        "wall_s": time.perf_counter() - t0,
    }
    result.history.append(rec)
    better = (design.feasible, -design.objective) > (result.final.feasible, -result.final.objective)
    if better or step == 0:
        result.final = design
    if callback:
        callback(rec, design)
