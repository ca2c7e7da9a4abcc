"""The flow set-ups: the default unconfined domain and the Schaefer-Turek DFG 2D-1 channel.

A Domain is everything about a case except the body: grid, viscosity, inflow, walls, reference velocity and
length. Units: unconfined cases are in body units (D = 1, U = 1, nu = 1/Re); the channel keeps the benchmark's
own units (D = 0.1, mean inflow 0.2, nu = 1e-3).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

import numpy as np
from numpy.typing import ArrayLike

from geometry.properties import sharpest_turn
from sim.errors import SetupError
from sim.grid import Grid, stretched_faces

DEFAULT_RESOLUTION = 16  # cells per D next to the body (the dataset resolution)
VALIDATION_RESOLUTION = 32
MIN_RESOLUTION = 8
MAX_RESOLUTION = 128
DEFAULT_BOX = 32.0  # half-width of the unconfined square domain, in D
MIN_BOX = 5.0  # the body stays BOX_MARGIN inside the box: a circle (radius 0.5) needs 4.5
MAX_BOX = 256.0
BOX_MARGIN = 4.0
# Grids are limited by their number of cells, checked when the grid is made (milliseconds): the sparse
# factorisation's time and memory grow with it (docs/validation.md, performance).
MAX_CELLS = 400_000
MIN_RE, MAX_RE = 1e-6, 200.0
STRETCH = 1.08
H_MAX = 2.5


class ChannelSpec(TypedDict):
    """The benchmark's geometry and flow, in its own units (m, m/s, m^2/s)."""

    length: float
    height: float
    centre: tuple[float, float]  # of the cylinder
    diameter: float
    u_max: float  # of the parabolic inflow
    nu: float


SCHAEFER_TUREK: ChannelSpec = {
    "length": 2.2,
    "height": 0.41,
    "centre": (0.2, 0.2),
    "diameter": 0.1,
    "u_max": 0.3,
    "nu": 1e-3,
}
SCHAEFER_TUREK_REFERENCE = {  # FEATFLOW
    "cd_ref": 5.57953523384,
    "cl_ref": 0.010618948146,
    "dp_ref": 0.11752016697,
}


@dataclass(frozen=True, eq=False)
class Domain:
    """Everything about a case except the body.

    The Reynolds number is held once, here: the viscosity is derived from it (`nu`), and sim.solver.run_case
    solves at `re`, so a domain and a solve can never disagree on it.
    """

    name: str
    grid: Grid
    re: float  # U D / nu, on u_ref and d_ref
    inflow: np.ndarray  # u on the inlet faces
    walls: str  # "slip" | "noslip"
    u_ref: float
    d_ref: float

    @property
    def nu(self) -> float:
        """Kinematic viscosity U D / Re."""
        return self.u_ref * self.d_ref / self.re

    @property
    def force_scale(self) -> float:
        """Force -> coefficient: 1 / (0.5 U^2 D)."""
        return 2.0 / (self.u_ref**2 * self.d_ref)


def check_resolution(resolution: float) -> None:
    """SetupError unless MIN_RESOLUTION <= resolution <= MAX_RESOLUTION (cells per D)."""
    if not (math.isfinite(resolution) and resolution >= MIN_RESOLUTION):
        raise SetupError(
            f"resolution must be at least {MIN_RESOLUTION} cells per D (the body is not resolved below); "
            f"got {resolution}"
        )
    if resolution > MAX_RESOLUTION:
        raise SetupError(
            f"resolution above {MAX_RESOLUTION} cells per D needs more memory than this tool plans for; "
            f"got {resolution:g}"
        )


def thin_body_warning(thickness: float, resolution: float, minimum_cells: float = 8.0) -> str | None:
    """A warning when the body is thin for the grid: sharp and thin bodies converge at first order in the
    cells across their thickness (docs/validation.md), so below about 8 cells expect Cd errors above 1%."""
    cells = thickness * resolution
    if cells >= minimum_cells:
        return None
    better = math.ceil(minimum_cells / thickness)
    head = f"the body is {thickness:.2f} D thick: {cells:.1f} cells across it at resolution {resolution:g}"
    if better <= MAX_RESOLUTION:
        return f"{head}; expect Cd errors above 1% (use --resolution {better} or more)"
    most = thickness * MAX_RESOLUTION
    if resolution >= MAX_RESOLUTION:
        return f"{head}, the finest allowed; expect Cd errors above 1%"
    return (
        f"{head}; expect Cd errors above 1% (it would need resolution {better}; the finest allowed, "
        f"--resolution {MAX_RESOLUTION}, gives {most:.1f} cells across it)"
    )


# The pressure/viscous split converges slowly where the outline turns sharply within a cell: a corner (a
# pointed nose or trailing edge) or a nose or tail of radius under about two cells (a slender ellipse); on
# such bodies one solve's pressure part is off by several percent where a smooth body's is close
# (docs/validation.md, pressure/viscous split). simulate(split="auto") extrapolates the split of such bodies
# from a second solve at SPLIT_RATIO times the resolution.
SPLITS = ("auto", "surface", "extrapolated")  # simulate's split options
SHARP_TURN = 30.0  # degrees within one cell (a circle of radius r turns by h / r)
SPLIT_RATIO = 2.0


def sharp(points: ArrayLike, resolution: float) -> bool:
    """Whether the outline (D = 1) turns by more than SHARP_TURN degrees within one cell somewhere."""
    return sharpest_turn(points, 1.0 / resolution) > SHARP_TURN


