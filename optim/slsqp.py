"""SLSQP on the problem: scipy's SLSQP with exact torch gradients of the objective and of every constraint,
in scaled variables; the lift limits as constraints, the worst case over Re as an epigraph bound, the
incidence bounded. The objective is divided by its start value, so the tolerance is relative; with the full
simulation it sits above the solver's sub-cell wiggle (docs/inverse-design.md).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from optim import constraints as C
from optim.evaluator import AnyParam, Design, Evaluator
from optim.incidence import MAX_INCIDENCE, Inclined
from optim.problem import Problem
from optim.record import SETTLE_STEPS, Result, Settled, StepCallback, record, settled

FTOL = 1e-7  # SLSQP's own tolerance on the objective relative to its start value
FTOL_SIMULATION = 1e-4  # the same with the full simulation: above its solver's sub-cell wiggle


def run_slsqp(
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
    """SLSQP in scaled variables z = (theta - theta0) / s: its first quasi-Newton step is minus the gradient,
    and s is chosen so that this step moves the most sensitive variable by `lr` (default 0.05 D): large enough
    to clear the full simulation's wiggle, small enough to stay on the body's scale."""
    from scipy.optimize import minimize

    limits = problem.limits
    f0 = max(abs(result.initial.objective), 0.1)  # a scale: -Cl/Cd may start at 0
    x0 = result.initial.theta
    m = len(x0)
    _, g0 = ev(x0)
    s = math.sqrt((lr if lr is not None else 0.05) / max(float(np.abs(g0).max()) / f0, 1e-12))
    bound = problem.worst_case  # the largest term as a bound u >= term_r / f0, u the last variable

    def theta(y: np.ndarray) -> np.ndarray:
        return x0 + s * np.asarray(y)[:m]

    def pad(j: np.ndarray) -> np.ndarray:
        """A Jacobian in z, with the bound's column (zero) when there is one."""
        return np.concatenate([j, np.zeros((*j.shape[:-1], 1))], -1) if bound else j

    def fun(y: np.ndarray) -> tuple[float, np.ndarray]:
        if bound:
            return float(y[-1]), np.eye(m + 1)[-1]
        try:
            d, g = ev(theta(y))
        except ValueError:  # crossed itself: a large value makes the line search back off
            return 1e3, np.zeros_like(y)
        return d.objective / f0, s * g / f0

    def shape_constraint(kind: str) -> dict:
        """Every shape constraint of a kind as one vector (one evaluation and one Jacobian per design)."""
        sign = -1.0 if kind == "ineq" else 1.0  # scipy wants ineq >= 0; ours are g <= 0

        def h(t: torch.Tensor) -> torch.Tensor:
            sec = param.section(t)
            v = C.inequalities(sec, limits, param.points(t)) if kind == "ineq" else C.equalities(sec, limits)
            return sign * torch.cat(list(v.values()))

        def jac(y: np.ndarray) -> np.ndarray:
            j = torch.autograd.functional.jacobian(h, torch.as_tensor(theta(y)), vectorize=True)
            return pad(s * j.numpy())

        return {"type": kind, "fun": lambda y: h(torch.as_tensor(theta(y))).detach().numpy(), "jac": jac}

    def flow_value(y: np.ndarray) -> Design | None:
        try:
            return ev(theta(y))[0]
        except ValueError:  # crossed itself
            return None

    cons = []
    sec0, flow0 = param.section(torch.as_tensor(x0)), param.points(torch.as_tensor(x0))
    if C.equalities(sec0, limits) and param.kind != "rigid":  # a rigid section holds its own area and chord
        cons.append(shape_constraint("eq"))
    if C.inequalities(sec0, limits, flow0):
        cons.append(shape_constraint("ineq"))
    target = problem.cl if problem.cl is not None else problem.min_cl
    if target is not None:  # the mean Cl: held (eq) or bounded below (ineq)

        def lift(y: np.ndarray) -> np.ndarray:
            d = flow_value(y)
            return np.array([(d.cl if d else target - 1.0) - target])

        def lift_jac(y: np.ndarray) -> np.ndarray:
            try:
                return pad(s * ev.gradients(theta(y))["cl"][None])
            except ValueError:
                return pad(np.zeros((1, m)))

        cons.append({"type": "eq" if problem.cl is not None else "ineq", "fun": lift, "jac": lift_jac})
    y0 = np.zeros(m)
    if bound:  # u - term_r / f0 >= 0 at each Reynolds number

        def above(y: np.ndarray) -> np.ndarray:
            d = flow_value(y)
            terms = np.asarray(problem.terms_of(d) if d else [1e3] * len(problem.re))
            return y[-1] - terms / f0

        def above_jac(y: np.ndarray) -> np.ndarray:
            try:
                rows = -s * ev.gradients(theta(y))["terms"] / f0
            except ValueError:
                rows = np.zeros((len(problem.re), m))
            return np.concatenate([rows, np.ones((len(rows), 1))], 1)

        cons.append({"type": "ineq", "fun": above, "jac": above_jac})
        y0 = np.append(y0, result.initial.objective / f0)
    step = [0]
    record(result, result.initial, 0, t0, callback)

    def each(y: np.ndarray) -> None:
        step[0] += 1
        try:
            d, _ = ev(theta(y))
        except ValueError:
            return
        record(result, d, step[0], t0, callback)
        if settled(result.history, rtol, SETTLE_STEPS["slsqp"]):
            raise Settled

    bounds = None
    if isinstance(param, Inclined):  # the incidence within +-MAX_INCIDENCE of the start's pose
        a = math.radians(MAX_INCIDENCE)
        bounds = [(None, None)] * len(y0)
        bounds[m - 1] = ((-a - x0[-1]) / s, (a - x0[-1]) / s)
    tol = FTOL_SIMULATION if getattr(ev.backend, "name", "") == "simulation" else FTOL
    res = minimize(
        fun,
        y0,
        jac=True,
        method="SLSQP",
        bounds=bounds,
        constraints=cons,
        callback=each,
        options={"maxiter": steps, "ftol": tol},
    )
    result.status = "converged" if res.success else ("steps" if res.status == 9 else "stopped")
    if not res.success and res.status != 9:
        result.message = f"SLSQP stopped: {res.message}"
