"""Held-out bodies for an out-of-distribution test set: families that training never draws.

The training sampler (geometry.sampler) builds its bodies from B-splines, ellipses, NACA sections, rounded
rectangles, Fourier radii, circular-arc lenses, flat plates, bodies of revolution and bumped versions of
these. The families here come from other constructions, so a surrogate that does well on them has learnt the
flow rather than the recipes:

- superellipses |x/a|^n + |y/b|^n = 1, diamond-like (n < 2) or box-like (n > 2), at any angle; the exponents
  near 2, which give ellipses, are left out;
- Karman-Trefftz sections: conformal maps of a circle with a finite trailing-edge angle, whose thickness and
  camber lines differ from the NACA polynomials, at incidence;
- unions of two overlapping ellipses (peanuts, dumbbells, T- and L-like blobs) with their inner corners filled
  by a round closing: two lobes joined by a waist or a fillet;
- random polygons of 3 to 7 vertices with rounded corners: straight sides between corners of one radius;
- eggs and teardrops, asymmetric above and below, cut square at their thin end: a blunt base facing aft or
  into the flow;
- ellipses with a notch (a round bite or a slot with a round bottom) whose lips are rounded: a deep, cusp-free
  concavity, unlike the shallow waves of the training bodies.

The contract is sampler.draw's: a sample depends only on (seed, index), drawn from a generator of its own;
every sample is valid, canonical (D = 1, centroid at the origin, counter-clockwise, first point at the nose),
at least min_thickness thick and passes `accept`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from geometry import sampler
from geometry.errors import ShapeError
from geometry.families import DENSE
from geometry.outlines import POINTS, incline, polygon_outline
from geometry.sampler import MIN_THICKNESS, Sample

VERSION = 1  # bump when a family's recipe changes
STREAM = 104729  # keeps this generator apart from the sampler's and from the Re draws


def _ellipse(a: float, b: float, centre: tuple[float, float] = (0.0, 0.0), n: int = 256) -> Any:
    """A shapely ellipse of semi-axes a (along x) and b."""
    import shapely

    t = 2 * np.pi * np.arange(n) / n
    return shapely.Polygon(np.stack([centre[0] + a * np.cos(t), centre[1] + b * np.sin(t)], 1))


def _superellipse(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """|x/a|^n + |y/b|^n = 1 with n from 1.5 to 1.8 or 2.4 to 6 and a / b from 1 to 6, at any angle."""
    n = (
        float(rng.uniform(1.5, 1.8))
        if rng.random() < 0.3
        else float(np.exp(rng.uniform(np.log(2.4), np.log(6))))
    )
    aspect = float(np.exp(rng.uniform(0.0, np.log(6.0))))
    angle = float(rng.uniform(0.0, 180.0))
    t = 2 * np.pi * np.arange(DENSE) / DENSE
    c, s = np.cos(t), np.sin(t)
    pts = np.stack([aspect * np.sign(c) * np.abs(c) ** (2 / n), np.sign(s) * np.abs(s) ** (2 / n)], 1)
    return incline(pts, angle), {"exponent": n, "aspect": aspect, "angle": angle}


def karman_trefftz_points(thickness: float, camber: float, edge_angle: float, n: int = DENSE) -> np.ndarray:
    """A Karman-Trefftz section: the circle through zeta = 1 centred at (-thickness, camber) mapped by
    z = k ((zeta + 1)^k + (zeta - 1)^k) / ((zeta + 1)^k - (zeta - 1)^k), k = 2 - edge_angle / 180 (degrees);
    the trailing edge at +x."""
    k = 2.0 - edge_angle / 180.0
    centre = complex(-thickness, camber)
    theta = 2 * np.pi * np.arange(n) / n
    zeta = centre + abs(1.0 - centre) * np.exp(1j * theta)
    # on a circle through 0 that stays well away from the principal branch cut (the negative real axis)
    ratio = (zeta - 1.0) / (zeta + 1.0)
    w = np.zeros_like(ratio)  # 0^k = 0 at zeta = 1, the trailing edge
    w[ratio != 0] = ratio[ratio != 0] ** k
    z = k * (1.0 + w) / (1.0 - w)
    return np.stack([z.real, z.imag], 1)


def _karman_trefftz(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A Karman-Trefftz section (karman_trefftz_points), symmetric in 40 % of the draws, at -10 to 20 degrees
    incidence."""
    thickness = float(rng.uniform(0.04, 0.16))
    camber = 0.0 if rng.random() < 0.4 else float(rng.uniform(0.02, 0.12))
    edge_angle = float(rng.uniform(4.0, 20.0))
    incidence = float(rng.uniform(-10, 20))
    params = {"thickness": thickness, "camber": camber, "edge_angle": edge_angle, "incidence": incidence}
    return incline(karman_trefftz_points(thickness, camber, edge_angle), incidence), params


