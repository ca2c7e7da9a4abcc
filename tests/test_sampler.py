"""The training sampler's and the held-out sampler's families: every body valid, canonical, thick enough and
inside the reach; draws deterministic; each family as its recipe says."""

from __future__ import annotations

import functools
import json
import math

import numpy as np
import pytest
import shapely

from geometry import heldout, properties, sampler
from geometry.errors import ShapeError
from geometry.sampler import MIN_THICKNESS, POINTS, Sample
from geometry.validity import validate_points

REACH = 3.0  # the farthest |x| or |y| from the centroid, in D, that the caller's window takes
DRAWS = 20
INCIDENCE = {
    "airfoil": (-10, 20),
    "plate": (-10, 20),
    "slender": (-10, 20),
    "torpedo": (-5, 10),
    "bumpy": (-10, 20),
}
CASES = [("sampler", f) for f in sampler.FAMILIES] + [("heldout", f) for f in heldout.FAMILIES]


def _fits(points: np.ndarray) -> bool:
    return float(np.abs(points).max()) <= REACH


def _draw(module: str, family: str, seed: int, index: int) -> Sample:
    if module == "sampler":
        return sampler.draw(seed, index, {family: 1.0}, _fits)
    return heldout.draw(seed, index, _fits, mix={family: 1.0})


@functools.cache
def _samples(module: str, family: str) -> tuple[Sample, ...]:
    return tuple(_draw(module, family, 0, i) for i in range(DRAWS))


def _turns(p: np.ndarray) -> np.ndarray:
    """The turn of the outline at each vertex, in degrees."""
    d, e = p - np.roll(p, 1, 0), np.roll(p, -1, 0) - p
    cos = np.sum(d * e, 1) / (np.linalg.norm(d, axis=1) * np.linalg.norm(e, axis=1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


@pytest.mark.parametrize("module, family", CASES, ids=[f for _, f in CASES])
def test_every_family_draws_canonical_bodies(module, family):
    for s in _samples(module, family):
        p = s.points
        assert s.family == family and p.shape == (POINTS, 2)
        np.testing.assert_array_equal(validate_points(p), p)  # valid, and counter-clockwise already
        assert float(properties.signed_area(p)) > 0
        assert float(properties.equivalent_diameter(p)) == pytest.approx(1.0, abs=1e-9)
        assert np.abs(np.asarray(properties.centroid(p))).max() < 1e-9
        assert np.argmin(p[:, 0]) == 0  # the first point at the nose
        assert float(properties.thickness(p)) >= MIN_THICKNESS
        assert _fits(p)
        json.dumps(s.params)  # datasets store the parameters as JSON


@pytest.mark.parametrize("module, family", CASES, ids=[f for _, f in CASES])
def test_a_sample_depends_only_on_seed_and_index(module, family):
    a, again, other = _draw(module, family, 5, 3), _draw(module, family, 5, 3), _draw(module, family, 5, 4)
    np.testing.assert_array_equal(a.points, again.points)
    assert a.params == again.params
    assert not np.array_equal(a.points, other.points)


@pytest.mark.parametrize("family", sorted(INCIDENCE))
def test_incidence_is_drawn_in_its_range(family):
    lo, hi = INCIDENCE[family]
    angles = np.array([s.params["incidence"] for s in _samples("sampler", family)])
    assert np.all((angles >= lo) & (angles <= hi))
    assert np.ptp(angles) > 0.5 * (hi - lo)  # spread over the range, not stuck at one angle


def test_incidence_is_the_angle_of_attack_nose_up():
    """A symmetric section's chord, from the trailing edge (its sharpest vertex) to the leading edge (the
    point farthest from it), rises by the incidence."""
    symmetric = [s for i in range(40) if (s := _draw("sampler", "airfoil", 1, i)).params["code"][:2] == "00"]
    assert len(symmetric) >= 5
    for s in symmetric:
        p = s.points
        te = int(np.argmax(_turns(p)))
        le = int(np.argmax(np.linalg.norm(p - p[te], axis=1)))
        chord = math.degrees(math.atan2(p[le, 1] - p[te, 1], p[te, 0] - p[le, 0]))
        assert chord == pytest.approx(s.params["incidence"], abs=1e-6)


def test_lobed_bodies_are_clearly_non_convex_in_a_good_share():
    deficit = [
        1 - shapely.Polygon(s.points).area / shapely.Polygon(s.points).convex_hull.area
        for s in _samples("sampler", "lobed")
    ]
    assert np.mean(np.array(deficit) > 0.02) >= 0.3


def test_bumpy_bodies_have_sharp_and_blunt_trailing_edges():
    samples = [_draw("sampler", "bumpy", 2, i) for i in range(40)]
    edges = {s.params["trailing_edge"] for s in samples}
    assert {"as drawn", "flat", "rounded"} <= edges
    sections = [s for s in samples if s.params["base"] == "naca"]
    assert any(s.params["trailing_edge"] != "as drawn" for s in sections)
    for s in sections:  # a NACA trailing edge turns by over 140 degrees, a base's corners by about 90
        assert (_turns(s.points).max() > 120) == (s.params["trailing_edge"] == "as drawn")
    assert all(s.params["bumps"] for s in samples)


def test_heldout_families_are_their_own():
    assert not set(heldout.FAMILIES) & set(sampler.FAMILIES)
    assert all(name.startswith("heldout-") for name in heldout.FAMILIES)
    assert set(heldout.DEFAULT_MIX) == set(heldout.FAMILIES)
    # its own generator: the same (seed, index) gives another body than the sampler's
    assert not np.array_equal(heldout.draw(0, 0).points, sampler.draw(0, 0).points)
    with pytest.raises(ShapeError, match="unknown held-out families"):
        heldout.draw(0, 0, mix={"airfoil": 1.0})


def test_the_default_mix_names_every_family_and_sums_to_one():
    assert set(sampler.DEFAULT_MIX) == set(sampler.FAMILIES)
    assert math.fsum(sampler.DEFAULT_MIX.values()) == pytest.approx(1.0, abs=1e-12)


def test_a_version_1_mix_draws_what_version_1_drew():
    """Version 1's families and generator are unchanged, so its datasets can be redrawn: these are version 1's
    first draws of its default mix (family, angle, mirror, first point)."""
    mix = {"bspline": 0.5, "ellipse": 0.1, "naca": 0.12, "rect": 0.08, "fourier": 0.1, "lens": 0.1}
    version_1 = [
        ("lens", 2.763282455, False, (-0.780018852, -0.037648237)),
        ("lens", 13.924516793, False, (-0.579363313, -0.143641044)),
        ("naca", 0.0, True, (-1.104628147, -0.0456451)),
        ("rect", 0.0, False, (-0.322735168, 0.43745708)),
    ]
    for i, (family, angle, mirror, first) in enumerate(version_1):
        s = sampler.draw(3, i, mix, min_thickness=0.25)
        assert (s.family, s.params["mirror"]) == (family, mirror)
        assert s.params["angle"] == pytest.approx(angle, abs=1e-9)
        np.testing.assert_allclose(s.points[0], first, atol=1e-9)
