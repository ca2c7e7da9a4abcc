"""The surrogate's grid: a square window of uniform cells around the body's area centroid.

The window is where the network predicts u, v, p and where the physics operator measures forces: a momentum
contour on the cell-centre lines `edge` cells in from the window's border (one cell beyond it for the central
differences). A body fits when its bounding box stays `margin` inside that contour. A contour far out, where
the fields are smooth, reproduces the solver's drag best (docs/design-notes.md, "The surrogate's window").

A body that reaches farther than that (a slender section, a plate) is shown to the network shrunk by a factor
s >= 1 so that it just fits: the same flow, measured in the length s D instead of D, so the network sees the
outline / s at Reynolds number Re s, and the forces it measures are per s D (Cd and Cl in D are s times
them; Cp and the shape sensitivities do not change). Bodies that fit are never rescaled (s = 1). `max_reach`
bounds s: beyond it the training data does not go.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
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
# The farthest |x| or |y| from the centroid (in D) of a body the surrogate takes, rescaled: NACA 4-digit
# sections down to 6% thickness and rounded plates down to 4% at any incidence.
MAX_REACH = 3.0


@dataclass(frozen=True)
class Window:
    cells: int = CELLS
    extent: float = EXTENT  # half-width in D
    margin: float = MARGIN  # least distance between the body's bounding box and the force contour, in D

    edge: int = 2  # cells between the window's border and the force contour
    max_reach: float = MAX_REACH  # in D: the farthest a body may reach, rescaled by `scale`

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
        """The largest |x| or |y| (about the centroid, in window units: D unless rescaled) that fits."""
        return float(self.centres()[self.cells - 1 - self.edge]) - self.margin

    def fits(self, points: ArrayLike) -> bool:
        """Whether an outline, as given (window units), lies inside the force contour's margin."""
        return reach(points) <= self.fit_half_width() * (1 + 1e-9)

    def holds(self, points: ArrayLike) -> bool:
        """Whether the surrogate takes a body (D = 1, centroid at the origin), rescaled where needed."""
        return reach(points) <= self.max_reach * (1 + 1e-9)

    def scale(self, points: ArrayLike) -> float:
        """s >= 1: the factor by which a body (D = 1) is shrunk to fit (1 when it fits as it is)."""
        return max(1.0, reach(points) / self.fit_half_width())

    def scaled(self, s: float) -> Window:
        """This window in the body's D when the body is shown shrunk by s: the same cells, s times wider."""
        return replace(self, extent=self.extent * s, margin=self.margin * s)

    def check(self, points: ArrayLike) -> None:
        """Raise ShapeError naming how far a body (D = 1, centroid at the origin) reaches beyond the limit."""
        if not self.holds(points):
            raise ShapeError(
                f"the body reaches {reach(points):.2f} D from its centroid; the surrogate takes bodies "
                f"that reach at most {self.max_reach:.2f} D (its training data goes no farther); the full "
                "simulation takes it (`dragopt simulate`, or `dragopt optimize --backend simulation`)"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def grid(self) -> dict[str, Any]:
        """The grid alone (what a network's predictions and a dataset's fields must share)."""
        return {k: v for k, v in self.to_dict().items() if k != "max_reach"}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Window:
        """A window from its dict; a window stored without `max_reach` (made before bodies were rescaled)
        takes only the bodies that fit it as they are."""
        w = cls(int(d["cells"]), float(d["extent"]), float(d["margin"]), int(d["edge"]))
        return replace(w, max_reach=float(d.get("max_reach", w.fit_half_width())))


def reach(points: ArrayLike) -> float:
    """The farthest |x| or |y| of an outline from the origin (its centroid), in its units."""
    return float(np.abs(np.asarray(points)).max())
