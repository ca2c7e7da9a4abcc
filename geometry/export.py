"""Writers of a shape's outline in the user's units: CSV, DXF (ezdxf), SVG, and STL/OBJ/GLB meshes (trimesh).

Coordinates are the numbers of the input (Shape.user_points()); `units` (mm, m or in) is a label written where
the format holds one (CSV comment, DXF $INSUNITS, SVG width/height, OBJ comment, STL header). The exception is
GLB: glTF defines its unit as the metre, so with `units` the coordinates are converted to metres; without,
they are written as they are. Every write is atomic (geometry.io).
"""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from xml.sax.saxutils import escape

import numpy as np

from geometry.errors import ShapeError
from geometry.io import atomic_write_bytes, atomic_write_text, write_csv
from geometry.shape import Shape

if TYPE_CHECKING:
    import trimesh

FORMATS = ("csv", "dxf", "svg", "stl", "obj", "glb")
MESH_FORMATS = ("stl", "obj", "glb")
UNITS = {"mm": 0.001, "m": 1.0, "in": 0.0254}  # metres per unit
_DXF_UNITS = {"mm": 4, "m": 6, "in": 1}  # $INSUNITS codes


def export_shape(
    shape: Shape,
    path: str | Path,
    fmt: str,
    *,
    units: str | None = None,
    extrude: float | None = None,
    revolve: bool = False,
    spline: bool = False,
) -> dict[str, Any]:
    """Write `shape` to `path` as `fmt`; returns what was written (points, and for meshes faces, volume, ...).

    Meshes are a prism of length `extrude`, or with `revolve` the body of revolution of the upper half about
    the flow axis (through the centroid, along x); with neither, a prism of length D (the equivalent diameter,
    in user units). Warnings (an asymmetric section revolved) are issued with the warnings module.
    """
    if fmt not in FORMATS:
        raise ShapeError(f"unknown export format {fmt!r}; allowed: {', '.join(FORMATS)}")
    if units is not None and units not in UNITS:
        raise ShapeError(f"unknown units {units!r}; allowed: {', '.join(UNITS)}")
    if fmt not in MESH_FORMATS and (extrude is not None or revolve):
        raise ShapeError(
            f"extrude and revolve apply to mesh formats ({', '.join(MESH_FORMATS)}), not to {fmt}"
        )
    if spline and fmt != "dxf":
        raise ShapeError(f"spline applies to dxf, not to {fmt}")
    if extrude is not None and revolve:
        raise ShapeError("give an extrusion length or revolve, not both")
    pts = shape.user_points()
    out: dict[str, Any] = {"format": fmt, "points": len(pts), "units": units, "path": str(path)}
    if fmt == "csv":
        write_csv(path, pts, comment=f"{shape.name}: x,y in {units}" if units else None)
    elif fmt == "dxf":
        write_dxf(path, pts, units=units, spline=spline)
    elif fmt == "svg":
        write_svg(path, pts, units=units, title=shape.name)
    else:
        from geometry import mesh as meshes

        if revolve:
            mesh = meshes.revolve(pts, axis_y=float(shape.offset[1]))
            out["revolved_about_y"] = float(shape.offset[1])
        else:
            length = float(shape.scale) if extrude is None else float(extrude)
            mesh = meshes.extrude(pts, length)
            out["extruded_length"] = length
        write_mesh(path, mesh, fmt, units=units, title=shape.name)
        out.update(faces=len(mesh.faces), volume=float(mesh.volume), watertight=bool(mesh.is_watertight))
    return out


# ---------------------------------------------------------------------------------------------- DXF


