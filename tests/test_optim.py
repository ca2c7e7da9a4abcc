"""Inverse design (optim/): parametrisations against analytic shapes, constraints against closed forms, the
optimisers against a problem with a known answer (least perimeter at fixed area: the circle, isoperimetric
inequality), backend gradients against finite differences, and the commands end to end on the shipped
model."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from app import cli
from geometry import parse_shape, properties
from geometry.io import read_csv
from optim import constraints as C
from optim import parametrise
from optim.backends import SimulationBackend, SurrogateBackend
from optim.design import Options
from optim.optimise import optimise
from optim.problem import Problem
from tests.helpers import error_line


class PerimeterBackend:
    """Objective = perimeter (an exact geometric truth: at fixed area its minimum is the circle, pi D)."""

    name = "perimeter"

    def __call__(self, points, re):
        return {"cd": properties.perimeter(points), "cl": points.new_zeros(())}


@pytest.fixture(scope="module")
def surrogate():
    return SurrogateBackend.load(cli_default_model())


def cli_default_model():
    from surrogate.paths import DEFAULT_MODEL

    return DEFAULT_MODEL


# ------------------------------------------------------------------------------------------- parametrisations


@pytest.mark.parametrize("kind", parametrise.KINDS)
@pytest.mark.parametrize("symmetric", [False, True])
def test_parametrisations_fit_an_ellipse_and_are_linear(kind, symmetric):
    s = parse_shape("ellipse:2")
    p = parametrise.make(kind, s.points, symmetric=symmetric)
    assert p.fit_error < 3e-3
    pts = p.points(p.theta0)
    assert float(properties.area(pts)) == pytest.approx(math.pi / 4, rel=2e-3)
    assert float(properties.signed_area(pts)) > 0  # counter-clockwise, as Shape's
    assert torch.allclose(p.points(2 * p.theta0), 2 * pts)
    if symmetric:  # mirrored about the flow axis: the set of points is its own mirror image
        mirror = pts * torch.tensor([1.0, -1.0], dtype=pts.dtype)
        assert torch.cdist(mirror, pts).min(1).values.max() < 1e-7  # (cdist itself rounds at 1e-8)
        assert p.size < parametrise.make(kind, s.points).size


def test_fourier_refuses_a_shape_that_is_not_star_shaped():
    from geometry.shape import Shape

    hook = np.array([[0, 0], [3, 0], [3, 2], [1, 2], [1, 1.5], [2.5, 1.5], [2.5, 0.5], [0, 0.5]], float)
    with pytest.raises(ValueError, match="star-shaped"):
        parametrise.make("fourier", Shape.from_points(hook).points)


# ------------------------------------------------------------------------------------------------ constraints


def test_constraint_values_match_closed_forms():
    s = torch.as_tensor(parse_shape("ellipse:2").points)  # semi-axes a = 1/sqrt(2), b = 1/(2 sqrt(2))
    a, b = 1 / math.sqrt(2), 1 / (2 * math.sqrt(2))
    lim = C.Limits(keep_area=True, min_thickness=0.5, max_length=2.0, max_height=1.0, max_curvature=10.0)
    g = C.inequalities(s, lim)
    assert float(g["max_length"]) == pytest.approx(2 * a - 2.0, abs=1e-3)
    assert float(g["min_thickness"]) == pytest.approx(0.5 - 2 * b, abs=1e-3)
    assert float(g["max_height"]) == pytest.approx(2 * b - 1.0, abs=1e-3)
    kappa_max = a / b**2  # at the ends of the major axis
    assert float(g["max_curvature"].max()) == pytest.approx((kappa_max - 10) / 10, rel=0.03)
    assert abs(float(C.equalities(s, lim)["area"])) < 1e-3
    assert set(C.active(s, lim)) == {"area"}
    assert C.violation(s, lim) < 1e-3
    lim.max_length = 1.0  # now violated by 2a - 1
    assert C.violation(s, lim) == pytest.approx(2 * a - 1.0, abs=1e-3)
    assert "max_length" in C.active(s, lim)


def test_circle_curvature_is_one_over_radius():
    c = torch.as_tensor(parse_shape("circle").points)
    assert C._curvature(c).numpy() == pytest.approx(2.0, rel=1e-3)


@pytest.mark.parametrize(
    "limits, match",
    [
        (C.Limits(min_thickness=1.2, max_height=1.0), "--min-thickness 1.2 is larger than --max-height 1"),
        (C.Limits(max_length=0.8, max_height=0.8), "does not fit in a 0.8 x 0.8 box"),
        (C.Limits(keep_area=False), "without --keep-area"),
        (C.Limits(max_length=-1.0), "positive"),
    ],
)
def test_infeasible_limits_are_named(limits, match):
    with pytest.raises(C.InfeasibleError, match=match):
        C.check(limits)


def test_the_in_distribution_constraint_is_the_reported_score_and_its_gradient_is_exact(surrogate):
    """coverage.score_torch (the optimiser's constraint) against coverage.score (the report), and its
    gradient against central differences along a smooth normal bump."""
    from surrogate import coverage

    cov = surrogate.coverage
    for spec in ("ellipse:2", "naca:2412", "circle"):
        p = torch.as_tensor(parse_shape(spec).points)
        assert float(coverage.score_torch(cov, p)) == pytest.approx(
            coverage.score(cov, p.numpy())["score"], rel=1e-4
        )
    p = torch.as_tensor(parse_shape("ellipse:2").points)
    t = torch.linspace(0, 2 * math.pi, len(p) + 1, dtype=p.dtype)[:-1]
    dp = 0.01 * torch.stack([torch.cos(t) * torch.sin(2 * t), torch.sin(t) * torch.sin(2 * t)], 1)
    x = p.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(coverage.score_torch(cov, x), x)
    h = 1e-4
    fd = (coverage.score_torch(cov, p + h * dp) - coverage.score_torch(cov, p - h * dp)) / (2 * h)
    assert float((g * dp).sum()) == pytest.approx(float(fd), rel=1e-3)


# --------------------------------------------------------------------------------------------- the optimisers


@pytest.mark.parametrize("optimiser, steps", [("slsqp", 80), ("adam", 300)])
def test_least_perimeter_at_fixed_area_is_the_circle(optimiser, steps):
    start = parse_shape("ellipse:2").points
    p = parametrise.make("bspline", start, 12)
    lim = C.Limits(keep_area=True)
    r = optimise(
        p, PerimeterBackend(), Problem([1.0], lim), optimiser, steps, lr=0.01 if optimiser == "adam" else None
    )
    assert r.initial.objective > math.pi * 1.05
    assert r.final.objective == pytest.approx(math.pi, rel=2e-3 if optimiser == "slsqp" else 1e-2)
    assert r.final.feasible and "area" in r.active
    assert [h["step"] for h in r.history] == sorted(h["step"] for h in r.history)


def test_active_height_bound_shapes_the_optimum():
    """Least perimeter at fixed area inside a box of height 0.6: the height bound is active, and the body is
    the stadium-like shape that fills it (its perimeter is above the circle's)."""
    p = parametrise.make("bspline", parse_shape("ellipse:2").points, 16, symmetric=True)
    lim = C.Limits(keep_area=True, max_height=0.6, symmetric=True)
    r = optimise(p, PerimeterBackend(), Problem([1.0], lim), "slsqp", 80)
    assert r.final.feasible
    assert "max_height" in r.active
    assert np.ptp(r.final.points[:, 1]) == pytest.approx(0.6, abs=3e-3)
    assert r.final.objective > math.pi


def test_stop_request_keeps_the_best_design_so_far():
    p = parametrise.make("bspline", parse_shape("ellipse:2").points, 12)
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 6

    r = optimise(p, PerimeterBackend(), Problem([1.0], C.Limits()), "slsqp", 80, should_stop=stop)
    assert r.status == "stopped"
    assert r.final.objective <= r.initial.objective
    assert r.final.objective == min(h["objective"] for h in r.history if h["violation"] <= 2e-3)


def test_the_stopping_rule_needs_a_flat_and_feasible_stretch():
    from optim.optimise import settled

    def hist(f, v=0.0):
        return [{"objective": x, "violation": v} for x in f]

    flat = [2.0, 1.5, 1.2, 1.100001, 1.1000005, 1.1, 1.1]
    assert settled(hist(flat), 1e-5, 3)
    assert not settled(hist(flat), 1e-7, 3)  # within 1e-5, not 1e-7
    assert not settled(hist(flat[:3]), 1e-5, 3)  # still falling
    assert not settled(hist(flat, v=0.01), 1e-5, 3)  # flat but infeasible: the penalty may still move it
    assert not settled(hist(flat), 0.0, 3)  # rtol 0: the rule is off
    assert not settled(hist(flat[-3:]), 1e-5, 3)  # too few steps to judge


def test_a_converged_run_stops_early_and_a_running_one_does_not(surrogate):
    """The circle at Re 20, area fixed: the objective is flat (the default rtol) well before 40 steps, and
    the answer is within 0.1% of the one SLSQP's own tight tolerance crawls to (rtol 0: tens of steps more
    for the last 0.05%). Adam with a small step is still falling after 30 steps: it runs them all."""
    from optim.design import run

    opts = Options(re=[20.0], steps=200, limits=C.Limits(keep_area=True, symmetric=True))
    fast = run(parse_shape("circle"), opts, surrogate).result
    assert fast.status == "converged" and fast.history[-1]["step"] < 40
    opts.rtol = 0.0
    full = run(parse_shape("circle"), opts, surrogate).result
    assert full.history[-1]["step"] > fast.history[-1]["step"]
    assert fast.final.cd == pytest.approx(full.final.cd, rel=1e-3)
    p = parametrise.make("bspline", parse_shape("ellipse:2").points, 12)
    slow = optimise(p, PerimeterBackend(), Problem([1.0], C.Limits(keep_area=True)), "adam", 30, lr=1e-4)
    assert slow.status == "steps" and slow.history[-1]["step"] == 30
    assert slow.final.objective < slow.initial.objective


# --------------------------------------------------------------------------------------------------- backends


def test_surrogate_backend_scales_with_the_body(surrogate):
    """A body s times larger at the same flow sees Re s and a force s times larger (per the start's D)."""
    from surrogate import physics

    pts = torch.as_tensor(parse_shape("ellipse:2").points)
    s = 1.15
    big = surrogate(pts * s, 10.0)["cd"]
    r = torch.tensor([10.0 * s])
    with torch.no_grad():  # each member on the normalised body at Re s; the backend is their mean
        ref = sum(
            physics.drag_lift_on(m(pts.float()[None], r).double(), r, surrogate.model.window)[0, 0] * s
            for m in surrogate.members
        ) / len(surrogate.members)
    assert len(surrogate.members) == 5  # the shipped default is an ensemble
    assert float(big) == pytest.approx(float(ref), rel=1e-5)


def test_surrogate_backend_gradient_matches_finite_differences(surrogate):
    p = parametrise.make("bspline", parse_shape("ellipse:2").points, 8)
    th = p.theta0.clone().requires_grad_(True)
    cd = surrogate(p.points(th), 10.0)["cd"]
    (g,) = torch.autograd.grad(cd, th)
    h = 1e-3
    for i in (1, 6, 11):
        e = torch.zeros_like(th)
        e[i] = h
        with torch.no_grad():
            fd = (
                surrogate(p.points(p.theta0 + e), 10.0)["cd"] - surrogate(p.points(p.theta0 - e), 10.0)["cd"]
            ) / (2 * h)
        assert float(g[i]) == pytest.approx(float(fd), rel=0.05, abs=2e-3 * float(g.abs().max()))


def test_simulation_backend_gradient_matches_finite_differences():
    """The adjoint through the backend's autograd Function, on a grid fixed at the start (coarse, for
    speed)."""
    sim = SimulationBackend(resolution=8)
    p = parametrise.make("bspline", parse_shape("ellipse:2").points, 8)
    sim.fix_grid(p.points(p.theta0).detach().numpy())
    th = p.theta0.clone().requires_grad_(True)
    v = sim(p.points(th), 10.0)
    (g,) = torch.autograd.grad(v["cd"] + 0.5 * v["cl"], th)
    h = 1e-4
    i = int(torch.argmax(g.abs()))
    e = torch.zeros_like(th)
    e[i] = h

    def f(t):
        w = sim(p.points(t), 10.0)
        return float(w["cd"] + 0.5 * w["cl"])

    fd = (f(p.theta0 + e) - f(p.theta0 - e)) / (2 * h)
    assert float(g[i]) == pytest.approx(fd, rel=0.02)


# --------------------------------------------------------------------------------------------------- commands


def test_optimize_command_lowers_the_drag_and_writes_its_files(tmp_path, capsys):
    out = tmp_path / "run"
    args = "optimize --shape circle --re 20 --keep-area --symmetric --steps 12 --verify -q --out".split()
    rc = cli.main([*args, str(out)])
    assert rc == 0
    r = json.loads((out / "result.json").read_text())
    keys = "cd_pred_initial cd_pred_final history active_constraints wall_s cd_sim_initial cd_sim_final"
    for key in keys.split():
        assert key in r
    assert r["cd_pred_final"] < 0.97 * r["cd_pred_initial"]
    assert r["cd_sim_final"] < r["cd_sim_initial"]  # the full simulation agrees that the drag went down
    assert r["cd_sim_initial"] == pytest.approx(r["cd_pred_initial"], rel=5e-3)
    assert {"area", "symmetric"} <= set(r["active_constraints"])
    assert all({"cd", "violation"} <= set(h) for h in r["history"])
    pts = read_csv(out / "shape.csv")
    assert float(properties.area(pts)) == pytest.approx(math.pi / 4, rel=3e-3)
    assert (out / "shapes.png").stat().st_size > 10_000 and (out / "history.png").stat().st_size > 10_000


def test_optimize_rejects_conflicting_limits_before_any_work(tmp_path, capsys):
    args = "optimize --shape circle --re 20 --min-thickness 2 --max-height 1 --out".split()
    rc = cli.main([*args, str(tmp_path / "x")])
    assert rc == 2
    assert "--min-thickness 2 is larger than --max-height 1" in error_line(capsys)
    assert not (tmp_path / "x" / "result.json").exists()


def test_verify_command_agrees_with_the_simulation_and_warns_outside_the_trained_range(tmp_path, capsys):
    f = tmp_path / "v.json"
    assert cli.main(["verify", "--shape", "ellipse:2", "--re", "10", "--json", str(f)]) == 0
    v = json.loads(f.read_text())
    keys = "cd_pred cd_sim rel_err cl_pred cl_sim cd_pressure_pred cd_pressure_sim cd_viscous_pred"
    keys += " cd_viscous_sim"
    for key in keys.split():
        assert key in v
    assert abs(v["rel_err"]) < 5e-3
    assert v["rel_err"] == pytest.approx(v["cd_pred"] / v["cd_sim"] - 1)
    assert v["ood"]["warnings"] == []
    capsys.readouterr()
    assert cli.main(["verify", "--shape", "ellipse:2", "--re", "0.3"]) == 0
    assert "outside the model's trained range 0.8 to 50" in capsys.readouterr().err


def test_verify_names_a_body_that_does_not_fit_the_window(capsys):
    assert cli.main(["verify", "--shape", "naca:0012", "--re", "10"]) == 2  # the shipped model: up to 1.54 D
    line = error_line(capsys)
    assert "reaches 1.80 D" in line and "at most 1.54 D" in line and "--backend simulation" in line


def test_trust_region_returns_a_simulated_design(tmp_path):
    from optim.trust import trust_region

    sur = SurrogateBackend.load(cli_default_model())
    p = parametrise.make("bspline", parse_shape("circle").points, 12, symmetric=True)
    lim = C.Limits(keep_area=True, symmetric=True, window=sur.window_reach)
    r = trust_region(p, sur, SimulationBackend(resolution=10), Problem([10.0], lim), steps=2, inner=8)
    assert r.final.cd < r.initial.cd  # simulated values: the answer is never an unchecked prediction
    assert all("rho" in h and "cd_pred" in h for h in r.history)
    sim = SimulationBackend(resolution=10)
    assert float(sim(torch.as_tensor(r.final.points), 10.0)["cd"]) == pytest.approx(
        r.final.cd, rel=1e-4
    )  # (grid)


def test_a_start_the_surrogate_cannot_judge_is_refused_with_advice(tmp_path, capsys):
    rc = cli.main(
        ["optimize", "--shape", "naca:2412", "--re", "10", "--keep-area", "--out", str(tmp_path / "x")]
    )
    assert rc == 2
    msg = error_line(capsys)
    assert "beyond the surrogate's window" in msg and "--backend simulation" in msg


def test_optimize_refuses_a_reynolds_number_the_solver_cannot_take(tmp_path, capsys):
    for re in ("0", "-1", "nan", "20,inf", "500"):
        assert cli.main(["optimize", "--shape", "circle", "--re", re, "--out", str(tmp_path / "x")]) == 2
        line = error_line(capsys)
        assert "--re" in line and "Reynolds number" in line, line
    with pytest.raises(ValueError, match="Reynolds number"):
        Options(re=[20.0, 0.0]).check()


def test_design_run_returns_a_typed_result_with_its_snapshots(surrogate):
    from optim.design import DesignRun, run

    opts = Options(re=[20.0], steps=3, limits=C.Limits(keep_area=True, symmetric=True))
    done = run(parse_shape("circle"), opts, surrogate)
    assert isinstance(done, DesignRun) and done.backend == "surrogate"
    assert done.snapshots[0][0] == 0 and done.snapshots[-1][1] is done.result.final.points
    out = done.to_dict()
    assert "_snapshots" not in out and out["cd_pred_final"] == pytest.approx(done.result.final.cd)
    assert list(out)[:4] == ["backend", "optimiser", "re", "status"] and "ood" in out
