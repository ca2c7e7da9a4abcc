"""Surrogate steps checked by the full simulation: classic trust-region model management.

From a simulated centre, Adam takes `inner` steps on the surrogate inside a box of half-width delta (in the
design variables, D); the full simulation of the result gives the actual reduction, and rho = actual /
predicted decides: rho < 0.25 halves delta, rho > 0.75 with the step on the box's edge doubles it; the step is
taken when the simulated objective went down. The answer is always the best simulated design, never an
unchecked prediction.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from optim import constraints as C
from optim.backends import Backend
from optim.optimise import (
    FEASIBLE,
    Design,
    Evaluator,
    Result,
    StepCallback,
    Stop,
    finish,
    penalty_gradient,
    project_area,
    tangent,
)
from optim.parametrise import Parametrisation
from optim.problem import Problem


def trust_region(
    param: Parametrisation,
    surrogate: Backend,
    simulation: Backend,
    problem: Problem,
    steps: int = 8,
    inner: int = 15,
    delta: float = 0.05,
    lr: float | None = None,  # Adam's step inside the region (default delta / 5: it can cross the region)
    callback: StepCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Result:
    """Minimise as optim.optimise.optimise does, with the surrogate's steps checked by the simulation.

    `steps` full simulations after the first, each preceded by `inner` surrogate steps inside the region of
    half-width `delta` (D, in the design variables). Every design in the result is a simulated one.
    """
    C.check(problem.limits)
    sur = Evaluator(param, surrogate, problem, should_stop)
    sim = Evaluator(param, simulation, problem, should_stop)
    t0 = time.perf_counter()
    theta_c = project_area(param, param.theta0.clone(), problem.limits).numpy()
    centre, _ = sim(theta_c, grad=False)
    pred_c, _ = sur(theta_c, grad=False)
    result = Result(centre, centre)
    hist = result.history

    def record(step: int, design: Design, pred: Design, rho: float | None, accepted: bool) -> None:
        rec = {
            "step": step,
            "objective": design.objective,
            "cd": design.cd,
            "cl": design.cl,
            "cd_pred": pred.cd,
            "violation": design.violation,
            "delta": delta,
            "rho": rho,
            "accepted": accepted,
            "wall_s": time.perf_counter() - t0,
        }
        hist.append(rec)
        if callback:
            callback(rec, design)

    record(0, centre, pred_c, None, True)
    try:
        for step in range(1, steps + 1):
            theta_new, pred_new = _inner(sur, param, problem, theta_c, delta, inner, lr)
            predicted = pred_c.objective - pred_new.objective
            if predicted <= 1e-9 * abs(pred_c.objective):
                result.status = "converged"  # the surrogate sees no further reduction here
                break
            trial, _ = sim(theta_new, grad=False)
            actual = centre.objective - trial.objective
            rho = actual / predicted
            moved = float(np.max(np.abs(theta_new - theta_c)))
            on_edge = moved > 0.9 * delta
            accepted = actual > 0 and trial.violation <= max(centre.violation, FEASIBLE)
            if rho < 0.25:
                delta = 0.5 * min(delta, moved)  # below the step just taken: the next trial differs
            elif rho > 0.75 and on_edge:
                delta *= 2.0
            if accepted:
                theta_c, centre, pred_c = theta_new, trial, pred_new
                result.final = trial
            record(step, trial, pred_new, rho, accepted)
            if delta < 1e-4:
                result.status = "converged"
                break
    except Stop:
        result.status = "stopped"
    except KeyboardInterrupt:
        result.status = "interrupted"
    return finish(result, t0, sim.count, problem)


def _inner(
    sur: Evaluator,
    param: Parametrisation,
    problem: Problem,
    theta_c: np.ndarray,
    delta: float,
    steps: int,
    lr: float | None,
) -> tuple[np.ndarray, Design]:
    """Adam on the surrogate (objective plus the constraint penalty) inside |theta - theta_c| <= delta;
    returns the best design it saw (as feasible as the centre, then lowest objective) and its variables."""
    theta = torch.tensor(theta_c, requires_grad=True)
    opt = torch.optim.Adam([theta], lr=min(lr, delta / 5) if lr else delta / 5)
    lo, hi = torch.as_tensor(theta_c - delta), torch.as_tensor(theta_c + delta)
    mu = 1e3
    best_theta, best = theta_c, sur(theta_c, grad=False)[0]

    def keep(d: Design) -> None:
        nonlocal best_theta, best
        if d.violation <= max(best.violation, FEASIBLE) and d.objective < best.objective:
            best_theta, best = theta.detach().numpy().copy(), d

    for _ in range(steps):
        try:
            d, g = sur(theta.detach().numpy())
        except ValueError:
            break
        keep(d)
        gp = penalty_gradient(param, theta, problem.limits)
        opt.zero_grad()
        theta.grad = tangent(param, theta.detach(), torch.as_tensor(g) + mu * gp, problem.limits)
        opt.step()
        with torch.no_grad():
            theta.copy_(
                torch.minimum(torch.maximum(project_area(param, theta.detach(), problem.limits), lo), hi)
            )
    try:
        keep(sur(theta.detach().numpy(), grad=False)[0])
    except ValueError:
        pass
    return best_theta, best
