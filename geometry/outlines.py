"""Outline tools the shape families and the datasets share: the canonical form a dataset stores (n points
evenly spaced, D = 1, centroid at the origin, first at the nose), arc-length resampling that keeps the
sharpest vertex, turning a body to an incidence, and a shapely construction's outline."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from geometry.errors import ShapeError
from geometry.shape import Shape

POINTS = 256  # points per sample outline


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


def turn(p: np.ndarray, degrees: float) -> np.ndarray:
    """The points turned counter-clockwise by `degrees` about the origin."""
    a = math.radians(degrees)
    return p @ np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])


def incline(points: np.ndarray, incidence: float) -> np.ndarray:
    """A body with its nose at -x (the flow along +x) at an angle of attack of `incidence` degrees, nose up
    positive: turned clockwise, as Shape.rotated(-incidence) turns it."""
    return turn(points, -incidence)


def polygon_outline(body: Any) -> np.ndarray:
    """The outline of a shapely polygon without its closing point or repeated points (ShapeError when the
    construction fell apart into pieces or holes)."""
    import shapely

    if not isinstance(body, shapely.Polygon) or body.is_empty or body.interiors:
        raise ShapeError(f"the construction gave a {body.geom_type} instead of one simple polygon")
    p = np.asarray(body.exterior.coords)[:-1]
    step = np.linalg.norm(p - np.roll(p, 1, axis=0), axis=1)
    return p[step > 1e-9 * float(np.ptp(p, axis=0).max())]
