"""Design variables -> outline. Every parametrisation here is linear, points = (A theta).reshape(K, 2), so
scaling theta scales the body about the origin (the area projection is exact) and Jacobians are cheap.

- `bspline`: a closed uniform cubic B-spline (CCHT21's choice; C2-smooth, local control), fitted to the start
  shape;
- `fourier`: radius r(phi) = a0 + sum a_k cos k phi + b_k sin k phi about the centroid (star-shaped bodies
  only);
- `symmetric=True`: either one mirrored about the flow axis (y -> -y): about half the variables, and Cl = 0.

The outline starts at the nose (leftmost point) and runs counter-clockwise, as geometry.Shape's do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from geometry.errors import ShapeError
from geometry.parametrisations import bspline_points
from geometry.sampler import resample

KINDS = ("bspline", "fourier")
PER_SEGMENT = 12  # outline points per B-spline segment


@dataclass
class Parametrisation:
    kind: str
    A: torch.Tensor  # (2K, m): points.flatten() = A @ theta
    theta0: torch.Tensor  # (m,) the fit to the start shape
    symmetric: bool
    fit_error: float  # largest distance (in D) from the start shape to its fit

    def points(self, theta: torch.Tensor) -> torch.Tensor:
        return (self.A @ theta).reshape(-1, 2)

    def section(self, theta: torch.Tensor) -> torch.Tensor:
        """The outline the shape constraints judge: the same as `points` (optim.incidence turns it)."""
        return self.points(theta)

    def scaled(self, theta: torch.Tensor, k: float) -> torch.Tensor:
        """The variables of the outline scaled by k about the origin (exact: the map is linear)."""
        return theta * k

    @property
    def size(self) -> int:
        return int(self.A.shape[1])


def make(kind: str, points: np.ndarray, n: int | None = None, symmetric: bool = False) -> Parametrisation:
    """Fit a parametrisation of `kind` with `n` control points (B-spline, default 12) or modes (Fourier,
    default 8) to a start outline (D = 1, centroid at the origin)."""
    if kind == "bspline":
        return bspline(points, n or 12, symmetric)
    if kind == "fourier":
        return fourier(points, n or 8, symmetric)
    raise ValueError(f"unknown parametrisation {kind!r}; allowed: {', '.join(KINDS)}")


def _spline_matrix(n: int, per_segment: int) -> torch.Tensor:
    """(K, n), K = n * per_segment: one coordinate of the spline's points as a linear map of its control
    points."""
    eye = torch.eye(n, dtype=torch.float64)
    return torch.stack(
        [bspline_points(torch.stack([eye[j], eye[j]], 1), per_segment)[:, 0] for j in range(n)], 1
    )


def _symmetric_map(n: int) -> torch.Tensor:
    """(2n, n): the control points (x_j, y_j) from the upper half's variables, mirrored: C[n-j] = (x_j, -y_j).
    Variables: x_0 (nose), x_{n/2} (tail), then (x_j, y_j) for j = 1 .. n/2 - 1."""
    half = n // 2
    M = torch.zeros(2 * n, n, dtype=torch.float64)
    M[0, 0] = 1.0
    M[2 * half, 1] = 1.0
    for j in range(1, half):
        col = 2 + 2 * (j - 1)
        M[2 * j, col] = 1.0
        M[2 * j + 1, col + 1] = 1.0
        M[2 * (n - j), col] = 1.0
        M[2 * (n - j) + 1, col + 1] = -1.0
    return M


def _from_nose(points: np.ndarray, k: int) -> np.ndarray:
    """The outline resampled by arc length to k points, starting at its leftmost point."""
    p = resample(np.asarray(points, dtype=np.float64), k)
    return np.roll(p, -int(np.argmin(p[:, 0])), axis=0)


def _distance_to(outline: np.ndarray, points: np.ndarray) -> float:
    """Largest distance from the points of `outline` to the closed polygon `points`."""
    from shapely import LinearRing, Point

    ring = LinearRing(points)
    return max(ring.distance(Point(*q)) for q in outline[:: max(1, len(outline) // 256)])


def _fit(A: torch.Tensor, target: np.ndarray, iterations: int = 6) -> torch.Tensor:
    """Least squares with foot-point updates: each model point is matched to the nearest point of a dense
    target."""
    dense = torch.as_tensor(_from_nose(target, 4096))
    k = A.shape[0] // 2
    goal = torch.as_tensor(_from_nose(target, k))
    theta = torch.linalg.lstsq(A, goal.reshape(-1, 1)).solution[:, 0]
    for _ in range(iterations):
        p = (A @ theta).reshape(-1, 2)
        goal = dense[torch.cdist(p, dense).argmin(1)]
        theta = torch.linalg.lstsq(A, goal.reshape(-1, 1)).solution[:, 0]
    return theta


def bspline(points: np.ndarray, n: int = 24, symmetric: bool = False) -> Parametrisation:
    if n < 6 or (symmetric and n % 2):
        raise ValueError(
            f"a B-spline needs at least 6 control points (an even number when symmetric); got {n}"
        )
    B = _spline_matrix(n, PER_SEGMENT)
    A = torch.zeros(2 * B.shape[0], 2 * n, dtype=torch.float64)
    A[0::2, 0::2] = B
    A[1::2, 1::2] = B
    if symmetric:
        A = A @ _symmetric_map(n)
    theta = _fit(A, points)
    p = (A @ theta).reshape(-1, 2).numpy()
    return Parametrisation("bspline", A, theta, symmetric, _distance_to(np.asarray(points), p))


def fourier(points: np.ndarray, modes: int = 8, symmetric: bool = False, k: int = 256) -> Parametrisation:
    if modes < 1:
        raise ValueError(f"a Fourier radius needs at least 1 mode; got {modes}")
    dense = _from_nose(points, 4096)
    ang = np.unwrap(np.arctan2(dense[:, 1], dense[:, 0]))
    if not np.all(np.diff(ang) > 0) or abs(ang[-1] - ang[0] - 2 * math.pi) > 0.05:
        raise ShapeError(
            "the start shape is not star-shaped about its centroid, so a Fourier radius cannot describe it; "
            "use the B-spline parametrisation"
        )
    phi = math.pi + 2 * math.pi * np.arange(k) / k  # from the nose, counter-clockwise
    r = np.interp(
        np.mod(phi - ang[0], 2 * math.pi),
        ang - ang[0],
        np.hypot(dense[:, 0], dense[:, 1]),
        period=2 * math.pi,
    )
    j = np.arange(1, modes + 1)
    cols = [np.ones(k), *np.cos(phi[:, None] * j).T] + ([] if symmetric else [*np.sin(phi[:, None] * j).T])
    R = np.stack(cols, 1)  # r = R @ theta
    coef = np.linalg.lstsq(R, r, rcond=None)[0]
    A = np.zeros((2 * k, R.shape[1]))
    A[0::2] = np.cos(phi)[:, None] * R
    A[1::2] = np.sin(phi)[:, None] * R
    A_t = torch.as_tensor(A)
    theta = torch.as_tensor(coef)
    p = (A_t @ theta).reshape(-1, 2).numpy()
    return Parametrisation("fourier", A_t, theta, symmetric, _distance_to(np.asarray(points), p))
