"""The full simulation against independent truths: published and independent-solver drag, symmetry, conservation,
finite differences of the Jacobian and of the adjoint gradient."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from geometry import parse_shape
from geometry.parametrisations import bspline_points, circle_control_points
from sim import newton, setups
from sim.adjoint import gradient
from sim.equations import Equations
from sim.errors import SetupError, SimulationError
from sim.forces import body_force
from sim.grid import Grid, stretched_faces
from sim.linsolve import available_backends
from sim.parallel import load_results, simulate_many
from sim.solver import run_case, schaefer_turek, simulate

# Independent body-fitted OpenFOAM runs on the same box [-32, 32]^2 with slip sides (shared/reference/validation.md)
OPENFOAM = {1: 11.18, 20: 2.046, 40: 1.528}


@pytest.fixture(scope="module")
def circle():
    return parse_shape("circle")


@pytest.fixture(scope="module")
def circle_re20(circle):
    return simulate(circle, 20.0)


def test_schaefer_turek_coarse():
    r = schaefer_turek(16).to_dict()
    assert abs(r["cd_rel_err"]) < 0.01, r
    assert abs(r["cl"] - r["cl_ref"]) < 0.005, r
    assert abs(r["dp_rel_err"]) < 0.05, r


@pytest.mark.slow
def test_schaefer_turek_validation_resolution():
    r = schaefer_turek(setups.VALIDATION_RESOLUTION).to_dict()
    assert abs(r["cd_rel_err"]) < 0.005, r
    assert abs(r["cl"] - r["cl_ref"]) < 0.005, r
    assert abs(r["dp_rel_err"]) < 0.02, r


@pytest.mark.parametrize("re", [1, 20, 40])
def test_unconfined_circle_matches_openfoam(circle, re):
    r = simulate(circle, float(re))
    assert r.converged and r.steps <= 8
    assert abs(r.cd / OPENFOAM[re] - 1) < 0.01, (re, r.cd)


def test_unconfined_circle_re10_dennis_chang(circle):
    r = simulate(circle, 10.0)
    assert abs(r.cd / 2.846 - 1) < 0.02, r.cd


def test_pressure_viscous_split_matches_openfoam(circle_re20):
    r = circle_re20
    assert r.cd_pressure + r.cd_viscous == pytest.approx(r.cd, rel=1e-12)
    assert abs(r.cd_pressure / 1.216 - 1) < 0.03, r.cd_pressure
    assert abs(r.cd_viscous / 0.829 - 1) < 0.03, r.cd_viscous


def test_two_force_evaluations_agree(circle_re20):
    """Penalisation/cut-link force against a control-volume momentum balance on interpolated fields."""
    r = circle_re20
    assert abs(r.cd_momentum / r.cd - 1) < 0.01, (r.cd, r.cd_momentum)


def test_box_size_lowers_low_re_drag(circle):
    """No Stokes solution exists in unbounded 2D: a larger box lowers the Re-1 drag (OpenFOAM: 11.18 -> 10.75)."""
    small = simulate(circle, 1.0, box=32.0).cd
    large = simulate(circle, 1.0, box=64.0).cd
    assert large < small
    assert abs(large / 10.75 - 1) < 0.02, large


def test_symmetric_body_has_no_lift_and_mirror_mirrors_lift():
    sym = simulate(parse_shape("naca:0012"), 20.0)
    assert abs(sym.cl) < 1e-3 * sym.cd
    body = parse_shape("naca:2412").rotated(-5.0)
    a = simulate(body, 20.0)
    b = simulate(body.mirrored(), 20.0)
    assert abs(a.cl) > 0.05
    assert b.cl == pytest.approx(-a.cl, rel=0.02)
    assert b.cd == pytest.approx(a.cd, rel=0.01)


def test_slender_ellipse_has_less_drag_than_circle(circle_re20):
    ell = simulate(parse_shape("ellipse:2"), 20.0)
    assert ell.cd < circle_re20.cd


def test_mass_is_conserved(circle_re20):
    r = circle_re20
    u, v, _ = r.fields()
    g = r.domain.grid
    inflow = np.sum(u[0] * g.dy)
    outflow = np.sum(u[-1] * g.dy)
    assert outflow == pytest.approx(inflow, rel=1e-9)
    div = (u[1:] - u[:-1]) * g.dy[None, :] + (v[:, 1:] - v[:, :-1]) * g.dx[:, None]
    assert np.max(np.abs(div)) < 1e-9


def test_jacobian_matches_finite_differences():
    grid = Grid(stretched_faces(-3, 3, -1, 1, 0.5, 1.3), stretched_faces(-2, 2, -1, 1, 0.5, 1.3))
    for walls in ("slip", "noslip"):
        eq = Equations(grid, 0.05, np.linspace(0.8, 1.2, grid.ny), walls)
        rng = np.random.default_rng(0)
        q = rng.normal(size=eq.n)
        pen = np.abs(rng.normal(size=eq.n))
        J = eq.jacobian(q, pen).toarray()
        eps = 1e-6
        for k in rng.choice(eq.n, 12, replace=False):
            dq = np.zeros(eq.n)
            dq[k] = eps
            fd = (eq.residual(q + dq, pen) - eq.residual(q - dq, pen)) / (2 * eps)
            np.testing.assert_allclose(J[:, k], fd, atol=1e-7)


def test_newton_converges_quadratically(circle):
    """Exact Newton: each step squares the error, so the residual falls ever faster; chord steps save factorisations."""
    domain = setups.unconfined(20.0, circle.bounds(), 12)
    r = run_case(circle.points, domain, 20.0, 12)
    eq = r.equations
    pen = eq.body_vector(r.c_u, r.c_v)
    exact = newton.solve(
        lambda q: eq.residual(q, pen), lambda q: eq.jacobian(q, pen), eq.uniform_state(), chord=False
    )
    h = exact.residuals
    assert exact.steps <= 6 and h[-1] <= 1e-9
    drops = [a / b for a, b in zip(h[:-1], h[1:], strict=True)]
    assert all(b > a for a, b in zip(drops[1:], drops[2:], strict=False)) and drops[-1] > 1000  # accelerating
    assert r.factorisations < exact.factorisations  # chord steps reuse factorisations
    u, v, _ = eq.fields(exact.q)
    cd_exact = domain.force_scale * float(body_force(u, v, r.c_u, r.c_v)[0])
    assert cd_exact == pytest.approx(r.cd, rel=1e-7)  # the same converged state


def test_adjoint_gradient_matches_finite_differences():
    n_res, re = 12, 20.0
    ctrl0 = circle_control_points(8, 0.5)
    domain = setups.unconfined(re, (-0.6, -0.6, 0.6, 0.6), n_res)  # fixed grid for all perturbations

    def cd(ctrl):
        return run_case(bspline_points(ctrl).detach().numpy(), domain, re, n_res).cd

    base = run_case(bspline_points(ctrl0).numpy(), domain, re, n_res)
    theta = ctrl0.clone().requires_grad_(True)
    g = gradient(base, bspline_points(theta), theta)
    eps = 1e-4
    for i, d in [(2, 1), (4, 0), (1, 1)]:
        cp, cm = ctrl0.clone(), ctrl0.clone()
        cp[i, d] += eps
        cm[i, d] -= eps
        fd = (cd(cp) - cd(cm)) / (2 * eps)
        assert abs(fd) > 1e-3
        assert g[i, d].item() == pytest.approx(fd, rel=0.02), (i, d, g[i, d].item(), fd)


def test_adjoint_gradient_of_lift_matches_finite_differences():
    n_res, re = 12, 10.0
    ctrl0 = circle_control_points(8, 0.5)
    domain = setups.unconfined(re, (-0.6, -0.6, 0.6, 0.6), n_res)
    base = run_case(bspline_points(ctrl0).numpy(), domain, re, n_res)
    theta = ctrl0.clone().requires_grad_(True)
    g = gradient(base, bspline_points(theta), theta, objective="cl")
    eps = 1e-4
    cp, cm = ctrl0.clone(), ctrl0.clone()
    cp[1, 1] += eps
    cm[1, 1] -= eps
    fd = (
        run_case(bspline_points(cp).numpy(), domain, re, n_res).cl
        - run_case(bspline_points(cm).numpy(), domain, re, n_res).cl
    ) / (2 * eps)
    assert g[1, 1].item() == pytest.approx(fd, rel=0.02)


def test_adjoint_gradient_of_a_weighted_objective_is_the_combination_in_one_call():
    """Cd + w Cl in one call (one backward through the points' graph) equals the sum of the two gradients."""
    n_res, re, w = 12, 10.0, -0.7
    ctrl0 = circle_control_points(8, 0.5) * torch.tensor([1.3, 0.8], dtype=torch.float64)
    ctrl0[2, 1] += 0.05  # no symmetry: Cl and its gradient are not zero
    domain = setups.unconfined(re, (-0.8, -0.6, 0.8, 0.6), n_res)
    base = run_case(bspline_points(ctrl0).numpy(), domain, re, n_res)
    theta = ctrl0.clone().requires_grad_(True)
    combined = gradient(base, bspline_points(theta), theta, objective={"cd": 1.0, "cl": w})
    g_cd = gradient(base, bspline_points(theta), theta, objective="cd")
    g_cl = gradient(base, bspline_points(theta), theta, objective="cl")
    assert torch.abs(g_cl).max() > 1e-3
    err = torch.abs(combined - (g_cd + w * g_cl)).max() / torch.abs(combined).max()
    assert err < 1e-4, err  # the adjoint solves are refined to about 1e-5
    with pytest.raises(ValueError, match="objective"):
        gradient(base, bspline_points(theta), theta, objective={"cm": 1.0})


@pytest.mark.skipif("pardiso" not in available_backends(), reason="PARDISO not installed here")
def test_linear_solvers_agree(circle):
    a = simulate(circle, 20.0, resolution=10, backend="pardiso")
    b = simulate(circle, 20.0, resolution=10, backend="splu")
    assert a.cd == pytest.approx(b.cd, rel=1e-8)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(re=0.0), "positive"),
        (dict(re=-3.0), "positive"),
        (dict(re=math.nan), "positive"),
        (dict(re=math.inf), "positive"),
        (dict(re=20.0, resolution=4), "at least 8"),
        (dict(re=20.0, box=3.0), "between 5 and 256"),
        (dict(re=20.0, box=math.inf), "between 5 and 256"),
        (dict(re=20.0, box=4.0), "between 5 and 256"),
    ],
)
def test_bad_setup_is_a_clear_error(circle, kwargs, match):
    with pytest.raises(SetupError, match=match):
        simulate(circle, **kwargs)


