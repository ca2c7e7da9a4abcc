"""Preset shapes and the SHAPE argument of the CLI: `circle`, `ellipse:AR`, `naca:XXXX`, `rect:AR:R`, or a
shape file (CSV, DXF, SVG, or an STL/OBJ/GLB prism; geometry.importers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geometry.errors import ShapeError
from geometry.importers import READERS, read_shape_file
from geometry.shape import Shape

PRESET_HELP = (
    "circle | ellipse:AR (axis ratio along x / across) | naca:XXXX (4-digit, closed trailing edge) | "
    "rect:AR:R (aspect ratio along x / across, corner radius as a fraction of the shorter side, 0-0.5) | "
    "a shape file: .csv/.txt (columns x,y), .dxf (one closed outline), .svg (one closed path), "
    ".stl/.obj/.glb (a prism along z: its section)"
)


def circle_points(n: int = 256) -> np.ndarray:
    t = 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(t), np.sin(t)], axis=1) * 0.5


def ellipse_points(aspect: float, n: int = 256) -> np.ndarray:
    t = 2 * np.pi * np.arange(n) / n
    return np.stack([aspect * np.cos(t), np.sin(t)], axis=1)


def naca4_points(code: str, n: int = 201) -> np.ndarray:
    """NACA 4-digit section with chord 1, closed trailing edge (coefficient -0.1036), cosine spacing."""
    m, p, t = int(code[0]) / 100, int(code[1]) / 10, int(code[2:]) / 100
    beta = np.linspace(0.0, np.pi, n)
    x = 0.5 * (1 - np.cos(beta))
    yt = 5 * t * (0.2969 * np.sqrt(x) - 0.1260 * x - 0.3516 * x**2 + 0.2843 * x**3 - 0.1036 * x**4)
    if m > 0 and p > 0:
        front = x < p
        yc = np.where(front, m / p**2 * (2 * p * x - x**2), m / (1 - p) ** 2 * (1 - 2 * p + 2 * p * x - x**2))
        dyc = np.where(front, 2 * m / p**2 * (p - x), 2 * m / (1 - p) ** 2 * (p - x))
    else:
        yc, dyc = np.zeros_like(x), np.zeros_like(x)
    th = np.arctan(dyc)
    xu, yu = x - yt * np.sin(th), yc + yt * np.cos(th)
    xl, yl = x + yt * np.sin(th), yc - yt * np.cos(th)
    # counter-clockwise: trailing edge -> upper surface -> leading edge -> lower surface (without repeats)
    upper = np.stack([xu[::-1], yu[::-1]], axis=1)[:-1]
    lower = np.stack([xl, yl], axis=1)[:-1]
    return np.concatenate([upper, lower])


def rounded_rect_points(aspect: float, radius: float, n: int = 256) -> np.ndarray:
    """Rectangle aspect x 1 with corners rounded by radius * min(aspect, 1), sampled evenly along its
    outline."""
    import shapely

    w, h = aspect, 1.0
    r = radius * min(w, h)
    core = shapely.box(-w / 2 + r, -h / 2 + r, w / 2 - r, h / 2 - r)
    poly = core.buffer(r, quad_segs=32) if r > 0 else shapely.box(-w / 2, -h / 2, w / 2, h / 2)
    ring = poly.exterior
    pts = np.array([ring.interpolate(s, normalized=True).coords[0] for s in np.arange(n) / n])
    if r == 0:  # keep the exact corners of a sharp rectangle
        pts = np.array(ring.coords)[:-1]
    return pts


def _number(text: str, what: str, lo: float, hi: float) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ShapeError(f"{what} must be a number; got {text!r}") from None
    if not (lo <= v <= hi):
        raise ShapeError(f"{what} must be in [{lo:g}, {hi:g}]; got {v:g}")
    return v


def parse_shape(spec: str) -> Shape:
    """Turn a CLI SHAPE argument into a Shape, or raise ShapeError listing what is allowed."""
    spec = spec.strip()
    kind, *args = spec.split(":")
    kind = kind.lower()
    if kind == "circle" and not args:
        return Shape.from_points(circle_points(), name="circle")
    if kind == "ellipse" and len(args) == 1:
        ar = _number(args[0], "ellipse axis ratio", 0.05, 20)
        return Shape.from_points(ellipse_points(ar), name=spec)
    if kind == "naca" and len(args) == 1:
        code = args[0]
        if len(code) != 4 or not code.isdigit() or int(code[2:]) == 0:
            raise ShapeError(f"naca needs 4 digits with non-zero thickness, e.g. naca:0012; got {code!r}")
        if (code[0] == "0") != (code[1] == "0"):
            raise ShapeError(f"naca:{code}: camber and its position must be both zero or both non-zero")
        return Shape.from_points(naca4_points(code), name=spec)
    if kind == "rect" and len(args) == 2:
        ar = _number(args[0], "rect aspect ratio", 0.05, 20)
        r = _number(args[1], "rect corner radius", 0.0, 0.5)
        return Shape.from_points(rounded_rect_points(ar, r), name=spec)
    path = Path(spec)
    if path.suffix.lower() in READERS or path.exists():
        points = read_shape_file(path)
        try:
            return Shape.from_points(points, name=path.stem)
        except ShapeError as exc:
            raise ShapeError(f"{path}: {exc}") from None
    raise ShapeError(f"unknown shape {spec!r}; allowed: {PRESET_HELP}")
