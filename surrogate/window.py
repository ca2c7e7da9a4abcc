"""The surrogate's grid: a square window of uniform cells around the body's area centroid.

The window is where the network predicts u, v, p and where the physics operator measures forces: a momentum
contour on the cell-centre lines `edge` cells in from the window's border (one cell beyond it for the central
differences). A body fits when its bounding box stays `margin` inside that contour. A contour far out, where
the fields are smooth, reproduces the solver's drag best (docs/design-notes.md, "The surrogate's window").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from geometry.errors import ShapeError

# Chosen by measurement (docs/design-notes.md, "The surrogate's window"): +-2 D holds bodies of aspect ratio
# up to about 4 with the contour, and 64 cells keep P close to the solver at a quarter of 128 cells' training
# cost.
CELLS = 64
EXTENT = 2.0
MARGIN = 0.3


@dataclass(frozen=True)
class Window:
    cells: int = CELLS
    extent: float = EXTENT  # half-width in D
    margin: float = MARGIN  # least distance between the body's bounding box and the force contour, in D

    edge: int = 2  # cells between the window's border and the force contour

    @property
    def h(self) -> float:
        return 2 * self.extent / self.cells

    def centres(self) -> np.ndarray:
        """Cell-centre coordinates along either axis (indexing [x, y] everywhere)."""
        return -self.extent + (np.arange(self.cells) + 0.5) * self.h

    def contour_index(self) -> tuple[int, int]:
        """(first, last) cell index of the contour's lines, the same along x and y."""
        return self.edge, self.cells - 1 - self.edge

    def fit_half_width(self) -> float:
        """The largest |x| or |y| (about the centroid, in D) that a body may reach."""
        return float(self.centres()[self.cells - 1 - self.edge]) - self.margin

    def fits(self, points: ArrayLike) -> bool:
        return float(np.abs(np.asarray(points)).max()) <= self.fit_half_width()

    def check(self, points: ArrayLike) -> None:
        """Raise ShapeError naming how far a body (D = 1, centroid at the origin) sticks out of the window."""
        if not self.fits(points):
            reach = float(np.abs(np.asarray(points)).max())
            raise ShapeError(
                f"the body reaches {reach:.2f} D from its centroid; "
                f"the surrogate's window (+-{self.extent:g} D, "
                f"force contour {self.margin:g} D clear of the body) "
                f"holds at most {self.fit_half_width():.2f} D"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Window:
        return cls(int(d["cells"]), float(d["extent"]), float(d["margin"]), int(d["edge"]))
