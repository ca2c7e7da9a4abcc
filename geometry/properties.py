"""Area, centroid, perimeter and thickness of a closed polygon, for numpy arrays and torch tensors alike; and
how sharply it turns (sharpest_turn, numpy only).

Polygons are (n, 2) arrays, counter-clockwise, last point not repeated. Tensors give tensors, so gradients
flow to the points (the optimiser, the adjoint); numpy input gives numpy float64 and never imports torch
(geometry.arrays).
"""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np

from geometry.arrays import Array, amax, amin, asarray, namespace, norm_rows


def as_tensor(points: Array) -> Array:
    """A float64 tensor of array-like input; tensors pass through untouched (their gradients kept)."""
    import torch

    return asarray(points, torch)


def _points(points: Array) -> tuple[ModuleType, Array]:
    xp = namespace(points)
    return xp, asarray(points, xp)


def signed_area(points: Array) -> Array:
    """Shoelace area, positive for counter-clockwise polygons."""
    xp, p = _points(points)
    x, y = p[:, 0], p[:, 1]
    return 0.5 * xp.sum(x * xp.roll(y, -1) - xp.roll(x, -1) * y)


def area(points: Array) -> Array:
    """Enclosed area, whatever the orientation."""
    return abs(signed_area(points))


def centroid(points: Array) -> Array:
    """Area centroid (not the mean of the vertices, which depends on the point spacing)."""
    xp, p = _points(points)
    x, y = p[:, 0], p[:, 1]
    xn, yn = xp.roll(x, -1), xp.roll(y, -1)
    cross = x * yn - xn * y
    a = 0.5 * xp.sum(cross)
    cx = xp.sum((x + xn) * cross) / (6.0 * a)
    cy = xp.sum((y + yn) * cross) / (6.0 * a)
    return xp.stack([cx, cy])


def perimeter(points: Array) -> Array:
    """Length of the closed outline."""
    xp, p = _points(points)
    return xp.sum(norm_rows(xp.roll(p, -1, 0) - p))


def equivalent_diameter(points: Array) -> Array:
    """D = 2 sqrt(A / pi), the diameter of the circle of equal area: the reference length of every coefficient
    and Reynolds number."""
    return 2.0 * (area(points) / math.pi) ** 0.5


def own_scale(points: Array, re: Array) -> tuple[Array, Array]:
    """A design drawn in start-shape units (the start's D = 1) -> (its own D, the Re on that D).

    Same speed and viscosity, so Re_own = Re * D; a coefficient per own D times D is the coefficient per start
    D. Numpy or torch alike (gradients flow to the points)."""
    d = equivalent_diameter(points)
    return d, re * d


def thickness(points: Array, n_stations: int = 400) -> Array:
    """Largest extent in y of a cross-section x = const (the flow is along x): the maximum thickness.

    Edges crossing each station are intersected exactly, so the result is differentiable in the points.
    """
    xp, p = _points(points)
    a, b = p, xp.roll(p, -1, 0)
    # not detached: the stations move with the ends of the chord, and the gradient must see that
    xmin, xmax = p[:, 0].min(), p[:, 0].max()
    xs = xp.linspace(0.0, 1.0, n_stations + 2, dtype=p.dtype)[1:-1] * (xmax - xmin) + xmin
    x0, x1 = a[:, 0][None, :], b[:, 0][None, :]
    s = xs[:, None]
    crosses = (x0 - s) * (x1 - s) <= 0
    dx = xp.where(abs(x1 - x0) > 1e-300, x1 - x0, xp.ones_like(x0))
    t = xp.clip((s - x0) / dx, 0.0, 1.0)
    y = a[:, 1][None, :] + t * (b[:, 1] - a[:, 1])[None, :]
    big = xp.finfo(p.dtype).max
    top = amax(xp.where(crosses, y, xp.full_like(y, -big)), 1)
    bottom = amin(xp.where(crosses, y, xp.full_like(y, big)), 1)
    return (top - bottom).max()


def sharpest_turn(points: Array, length: float) -> float:
    """The largest turn of the outline's direction, in degrees, within any stretch of it `length` long.

    A smooth outline turns by length / radius (a circle of diameter 1 turns about 7 degrees in 1/16, a little
    more on a polygon, since the stretch's end vertices count); a corner turns 180 minus its interior angle in
    any stretch that holds it (a square's corner 90). sim.setups uses it with one grid cell to find the bodies
    whose pressure/viscous split converges slowly. Numpy only (not differentiable)."""
    p = np.asarray(points, dtype=float)
    edge = np.roll(p, -1, 0) - p
    heading = np.arctan2(edge[:, 1], edge[:, 0])
    turn = np.angle(np.exp(1j * (heading - np.roll(heading, 1))))  # at vertex k, between edges k-1 and k
    s = np.concatenate([[0.0], np.cumsum(np.hypot(edge[:, 0], edge[:, 1]))])[:-1]  # arc position of vertex k
    total = s[-1] + math.hypot(*edge[-1])
    s2 = np.concatenate([s, s + total])  # twice around, so a stretch may wrap past the first vertex
    cum = np.concatenate([[0.0], np.cumsum(np.concatenate([turn, turn]))])
    end = np.searchsorted(s2, s + min(length, total), side="right")  # vertices k .. end-1 lie in the stretch
    return float(np.degrees(np.abs(cum[end] - cum[np.arange(len(p))]).max()))
