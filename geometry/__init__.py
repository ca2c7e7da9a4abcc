"""dragopt.geometry: shapes, parametrisations, validity, rasterisation, import and export.

Imports no other package of the project.
"""

from geometry.errors import ShapeError
from geometry.presets import parse_shape
from geometry.shape import Shape

__all__ = ["Shape", "ShapeError", "parse_shape"]
