"""The inverse loop: design variables -> outline -> drag from a backend -> constraints -> optimiser.

Two optimisers on the same problem:
- `adam`: Adam on the objective plus a growing quadratic penalty of the inequality constraints, its gradient
  projected onto the area constraint's tangent space, and after every step an exact projection onto the area
  (the parametrisation is linear: theta is scaled). The best feasible design seen is returned.
- `slsqp`: scipy's SLSQP with exact torch gradients (optim.slsqp).

A design that would cross itself is never evaluated: Adam halves its step and retries, SLSQP is handed a large
value there so its line search backs off. `should_stop()` (a stop button) and Ctrl+C end the loop with the
best design so far.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from threadpoolctl import ThreadpoolController

from optim import constraints as C
from optim.backends import Backend
from optim.evaluator import FEASIBLE, AnyParam, Design, Evaluator, Stop
from optim.problem import Problem
from optim.record import RTOL, SETTLE_STEPS, Result, Settled, StepCallback, record, settled
from optim.slsqp import run_slsqp

__all__ = [
    "FEASIBLE",
    "OPTIMISERS",
    "RTOL",
    "AnyParam",
    "Design",
    "Evaluator",
    "Result",
    "StepCallback",
    "Stop",
]
__all__ += ["optimise", "project_area", "settled", "tangent"]

OPTIMISERS = ("adam", "slsqp")


def project_area(param: AnyParam, theta: torch.Tensor, limits: C.Limits) -> torch.Tensor:
    """Scale the body to the area pi/4 (exact: the outline is linear in the section's variables)."""
    if not limits.keep_area or param.kind == "rigid":
        return theta
    from geometry import properties

    a = float(properties.area(param.section(theta)))
    return param.scaled(theta, math.sqrt(C.AREA / a))


def tangent(param: AnyParam, theta: torch.Tensor, g: torch.Tensor, limits: C.Limits) -> torch.Tensor:
    """g without its component across the area constraint: Adam then moves along the constraint (and the
    projection only corrects its curvature), instead of fighting the projection with shrink-and-rescale
    steps."""
    if not limits.keep_area or param.kind == "rigid":
        return g
    from geometry import properties

    th = theta.detach().clone().requires_grad_(True)
    (a,) = torch.autograd.grad(properties.area(param.section(th)), th)
    return g - (g @ a) / (a @ a) * a


def optimise(
    param: AnyParam,
    backend: Backend,
    problem: Problem,
    optimiser: str = "adam",
    steps: int = 100,
    lr: float | None = None,
    callback: Callable[[dict, Design], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    theta0: np.ndarray | None = None,
    rtol: float = RTOL,
) -> Result:
    """Minimise the problem's objective over the parametrisation's variables under its limits.

    Args:
        steps: optimiser iterations.
        lr: Adam's step, or SLSQP's first step (D) of the most sensitive variable.
        callback: called with each step's record and design.
        should_stop: polled before each evaluation; True ends the run with the best design so far.
        theta0: start variables (default: the fit to the start shape), projected onto the area.
        rtol: the stopping rule (`settled`): the run has converged once the objective changes by at most rtol
            of its value over the last few steps, every one of them feasible; 0 runs every step SLSQP takes.
    """
    if optimiser not in OPTIMISERS:
        raise ValueError(f"unknown optimiser {optimiser!r}; allowed: {', '.join(OPTIMISERS)}")
    if not (0 <= rtol < 1):
        raise ValueError(f"the stopping tolerance must be >= 0 and < 1; got {rtol}")
    C.check(problem.limits)
    problem.check()
    if optimiser == "adam" and (problem.cl is not None or problem.min_cl is not None or problem.worst_case):
        raise ValueError("the lift limits and the worst case over Re need the slsqp optimiser")
    ev = Evaluator(param, backend, problem, should_stop)
    start = theta0 if theta0 is not None else param.theta0.numpy()
    start = project_area(param, torch.as_tensor(start), problem.limits).numpy()
    t0 = time.perf_counter()
    initial, _ = ev(start)
    run = _adam if optimiser == "adam" else run_slsqp
    result = Result(initial, initial)
    try:
        with one_blas_thread():
            run(ev, param, problem, steps, lr, result, callback, t0, rtol)
    except Settled:
        result.status = "converged"
    except Stop:
        result.status = "stopped"
    except KeyboardInterrupt:
        result.status = "interrupted"
    return finish(result, t0, ev.count, problem)


def one_blas_thread() -> Any:
    """OpenBLAS (numpy's and scipy's) limited to one thread while the loop runs: after each of SLSQP's small
    calls its idle threads spin and take the cores torch's convolutions need (a loop twice as slow on 2
    cores, docs/inverse-design.md). Torch's own threads are not touched."""
    import scipy.optimize  # noqa: F401 - loads scipy's OpenBLAS, so that it is limited too

    return ThreadpoolController().select(internal_api="openblas").limit(limits=1)


def finish(result: Result, t0: float, evaluations: int, problem: Problem) -> Result:
    """Wall time, evaluations, the active constraints, and a message when no feasible design was found."""
    result.wall_s = time.perf_counter() - t0
    result.evaluations = evaluations
    d = result.final
    section, flow = _outlines(d)
    result.active = C.active(section, problem.limits, flow=flow)
    if problem.cl is not None or (problem.min_cl is not None and d.cl - problem.min_cl < 2e-3):
        result.active.append("cl" if problem.cl is not None else "min_cl")
    if not result.final.feasible:
        worst = _worst(result.final, problem)
        result.message = (
            f"no feasible design was found: {worst} is violated by {result.final.violation:.3g}; "
            "loosen that constraint or give more steps"
        )
    return result


def penalty_gradient(param: AnyParam, theta: torch.Tensor, limits: C.Limits) -> torch.Tensor | float:
    """d/dtheta of the quadratic penalty sum max(g, 0)^2 of the inequality constraints (0 when there are
    none)."""
    th = theta.detach().clone().requires_grad_(True)
    g = C.inequalities(param.section(th), limits, param.points(th))
    pen = sum((torch.clamp(v, min=0) ** 2).sum() for v in g.values())
    if isinstance(pen, torch.Tensor) and pen.requires_grad:
        return torch.autograd.grad(pen, th)[0]
    return 0.0


def _outlines(design: Design) -> tuple[torch.Tensor, torch.Tensor]:
    """(the section, the outline the flow sees) of a design."""
    flow = torch.as_tensor(design.points)
    return (flow if design.section is None else torch.as_tensor(design.section)), flow


def _worst(design: Design, problem: Problem) -> str:
    section, flow = _outlines(design)
    v = C.violations(section, problem.limits, flow)
    v["lift"] = problem.lift_violation(design.cl)
    return max(v, key=lambda name: v[name]) if v else "nothing"


def _adam(
    ev: Evaluator,
    param: AnyParam,
    problem: Problem,
    steps: int,
    lr: float | None,
    result: Result,
    callback: StepCallback | None,
    t0: float,
    rtol: float,
) -> None:
    limits = problem.limits
    theta = torch.tensor(result.initial.theta, requires_grad=True)
    rate = lr if lr is not None else 1e-2  # D per step for control points and radii
    opt = torch.optim.Adam([theta], lr=rate)
    mu = 1e3 * max(1.0, abs(result.initial.objective))
    last_good = theta.detach().clone()
    record(result, result.initial, 0, t0, callback)
    for step in range(1, steps + 1):
        opt.zero_grad()
        try:
            design, g = ev(theta.detach().numpy())
        except ValueError:  # crossed itself: back to the last good design with half the step
            with torch.no_grad():
                theta.copy_(last_good)
            for group in opt.param_groups:
                group["lr"] *= 0.5
            continue
        gp = penalty_gradient(param, theta, limits)
        theta.grad = tangent(param, theta.detach(), torch.as_tensor(g) + mu * gp, limits)
        if step > 1:
            record(result, design, step - 1, t0, callback)
        last_good = theta.detach().clone()
        opt.step()
        with torch.no_grad():
            theta.copy_(project_area(param, theta.detach(), limits))
        if design.violation > FEASIBLE:
            mu = min(mu * 1.5, 1e9)
        if settled(result.history, rtol, SETTLE_STEPS["adam"]):
            result.status = "converged"
            return
    design, _ = ev(theta.detach().numpy())
    record(result, design, steps, t0, callback)
    result.status = "steps"
