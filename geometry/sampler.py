"""Random smooth closed bodies for datasets, normalised to D = 1 with the area centroid at the origin.

The main family is CCHT21's recipe, a closed curve through random points in angular sectors (here a closed
cubic B-spline of random control points, optionally with a repeated control point, which gives a pointed tail
or nose); beside it ellipses, NACA 4-digit sections, rounded rectangles, Fourier-radius bodies and lenses, so
that the data covers what the optimiser produces: pointed tails and fronts, lenses, slender bodies, mild
concavity. Every family is stretched, turned and mirrored at random within limits.

A sample depends only on (seed, index): samples can be drawn in any order, in parallel, and again after a
kill. Every sample is valid (geometry.validity), resampled to a fixed number of points, thick enough, and
passes the caller's `accept` test (the surrogate's window). A rejected draw is drawn again from the same
generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from geometry import presets, properties
from geometry.errors import ShapeError
from geometry.parametrisations import bspline_points, fourier_points
from geometry.shape import Shape

VERSION = 1  # bump when a family's recipe changes: datasets record it
DEFAULT_MIX = {"bspline": 0.5, "ellipse": 0.1, "naca": 0.12, "rect": 0.08, "fourier": 0.1, "lens": 0.1}
POINTS = 256  # points per sample outline
MIN_THICKNESS = 0.25  # in D: 4 cells at the dataset resolution (16 cells per D)
MAX_TRIES = 200


@dataclass(frozen=True)
class Sample:
    """One drawn body: its place in the stream, its family and the parameters it was drawn with."""

    index: int
    family: str
    params: dict[str, Any]
    # (POINTS, 2), counter-clockwise, D = 1, centroid at the origin, first point at the nose
    points: np.ndarray


def canonical(points: np.ndarray, n: int = POINTS) -> np.ndarray:
    """A body as a dataset stores it: n points evenly spaced, D = 1, centroid at the origin, first point at
    the nose (ShapeError for an invalid outline). The sampler's bodies and dragopt refine's designs both go
    through it."""
    p = Shape.from_points(resample(Shape.from_points(points).points, n)).points
    return np.roll(p, -int(np.argmin(p[:, 0])), axis=0)


def resample(points: np.ndarray, n: int = POINTS) -> np.ndarray:
    """n points evenly spaced in arc length along the closed outline, the first at the smallest x; the
    sharpest vertex of the input is kept exactly (a pointed tail stays pointed)."""
    p = np.asarray(points, dtype=float)
    d = p - np.roll(p, 1, axis=0)
    e = np.roll(p, -1, axis=0) - p
    cosang = np.sum(d * e, 1) / (np.linalg.norm(d, axis=1) * np.linalg.norm(e, axis=1))
    sharp = int(np.argmin(cosang))  # vertex with the largest turn
    ring = np.roll(p, -sharp, axis=0)
    ring = np.vstack([ring, ring[:1]])
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(ring, axis=0), axis=1))])
    t = np.arange(n) / n * s[-1]
    out = np.stack([np.interp(t, s, ring[:, 0]), np.interp(t, s, ring[:, 1])], 1)
    return np.roll(out, -int(np.argmin(out[:, 0])), axis=0)


def _turn(p: np.ndarray, degrees: float) -> np.ndarray:
    a = math.radians(degrees)
    return p @ np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])


def _bspline(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    n = int(rng.integers(4, 9))
    phi = 2 * np.pi * (np.arange(n) + rng.uniform(-0.3, 0.3, n)) / n
    r = rng.uniform(0.35, 1.0, n)
    ctrl = np.stack([r * np.cos(phi), r * np.sin(phi)], 1)
    sharp: list[int] = []
    # a pointed tail (or nose, if mirrored below): a control point repeated three times
    if rng.random() < 0.4:
        k = int(np.argmax(ctrl[:, 0]))
        sharp = [k]
        ctrl = np.concatenate([ctrl[:k], ctrl[k : k + 1].repeat(3, 0), ctrl[k + 1 :]])
    pts = bspline_points(torch.as_tensor(ctrl), 24).numpy()
    return pts, {"control": ctrl.round(6).tolist(), "sharp": sharp}


def _ellipse(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    ar = float(np.exp(rng.uniform(np.log(0.4), np.log(5.0))))
    return presets.ellipse_points(ar, 512), {"aspect": ar}


def _naca(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    t = int(rng.integers(16, 41))
    if rng.random() < 0.5:
        code = f"00{t:02d}"
    else:
        code = f"{int(rng.integers(1, 7))}{int(rng.integers(2, 7))}{t:02d}"
    return presets.naca4_points(code, 257), {"code": code}


def _rect(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    ar = float(np.exp(rng.uniform(np.log(0.4), np.log(3.0))))
    radius = float(rng.uniform(0.1, 0.5))
    return presets.rounded_rect_points(ar, radius, 512), {"aspect": ar, "radius": radius}


def _fourier(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    k = int(rng.integers(2, 6))
    a = rng.normal(0, 0.12, k) / np.arange(1, k + 1)
    b = rng.normal(0, 0.12, k) / np.arange(1, k + 1)
    a[0] = b[0] = 0.0  # k = 1 only shifts the body
    pts = fourier_points(torch.tensor(1.0), torch.as_tensor(a), torch.as_tensor(b), 512).numpy()
    return pts, {"a": a.round(6).tolist(), "b": b.round(6).tolist()}


def _lens(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Two circular arcs through (-1/2, 0) and (1/2, 0) with heights hu above and hl below: pointed at both
    ends."""
    hu = float(rng.uniform(0.08, 0.45))
    hl = hu if rng.random() < 0.6 else float(rng.uniform(0.08, 0.45))
    x = 0.5 * (1 - np.cos(np.linspace(0, np.pi, 129)))[1:-1] - 0.5  # cosine spacing, ends excluded

    def arc(h: float) -> np.ndarray:  # circle through (+-1/2, 0) and (0, h)
        rad = (0.25 + h * h) / (2 * h)
        return np.sqrt(rad * rad - x * x) - (rad - h)

    upper = np.stack([x[::-1], arc(hu)[::-1]], 1)
    lower = np.stack([x, -arc(hl)], 1)
    pts = np.vstack([[[0.5, 0.0]], upper, [[-0.5, 0.0]], lower])
    return pts, {"upper": hu, "lower": hl}


