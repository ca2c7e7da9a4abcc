"""The Shape: a validated polygon normalised to the reference length D = 1 with its area centroid at the
origin.

The scale factor and offset of the input are kept, so exports can return to the user's units:
user_points = points * scale + offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from geometry import properties
from geometry.validity import validate_points, working_frame


@dataclass(frozen=True)
class Shape:
    """A body outline, D = 1, area centroid at the origin; `scale` and `offset` lead back to the user's
    units."""

    points: np.ndarray  # (n, 2), counter-clockwise, D = 1, centroid at origin
    scale: float = 1.0  # user length of D
    offset: np.ndarray = field(default_factory=lambda: np.zeros(2))  # user position of the centroid
    name: str = "shape"

    @classmethod
    def from_points(cls, points: ArrayLike, name: str = "shape") -> Shape:
        """Validate, orient counter-clockwise and normalise user points."""
        p = validate_points(points)
        # measured in the working frame (near the origin, about unit size): independent of units and placement
        ref, s = working_frame(p)
        q = (p - ref) / s
        c = np.asarray(properties.centroid(q))
        d = float(properties.equivalent_diameter(q))
        return cls(points=(q - c) / d, scale=d * s, offset=ref + c * s, name=name)

    def user_points(self) -> np.ndarray:
        """The outline in the user's units: points * scale + offset."""
        return self.points * self.scale + self.offset

    @property
    def area(self) -> float:
        """Enclosed area (pi / 4: D = 1)."""
        return float(properties.area(self.points))

    @property
    def perimeter(self) -> float:
        """Length of the outline, in D."""
        return float(properties.perimeter(self.points))

    @property
    def thickness(self) -> float:
        """Largest extent across the flow (y) of a section x = const, in D (geometry.properties.thickness)."""
        return float(properties.thickness(self.points))

    @property
    def chord(self) -> float:
        """Extent along the flow (x), in D."""
        return float(np.ptp(self.points[:, 0]))

    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) in D."""
        x, y = self.points[:, 0], self.points[:, 1]
        return float(x.min()), float(y.min()), float(x.max()), float(y.max())

    def mirrored(self) -> Shape:
        """Mirror about the flow axis (y -> -y), keeping counter-clockwise order."""
        p = Shape.from_points((self.points * np.array([1.0, -1.0]))[::-1]).points
        offset = self.offset * np.array([1.0, -1.0])
        return Shape(points=p, scale=self.scale, offset=offset, name=f"{self.name}-mirrored")

    def rotated(self, degrees: float) -> Shape:
        """Rotate counter-clockwise about the centroid (angle of attack = -degrees)."""
        a = np.deg2rad(degrees)
        r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        p = Shape.from_points(self.points @ r.T).points
        return Shape(
            points=p, scale=self.scale, offset=self.offset.copy(), name=f"{self.name}-rot{degrees:g}"
        )