def _two_ellipses(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Two overlapping ellipses, side by side (a peanut or a dumbbell) or crossed (a T or an L), their inner
    corners filled by a closing of radius 0.05 to 0.2, at any angle."""
    import shapely

    kind = ("peanut", "dumbbell", "tee", "ell")[int(rng.integers(4))]
    b = float(rng.uniform(0.5, 0.9))
    if kind == "peanut":
        a2, b2 = float(rng.uniform(0.7, 1.0)), float(rng.uniform(0.5, 0.9))
        first, second = _ellipse(1.0, b), _ellipse(a2, b2, (float(rng.uniform(0.55, 0.8)) * (1 + a2), 0.0))
    elif kind == "dumbbell":
        r2 = float(rng.uniform(0.6, 1.0))
        first, second = _ellipse(1.0, 1.0), _ellipse(r2, r2, (float(rng.uniform(0.78, 0.9)) * (1 + r2), 0.0))
    else:
        b = float(rng.uniform(0.2, 0.4))  # a bar along x, a stem across it at its middle or its end
        a2, b2 = float(rng.uniform(0.2, 0.4)), float(rng.uniform(0.6, 1.0))
        x2 = 0.0 if kind == "tee" else 1.0 - 0.8 * a2
        first, second = _ellipse(1.0, b), _ellipse(a2, b2, (x2, 0.5 * b - b2))
    fillet = float(rng.uniform(0.05, 0.2))
    body = shapely.union(first, second).buffer(fillet, quad_segs=16).buffer(-fillet, quad_segs=16)
    angle = float(rng.uniform(0.0, 360.0))
    return incline(polygon_outline(body), angle), {"kind": kind, "fillet": fillet, "angle": angle}


def _polygon(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A polygon of 3 to 7 vertices at jittered angles and radii 0.6 to 1, stretched 0.7 to 2 times along x,
    its convex and concave corners rounded with one radius, 8 to 35 % of its inradius."""
    import shapely

    k = int(rng.integers(3, 8))
    phi = 2 * np.pi * (np.arange(k) + rng.uniform(-0.3, 0.3, k)) / k + rng.uniform(0.0, 2 * np.pi)
    r = rng.uniform(0.6, 1.0, k)
    stretch = float(rng.uniform(0.7, 2.0))
    poly = shapely.Polygon(np.stack([stretch * r * np.cos(phi), r * np.sin(phi)], 1))
    if not poly.is_valid:
        raise ShapeError("the random polygon intersects itself")
    radius = float(rng.uniform(0.08, 0.35)) * poly.area / (0.5 * poly.length)
    body = poly.buffer(radius, quad_segs=16).buffer(-2 * radius, quad_segs=16).buffer(radius, quad_segs=16)
    return polygon_outline(body), {"vertices": k, "stretch": stretch, "corner_radius": radius}


def _egg(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """An egg y = b sin t (1 + k cos t) or a teardrop y = b sin t sin^m(t / 2) (x = cos t), of different
    heights above and below (x from -1 to 1, the thin end at +1), cut square at x = 0.3 to 0.85: the blunt
    base faces aft or into the flow; at -20 to 20 degrees incidence."""
    kind = "egg" if rng.random() < 0.5 else "teardrop"
    upper = float(rng.uniform(0.45, 0.9))
    lower = upper * float(rng.uniform(0.55, 1.0))
    shape = float(rng.uniform(-0.4, -0.15)) if kind == "egg" else float(rng.uniform(1.0, 3.0))
    t = np.linspace(0.0, 2 * np.pi, DENSE, endpoint=False)
    height = np.where(np.sin(t) >= 0, upper, lower) * np.sin(t)
    y = height * (1 + shape * np.cos(t)) if kind == "egg" else height * np.abs(np.sin(t / 2)) ** shape
    cut = float(rng.uniform(0.3, 0.85))
    keep = np.cos(t) <= cut
    ends = np.flatnonzero(np.diff(keep.astype(int)))
    pts = np.stack([np.cos(t), y], 1)
    if len(ends) != 2:
        raise ShapeError("the cut does not cross the egg twice")
    pts = pts[keep]  # the outline runs from just after the cut round the nose to just before it
    facing = "aft" if rng.random() < 0.5 else "forward"
    if facing == "forward":
        pts = pts * np.array([-1.0, 1.0])
    angle = float(rng.uniform(-20, 20))
    params = {"kind": kind, "upper": upper, "lower": lower, "shape": shape, "cut": cut, "base": facing}
    return incline(pts, angle), {**params, "incidence": angle}


def _notch(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """An ellipse of aspect 1 to 3 (semi-minor axis 1) with a round bite (radius 0.3 to 0.6) or a slot (0.4
    to 0.8 wide, 0.4 to 0.9 deep, round at the bottom) cut at a random point of the outline, its
    lips rounded by an opening of radius 0.1 to 0.25: no cusps; at -30 to 30 degrees incidence."""
    import shapely

    aspect = float(rng.uniform(1.0, 3.0))
    body = _ellipse(aspect, 1.0, n=DENSE)
    psi = float(rng.uniform(0.0, 2 * np.pi))
    mouth = np.array([aspect * math.cos(psi), math.sin(psi)])
    inward = -np.array([math.cos(psi) / aspect, math.sin(psi)])
    inward /= np.linalg.norm(inward)
    if rng.random() < 0.5:
        kind, size, depth = "bite", float(rng.uniform(0.3, 0.6)), 0.0
        cutter = shapely.Point(*mouth).buffer(size, quad_segs=32)
    else:
        kind, size, depth = "slot", float(rng.uniform(0.4, 0.8)), float(rng.uniform(0.4, 0.9))
        line = shapely.LineString([mouth - inward, mouth + depth * inward])
        cutter = line.buffer(size / 2, quad_segs=16)
    lip = float(rng.uniform(0.1, 0.25))
    notched = body.difference(cutter).buffer(-lip, quad_segs=16).buffer(lip, quad_segs=16)
    angle = float(rng.uniform(-30, 30))
    params = {"aspect": aspect, "kind": kind, "at": psi, "size": size, "depth": depth, "lip": lip}
    return incline(polygon_outline(notched), angle), {**params, "incidence": angle}


FAMILIES: dict[str, Callable[[np.random.Generator], tuple[np.ndarray, dict]]] = {
    "heldout-superellipse": _superellipse,
    "heldout-karman-trefftz": _karman_trefftz,
    "heldout-two-ellipses": _two_ellipses,
    "heldout-polygon": _polygon,
    "heldout-egg": _egg,
    "heldout-notch": _notch,
}
DEFAULT_MIX = {name: 1.0 / len(FAMILIES) for name in FAMILIES}  # each construction tested alike


def check_mix(mix: dict[str, float]) -> dict[str, float]:
    """Normalised weights of held-out families, or ShapeError naming what is wrong."""
    return sampler.check_mix(mix, FAMILIES, "held-out")


def draw(
    seed: int,
    index: int,
    accept: Callable[[np.ndarray], bool] | None = None,
    n_points: int = POINTS,
    min_thickness: float = MIN_THICKNESS,
    *,
    mix: dict[str, float] | None = None,
) -> Sample:
    """The held-out sample `index` of the stream `seed`, of the families in `mix` (DEFAULT_MIX by default):
    the same arguments give the same shape, on any machine."""
    weights = check_mix(mix or DEFAULT_MIX)
    rng = np.random.default_rng([int(seed), int(index), STREAM, VERSION])
    drawn = sampler.draw_from(rng, weights, FAMILIES, n_points, min_thickness, accept)
    if drawn is None:
        raise ShapeError(
            f"no acceptable held-out shape in {sampler.MAX_TRIES} draws for seed {seed}, index {index}: "
            "loosen the window or the minimum thickness"
        )
    return Sample(int(index), *drawn)