FAMILIES: dict[str, Callable[[np.random.Generator], tuple[np.ndarray, dict]]] = {
    "bspline": _bspline,
    "ellipse": _ellipse,
    "naca": _naca,
    "rect": _rect,
    "fourier": _fourier,
    "lens": _lens,
}


def check_mix(mix: dict[str, float]) -> dict[str, float]:
    """Normalised family weights, or ShapeError naming the unknown family or bad weight."""
    unknown = sorted(set(mix) - set(FAMILIES))
    if unknown:
        raise ShapeError(f"unknown shape families {unknown}; allowed: {', '.join(FAMILIES)}")
    if any(not (w >= 0 and math.isfinite(w)) for w in mix.values()) or sum(mix.values()) <= 0:
        raise ShapeError(f"family weights must be non-negative with a positive sum; got {mix}")
    total = math.fsum(mix.values())  # exact: the same weights (and dataset hash) on every Python
    return {k: round(float(w) / total, 12) for k, w in mix.items() if w > 0}


def draw(
    seed: int,
    index: int,
    mix: dict[str, float] | None = None,
    accept: Callable[[np.ndarray], bool] | None = None,
    n_points: int = POINTS,
    min_thickness: float = MIN_THICKNESS,
) -> Sample:
    """The sample `index` of the stream `seed`: the same arguments give the same shape, on any machine."""
    weights = check_mix(mix or DEFAULT_MIX)
    names = sorted(weights)
    rng = np.random.default_rng([int(seed), int(index), VERSION])
    for _ in range(MAX_TRIES):
        family = names[int(rng.choice(len(names), p=[weights[k] for k in names]))]
        raw, params = FAMILIES[family](rng)
        stretch = (
            float(np.exp(rng.uniform(np.log(0.6), np.log(2.0)))) if family in ("bspline", "fourier") else 1.0
        )
        angle = float(rng.uniform(-15, 15)) if rng.random() < 0.4 else 0.0
        mirror = bool(rng.random() < 0.3)  # nose <-> tail
        pts = raw * np.array([stretch, 1.0])
        pts = _turn(pts * np.array([-1.0 if mirror else 1.0, 1.0]), angle)
        try:
            pts = canonical(pts, n_points)
        except ShapeError:
            continue
        if float(properties.thickness(pts)) < min_thickness or (accept is not None and not accept(pts)):
            continue
        params = {**params, "stretch": stretch, "angle": angle, "mirror": mirror}
        return Sample(int(index), family, params, pts)
    raise ShapeError(
        f"no acceptable shape in {MAX_TRIES} draws for seed {seed}, index {index}: the mix {weights} cannot "
        "fit the window with the minimum thickness; loosen them"
    )