def write_dxf(path: str | Path, points: np.ndarray, units: str | None = None, spline: bool = False) -> None:
    """A DXF (R2010) with the outline as one closed LWPOLYLINE, or with `spline` one cubic SPLINE through
    every point, its ends meeting with one tangent (for smooth outlines: it overshoots between the points of a
    corner)."""
    import ezdxf
    from ezdxf.math import global_bspline_interpolation

    doc = ezdxf.new("R2010")
    doc.units = _DXF_UNITS[units] if units is not None else 0  # 0: unitless (ezdxf's default is metres)
    if units is not None:
        doc.header["$MEASUREMENT"] = 0 if units == "in" else 1
    msp = doc.modelspace()
    p = np.asarray(points, dtype=float)
    if spline:
        closed = np.vstack([p, p[:1]])
        tangent = p[1] - p[-1]  # central difference at the seam
        tangent = tangent / np.linalg.norm(tangent)
        curve = global_bspline_interpolation(
            [(float(x), float(y), 0.0) for x, y in closed], degree=3, tangents=[tuple(tangent) + (0.0,)] * 2
        )
        entity = msp.add_spline()
        entity.apply_construction_tool(curve)
    else:
        msp.add_lwpolyline([(float(x), float(y)) for x, y in p], format="xy", close=True)
    stream = io.StringIO()
    doc.write(stream)
    atomic_write_text(path, stream.getvalue())


# ---------------------------------------------------------------------------------------------- SVG


def write_svg(path: str | Path, points: np.ndarray, units: str | None = None, title: str = "shape") -> None:
    """One closed path (exact coordinates, y negated: SVG's y axis points down) in a viewBox of user units
    with a 2% margin; with `units`, width and height carry the unit so the picture prints at its true size."""
    p = np.asarray(points, dtype=float)
    x, y = p[:, 0], -p[:, 1]
    size = max(np.ptp(x), np.ptp(y))
    margin = 0.02 * size
    vx, vy = x.min() - margin, y.min() - margin
    w, h = np.ptp(x) + 2 * margin, np.ptp(y) + 2 * margin
    d = "M " + " L ".join(f"{float(a)!r},{float(b)!r}" for a, b in zip(x, y, strict=True)) + " Z"
    dims = f' width="{_g(w)}{units}" height="{_g(h)}{units}"' if units else ""
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1"{dims} '
        f'viewBox="{_g(vx)} {_g(vy)} {_g(w)} {_g(h)}">\n'
        f"  <title>{escape(title)}</title>\n"
        f"  <desc>{escape(_about(units))}; y is negated (SVG's y axis points down)</desc>\n"
        f'  <path d="{d}" fill="none" stroke="black" stroke-width="{_g(0.004 * size)}"/>\n'
        "</svg>\n"
    )
    atomic_write_text(path, text)


def _g(v: float) -> str:
    return f"{float(v):.12g}"


def _about(units: str | None) -> str:
    return (
        f"dragopt shape, coordinates in {units}"
        if units
        else "dragopt shape, coordinates in the input's units"
    )


# ---------------------------------------------------------------------------------------------- meshes


def write_mesh(
    path: str | Path, mesh: trimesh.Trimesh, fmt: str, units: str | None = None, title: str = "shape"
) -> None:
    """STL (binary, float32, units in its 80-byte header), OBJ (15 significant digits, units in a comment) or
    GLB (metres when `units` is given, glTF's unit). trimesh's export returns bytes for STL and GLB, text for
    OBJ."""
    if fmt == "stl":
        data = cast(bytes, mesh.export(file_type="stl"))
        header = f"dragopt {title}; {_about(units)}"[:80].encode("ascii", "replace").ljust(80, b" ")
        atomic_write_bytes(path, header + data[80:])
    elif fmt == "obj":
        biggest = float(np.max(np.abs(mesh.vertices))) or 1.0
        digits = int(np.clip(15 - math.ceil(math.log10(biggest)), 6, 30))
        with warnings.catch_warnings():  # trimesh warns that a mesh without texture has no material
            warnings.simplefilter("ignore")
            text = cast(str, mesh.export(file_type="obj", digits=digits, header=f"{title}: {_about(units)}"))
        atomic_write_text(path, text)
    elif fmt == "glb":
        m = mesh.copy()
        if units is not None:
            m.apply_scale(UNITS[units])
        atomic_write_bytes(path, cast(bytes, m.export(file_type="glb")))
    else:
        raise ShapeError(f"unknown mesh format {fmt!r}; allowed: {', '.join(MESH_FORMATS)}")
