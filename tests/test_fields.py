"""Resampled fields: consistency with the solver's own interpolation, free stream far away, and (in PhiFlow) a
velocity field that is nearly divergence-free away from the body."""

import numpy as np
import pytest

from geometry import parse_shape
from sim.fields import sample, to_phiflow, uniform_centres
from sim.solver import simulate


@pytest.fixture(scope="module")
def sampled():
    result = simulate(parse_shape("circle"), 20.0, 12)
    return result, sample(result, 64, 3.0)


def test_uniform_centres_cover_the_window():
    c = uniform_centres(4, 1.0)
    np.testing.assert_allclose(c, [-0.75, -0.25, 0.25, 0.75])


def test_sampled_fields_are_physical(sampled):
    result, s = sampled
    assert s["u"].shape == (64, 64) and s["mask"].sum() > 0
    X, Y = np.meshgrid(s["x"], s["y"], indexing="ij")
    deep = np.hypot(X, Y) < 0.4  # one cell or more inside the outline
    assert s["mask"][deep].all() and np.abs(s["u"][deep]).max() < 0.01  # at rest inside the body
    assert s["u"].max() > 1.1  # accelerated past the sides
    assert s["p"][s["x"] < -0.6][:, 32].max() == pytest.approx(s["p"].max(), rel=0.3)  # stagnation upstream
    sym = s["u"] - s["u"][:, ::-1]  # symmetric about the flow axis
    assert np.abs(sym).max() < 1e-6


def test_phiflow_velocity_is_nearly_divergence_free_away_from_the_body(sampled):
    from phi.torch import flow

    _, s = sampled
    velocity, pressure = to_phiflow(s)
    assert velocity.shape.spatial.sizes == (64, 64) and pressure.values.numpy("x,y").shape == (64, 64)
    np.testing.assert_allclose(pressure.values.numpy("x,y"), s["p"])
    div = flow.field.divergence(velocity).values.numpy("x,y")
    X, Y = np.meshgrid(s["x"], s["y"], indexing="ij")
    far = (np.hypot(X, Y) > 1.0) & (np.abs(X) < 2.8) & (np.abs(Y) < 2.8)
    grad_scale = np.abs(np.gradient(s["u"], s["x"], axis=0)).max()
    assert np.abs(div[far]).max() < 0.02 * grad_scale


def test_sample_is_centred_on_the_body_in_the_channel():
    from sim.channel import schaefer_turek

    channel = schaefer_turek(8).sim
    s = sample(channel, 32, 1.0)
    assert s["mask"].sum() > 0  # the cylinder at (2, 2) is in the window
    assert np.mean(s["x"]) == pytest.approx(2.0, abs=1e-9) and np.mean(s["y"]) == pytest.approx(2.0, abs=1e-9)