def check_reynolds(re: float) -> None:
    """SetupError unless re is a finite number in [MIN_RE, MAX_RE], saying what to do instead."""
    if not (isinstance(re, numbers.Real) and math.isfinite(re) and re > 0):
        raise SetupError(f"Reynolds number must be a positive finite number; got {re}")
    if re > MAX_RE:
        raise SetupError(
            f"Reynolds number {re:g} is above {MAX_RE:g}: the flow is no longer steady and laminar"
        )
    if re < MIN_RE:
        raise SetupError(
            f"Reynolds number {re:g} is below {MIN_RE:g}: this is Stokes flow, where Cd * Re no longer "
            f"changes with Re; simulate at Re {MIN_RE:g} and use Cd = (Cd * Re at {MIN_RE:g}) / Re"
        )


def check_reynolds_numbers(values: Sequence[float], name: str = "Re") -> None:
    """SetupError unless `values` holds one or more Reynolds numbers that check_reynolds accepts; the message
    starts with `name` (the option the user gave them in)."""
    if len(values) == 0:
        raise SetupError(f"{name} needs one or more Reynolds numbers; got none")
    for re in values:
        try:
            check_reynolds(re)
        except SetupError as exc:
            raise SetupError(f"{name}: {exc}") from None


def check_box(box: float) -> None:
    """SetupError unless MIN_BOX <= box <= MAX_BOX (half-width in D)."""
    if not (math.isfinite(box) and MIN_BOX <= box <= MAX_BOX):
        raise SetupError(f"box half-width must be between {MIN_BOX:g} and {MAX_BOX:g} D; got {box}")


def check_cells(grid: Grid, resolution: float, box: float | None = None) -> None:
    """SetupError when the grid has more than MAX_CELLS cells, naming the resolution (and box) that made
    it."""
    if grid.cells > MAX_CELLS:
        what = f"resolution {resolution:g}" + (f" and box {box:g}" if box is not None else "")
        raise SetupError(
            f"{what} make a grid of {grid.cells:,} cells; the limit is {MAX_CELLS:,} (about 2 min and 5 GB): "
            "lower the resolution or the box"
        )


def unconfined(
    re: float,
    bounds: tuple[float, float, float, float] = (-0.5, -0.5, 0.5, 0.5),
    resolution: float = DEFAULT_RESOLUTION,
    box: float = DEFAULT_BOX,
    stretch: float = STRETCH,
) -> Domain:
    """Square box [-box, box]^2 around the body (D = 1, centroid at the origin): inflow U = 1, outlet p = 0,
    slip top and bottom, Reynolds number `re`.

    Args:
        re: Reynolds number U D / nu, held by the domain (Domain.re).
        bounds: (xmin, ymin, xmax, ymax) of the body, in D: the uniform core of the grid covers it.
        resolution: cells per D in the core.
        box: half-width of the domain, in D.
        stretch: growth ratio of the cells from the core to the boundary.
    """
    check_reynolds(re)
    check_resolution(resolution)
    xmin, ymin, xmax, ymax = bounds
    margin = BOX_MARGIN
    check_box(box)
    if not max(-xmin, xmax, -ymin, ymax) <= box - margin:
        raise SetupError(
            f"body extent {max(-xmin, xmax, -ymin, ymax):.3g} D does not fit the domain of half-width "
            f"{box:g} D (at most {box - margin:g} D from the centroid is allowed)"
        )
    h = 1.0 / resolution
    xf = stretched_faces(-box, box, min(-1.5, xmin - 1.0), max(3.0, xmax + 2.0), h, stretch, H_MAX)
    yf = stretched_faces(-box, box, min(-1.5, ymin - 1.0), max(1.5, ymax + 1.0), h, stretch, H_MAX)
    grid = Grid(xf, yf)
    check_cells(grid, resolution, box)
    return Domain("unconfined", grid, float(re), np.ones(grid.ny), "slip", 1.0, 1.0)


def channel(resolution: float = DEFAULT_RESOLUTION, stretch: float = 1.05) -> Domain:
    """Schaefer-Turek DFG 2D-1 in body units (D = 1, mean inflow 1, nu = 1/20): the channel 22 x 4.1 with the
    cylinder at (2, 2), parabolic inflow, no-slip walls, do-nothing outlet (p = 0). Pressures scale back to
    the benchmark's units by U^2 = 0.04, lengths by D = 0.1."""
    check_resolution(resolution)
    st = SCHAEFER_TUREK
    d, u_mean = st["diameter"], 2.0 / 3.0 * st["u_max"]
    length, height = st["length"] / d, st["height"] / d
    cx, cy = (c / d for c in st["centre"])
    h = 1.0 / resolution
    xf = stretched_faces(0.0, length, cx - 1.0, cx + 2.5, h, stretch, 8 * h)
    yf = stretched_faces(0.0, height, cy - 1.0, cy + 1.0, h, stretch, 4 * h)
    # exact mean of the parabola (maximum 1.5) over each inlet face, so the inflow flux is exact
    a, b = yf[:-1], yf[1:]

    def prim(y: np.ndarray) -> np.ndarray:  # the integral of the parabola from 0 to y
        return 6.0 * (height * y**2 / 2 - y**3 / 3) / height**2

    inflow = (prim(b) - prim(a)) / (b - a)
    re = u_mean * d / st["nu"]
    return Domain("channel", Grid(xf, yf), float(re), inflow, "noslip", 1.0, 1.0)
