"""Validity checks of a polygon, each failure a ShapeError that names the problem (shapely does the
topology)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from geometry.errors import ShapeError

# Outlines are checked and measured on coordinates moved near the origin and scaled to about unit size (see
# `working_frame`), so their units and placement do not matter. Outside these limits double precision cannot
# hold the outline: its size must be in [MIN_SIZE, MAX_SIZE], and its distance from the origin at most
# MAX_SPREAD sizes (double precision resolves 2.2e-16 of the distance there: 1e-6 of the size at the limit).
MIN_SIZE, MAX_SIZE = 1e-250, 1e250
MAX_SPREAD = 2.0**32  # 4.3e9


def working_frame(p: np.ndarray) -> tuple[np.ndarray, float]:
    """(ref, s): the outline is handled as (p - ref) / s. For an outline of size 1/1000 to 1000 within 16
    sizes of the origin, ref = 0 and s = 1 (the numbers are used as they are, bit for bit as before);
    otherwise ref is the bounding-box centre and s the power of two nearest the size (exact), or ShapeError
    when double precision cannot represent the outline there."""
    lo, hi = p.min(0), p.max(0)
    half = float(np.max(0.5 * hi - 0.5 * lo))  # halves first: hi - lo may overflow
    far = float(np.max(np.abs(p)))
    if far > MAX_SPREAD * half:
        raise ShapeError(
            f"shape of size {2 * half:.3g} lies {far:.3g} from the origin: double precision resolves only "
            f"{far * 2.2e-16:.1g} there; move the coordinates near the origin "
            "(subtract one of its points)"
        )
    if not (MIN_SIZE <= half <= MAX_SIZE):
        raise ShapeError(
            f"shape size {2 * half:.3g} is outside what double precision can compute with "
            f"({2 * MIN_SIZE:g} to {2 * MAX_SIZE:g}); give the coordinates in other units"
        )
    centre = 0.5 * lo + 0.5 * hi
    if 5e-4 <= half <= 500.0 and float(np.max(np.abs(centre))) <= 16.0 * half:
        return np.zeros(2), 1.0
    return centre, float(2.0 ** np.round(np.log2(half)))


def as_points(points: ArrayLike) -> np.ndarray:
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


def validate_points(points: ArrayLike) -> np.ndarray:
    """Return the points as an (n, 2) counter-clockwise array, or raise ShapeError saying what is wrong.

    The checks run in the working frame (`working_frame`), so they do not depend on units or placement."""
    p = as_points(points)
    if not np.all(np.isfinite(p)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(p), axis=1))[0])
        raise ShapeError(
            f"shape has a NaN or infinite coordinate (point {bad}); all coordinates must be finite"
        )
    if len(p) < 3:
        raise ShapeError(f"a shape needs at least 3 points; got {len(p)}")
    ref, s = working_frame(p)
    raw, p = p, (p - ref) / s
    step = np.linalg.norm(np.roll(p, -1, axis=0) - p, axis=1)
    scale = max(float(np.ptp(p[:, 0])), float(np.ptp(p[:, 1])), 1e-300)
    if np.any(step <= 1e-12 * scale):
        i = int(np.flatnonzero(step <= 1e-12 * scale)[0])
        raise ShapeError(
            f"shape has duplicate consecutive points (points {i} and {(i + 1) % len(p)}); remove them"
        )
    import shapely

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
    return raw if ring.is_ccw else raw[::-1].copy()