def test_body_too_large_for_domain():
    big = parse_shape("ellipse:20")  # 4.5 D long: its ends are 2.2 D from the centroid
    with pytest.raises(SetupError, match="does not fit"):
        simulate(big, 10.0, box=6.0)


def test_newton_checks_the_residual_of_its_last_allowed_step():
    import scipy.sparse as sp

    res = newton.solve(lambda q: q - 1.0, lambda q: sp.identity(2, format="csr"), np.zeros(2), max_steps=1)
    assert res.steps == 1 and np.allclose(res.q, 1.0)


def test_reynolds_number_may_be_any_real_number_type(circle):
    setups.check_reynolds(np.int64(20))
    setups.check_reynolds(np.float32(2.5))


def test_divergence_is_reported_with_step_and_cause():
    def residual(q):
        return np.where(q > 1.5, np.nan, q - 2.0)

    import scipy.sparse as sp

    with pytest.raises(SimulationError, match=r"Newton step \d+.*not finite"):
        newton.solve(residual, lambda q: sp.identity(3, format="csr"), np.zeros(3))
    with pytest.raises(SimulationError, match="no convergence after 2 Newton steps"):
        newton.solve(
            lambda q: q**3 + 1, lambda q: sp.diags(3 * q**2 + 1e-3, format="csr"), np.ones(3) * 5, max_steps=2
        )


