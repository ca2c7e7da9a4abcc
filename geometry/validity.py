"""Validity checks of a polygon, each failure a ShapeError that names the problem (shapely does the topology)."""

from __future__ import annotations

import numpy as np
import shapely

from geometry.errors import ShapeError


def as_points(points) -> np.ndarray:
    """Coerce to a float (n, 2) array, dropping a repeated closing point."""
    try:
        p = np.asarray(points, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ShapeError(f"shape points are not numbers: {exc}") from None
    if p.ndim != 2 or p.shape[1] != 2:
        raise ShapeError(f"shape points must be an (n, 2) array of x, y; got shape {p.shape}")
    if len(p) > 1 and np.array_equal(p[0], p[-1]):
        p = p[:-1]
    return p


def validate_points(points) -> np.ndarray:
    """Return the points as an (n, 2) counter-clockwise array, or raise ShapeError saying what is wrong."""
    p = as_points(points)
    if not np.all(np.isfinite(p)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(p), axis=1))[0])
        raise ShapeError(
            f"shape has a NaN or infinite coordinate (point {bad}); all coordinates must be finite"
        )
    if len(p) < 3:
        raise ShapeError(f"a shape needs at least 3 points; got {len(p)}")
    step = np.linalg.norm(np.roll(p, -1, axis=0) - p, axis=1)
    scale = max(float(np.ptp(p[:, 0])), float(np.ptp(p[:, 1])), 1e-300)
    if np.any(step <= 1e-12 * scale):
        i = int(np.flatnonzero(step <= 1e-12 * scale)[0])
        raise ShapeError(
            f"shape has duplicate consecutive points (points {i} and {(i + 1) % len(p)}); remove them"
        )
    ring = shapely.LinearRing(p)
    poly = shapely.Polygon(ring)
    # Collinearity is judged by the convex hull: the shoelace area of a self-intersecting outline (a symmetric
    # bow-tie) can also be zero, and that one must be reported as a self-intersection.
    if shapely.MultiPoint(p).convex_hull.area <= 1e-12 * scale**2:
        raise ShapeError("shape has zero area (all points on a line); a shape must enclose a region")
    if not ring.is_simple:
        reason = shapely.is_valid_reason(poly)
        raise ShapeError(
            f"shape outline intersects itself ({reason}); a shape must be a simple closed polygon"
        )
    if poly.area <= 1e-12 * scale**2:
        raise ShapeError("shape has zero area; a shape must enclose a region")
    if not ring.is_ccw:
        p = p[::-1].copy()
    return p
