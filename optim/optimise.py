"""The inverse loop: design variables -> outline -> drag from a backend -> constraints -> optimiser.

Two optimisers on the same problem:
- `adam`: Adam on the objective plus a growing quadratic penalty of the inequality constraints, its gradient
  projected onto the area constraint's tangent space, and after every step an exact projection onto the area
  (the parametrisation is linear: theta is scaled). The best feasible design seen is returned.
- `slsqp`: scipy's SLSQP with exact torch gradients of the objective and of every constraint (vector
  constraints for the curvature bound). The objective is divided by its start value, so the tolerance is
  relative; with the full simulation it sits above the solver's sub-cell wiggle (docs/inverse-design.md).

A design that would cross itself is never evaluated: Adam halves its step and retries, SLSQP is handed a large
value there so its line search backs off. `should_stop()` (a stop button) and Ctrl+C end the loop with the
best design so far.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import numpy as np
import torch
from threadpoolctl import ThreadpoolController

from optim import constraints as C
from optim.backends import Backend
from optim.incidence import MAX_INCIDENCE, Inclined, incidence_deg
from optim.parametrise import Parametrisation
from optim.problem import Problem

AnyParam = Parametrisation | Inclined

OPTIMISERS = ("adam", "slsqp")
FEASIBLE = 2e-3  # largest constraint violation (in D, or relative for area and curvature) counted as feasible
FTOL = 1e-7  # SLSQP's own tolerance on the objective relative to its start value
FTOL_SIMULATION = 1e-4  # the same with the full simulation: above its solver's sub-cell wiggle
RTOL = 1e-4  # the stopping rule: the objective's relative change over the last steps (SLSQP's 3, Adam's 15)
SETTLE_STEPS = {"slsqp": 3, "adam": 15}


class Stop(Exception):
    """Raised inside the loop when should_stop() says so."""


class Settled(Exception):
    """Raised inside the loop when the stopping rule says the run has converged."""


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
    run = _adam if optimiser == "adam" else _slsqp
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


def settled(history: list[dict], rtol: float, window: int) -> bool:
    """The stopping rule: whether the last `window` steps changed the objective by at most rtol of its value
    and every design among them (and the one before) was feasible."""
    if rtol <= 0 or len(history) <= window:
        return False
    last = history[-(window + 1) :]
    f = [r["objective"] for r in last]
    return all(r["violation"] <= FEASIBLE for r in last) and max(f) - min(f) <= rtol * abs(f[-1])


def _outlines(design: Design) -> tuple[torch.Tensor, torch.Tensor]:
    """(the section, the outline the flow sees) of a design."""
    flow = torch.as_tensor(design.points)
    return (flow if design.section is None else torch.as_tensor(design.section)), flow


def _worst(design: Design, problem: Problem) -> str:
    section, flow = _outlines(design)
    v = C.violations(section, problem.limits, flow)
    v["lift"] = problem.lift_violation(design.cl)
    return max(v, key=lambda name: v[name]) if v else "nothing"


StepCallback = Callable[[dict, Design], None]


def _record(result: Result, design: Design, step: int, t0: float, callback: StepCallback | None) -> None:
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
    _record(result, result.initial, 0, t0, callback)
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
            _record(result, design, step - 1, t0, callback)
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
    _record(result, design, steps, t0, callback)
    result.status = "steps"


def _slsqp(
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
    _record(result, result.initial, 0, t0, callback)

    def each(y: np.ndarray) -> None:
        step[0] += 1
        try:
            d, _ = ev(theta(y))
        except ValueError:
            return
        _record(result, d, step[0], t0, callback)
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