def test_simulate_many_runs_in_parallel_and_resumes(tmp_path):
    shapes = [parse_shape("circle"), parse_shape("ellipse:2"), np.array([[0, 0], [1, 1], [1, 0], [0, 1.0]])]
    res = [10.0, 20.0, 5.0]
    path = tmp_path / "results.jsonl"
    first = list(simulate_many(shapes[:2], res[:2], workers=2, results_path=path, resolution=8))
    assert sorted(r["index"] for r in first) == [0, 1] and all(r["ok"] for r in first)
    with open(path, "a") as f:  # a kill mid-write leaves a torn line
        f.write('{"index": 2, "re"')
    again = list(simulate_many(shapes, res, workers=2, results_path=path, resolution=8))
    assert [r["index"] for r in again] == [2]  # only the missing case runs
    assert not again[0]["ok"] and "intersects itself" in again[0]["error"]
    done = load_results(path)
    assert sorted(done) == [0, 1, 2]
    serial = simulate(parse_shape("ellipse:2"), 20.0, resolution=8)
    assert done[1]["cd"] == pytest.approx(serial.cd, rel=1e-10)
    with pytest.raises(ValueError, match="different batch"):  # same file, other Reynolds numbers: refused
        list(simulate_many(shapes, [11.0, 20.0, 5.0], workers=1, results_path=path, resolution=8))


def test_simulate_many_rejects_mismatched_input():
    with pytest.raises(ValueError, match="one per shape"):
        list(simulate_many([parse_shape("circle")], [1.0, 2.0]))


def test_adjoint_scaling_gradient_obeys_similarity():
    """Growing the body by a factor s in a fixed box is the unit body at Re * s in a box 32 / s, with forces times s:
    dCd/ds = Cd + Re dCd/dRe - B dCd/dB. The right side needs no shape change at all, so it checks the adjoint's
    physics, not just its algebra. (The volume-fraction penalisation fails this by orders of magnitude.)"""
    from geometry.presets import circle_points

    re, n_res, box = 20.0, 16, 32.0
    p0 = torch.as_tensor(circle_points(256))
    bounds = (-0.6, -0.6, 0.6, 0.6)

    def cd(r, b):
        return run_case(p0.numpy(), setups.unconfined(r, bounds, n_res, box=b), r, n_res).cd

    base = run_case(p0.numpy(), setups.unconfined(re, bounds, n_res, box=box), re, n_res)
    s = torch.ones((), dtype=torch.float64, requires_grad=True)
    adjoint = gradient(base, p0 * s, s).item()
    d_re = (cd(re + 0.4, box) - cd(re - 0.4, box)) / 0.8
    d_box = (cd(re, box + 2) - cd(re, box - 2)) / 4.0
    similarity = base.cd + re * d_re - box * d_box
    assert adjoint == pytest.approx(similarity, rel=0.03)
