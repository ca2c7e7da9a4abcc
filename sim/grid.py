"""Cartesian grids with a uniform core around the body, geometrically stretched towards the far boundary."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np


def _stretch(distance: float, h: float, ratio: float, h_max: float) -> np.ndarray:
    """Cell sizes growing from h by `ratio` (capped at h_max) that exactly fill `distance`."""
    if distance <= 1e-12:
        return np.zeros(0)
    grown: list[float] = []
    total, s = 0.0, h
    while total < distance:
        s = min(s * ratio, h_max)
        grown.append(s)
        total += s
    sizes = np.array(grown)
    if len(sizes) > 1 and total - distance > 0.5 * sizes[-1]:  # drop a last cell that overshoots by over half
        sizes = sizes[:-1]
    return sizes * (distance / sizes.sum())


def stretched_faces(
    lo: float,
    hi: float,
    core_lo: float,
    core_hi: float,
    h: float,
    ratio: float = 1.08,
    h_max: float = math.inf,
) -> np.ndarray:
    """Face coordinates on [lo, hi]: spacing h on [core_lo, core_hi] (snapped outward to multiples of h),
    cells growing by `ratio` (up to h_max) from there to lo and hi."""
    c0 = math.floor(core_lo / h + 1e-9) * h
    c1 = math.ceil(core_hi / h - 1e-9) * h
    c0, c1 = max(c0, lo), min(c1, hi)
    n = max(1, round((c1 - c0) / h))
    core = c0 + h * np.arange(n + 1)
    left = c0 - np.cumsum(_stretch(c0 - lo, h, ratio, h_max))
    right = c1 + np.cumsum(_stretch(hi - c1, h, ratio, h_max))
    faces = np.concatenate([left[::-1], core, right])
    faces[0], faces[-1] = lo, hi
    return faces


@dataclass(frozen=True, eq=False)
class Grid:
    """A staggered (MAC) grid given by its cell faces: u lives on x-faces, v on y-faces, p at cell centres."""

    xf: np.ndarray
    yf: np.ndarray

    @property
    def nx(self) -> int:
        """Cells along x."""
        return len(self.xf) - 1

    @property
    def ny(self) -> int:
        """Cells along y."""
        return len(self.yf) - 1

    @cached_property
    def xc(self) -> np.ndarray:
        """Cell-centre x coordinates (nx,)."""
        return 0.5 * (self.xf[1:] + self.xf[:-1])

    @cached_property
    def yc(self) -> np.ndarray:
        """Cell-centre y coordinates (ny,)."""
        return 0.5 * (self.yf[1:] + self.yf[:-1])

    @cached_property
    def dx(self) -> np.ndarray:
        """Cell widths (nx,)."""
        return np.diff(self.xf)

    @cached_property
    def dy(self) -> np.ndarray:
        """Cell heights (ny,)."""
        return np.diff(self.yf)

    @cached_property
    def u_cv(self) -> tuple[np.ndarray, np.ndarray]:
        """x-extent [x0, x1] of the control volume of each x-face (half cells at the two ends)."""
        x0 = np.concatenate([[self.xf[0]], self.xc])
        x1 = np.concatenate([self.xc, [self.xf[-1]]])
        return x0, x1

    @cached_property
    def v_cv(self) -> tuple[np.ndarray, np.ndarray]:
        """y-extent [y0, y1] of the control volume of each y-face (half cells at the two ends)."""
        y0 = np.concatenate([[self.yf[0]], self.yc])
        y1 = np.concatenate([self.yc, [self.yf[-1]]])
        return y0, y1

    @property
    def cells(self) -> int:
        """Number of cells."""
        return self.nx * self.ny

    def h_min(self) -> float:
        """The smallest cell size, in x or y (the core spacing)."""
        return float(min(self.dx.min(), self.dy.min()))
