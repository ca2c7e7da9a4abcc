"""Readers of shape files: CSV, DXF, SVG and the section of an STL/OBJ/GLB prism, each giving the outline's
points (n, 2) in the file's own numbers (units are not converted).

Every reader first checks the file (exists, is a file, not empty, at most geometry.io.MAX_INPUT_BYTES), and
every failure is a ShapeError naming the file, what was found in it and what a shape file must hold. Curves
(arcs, splines, Beziers) are flattened to points deviating at most FLATTEN_TOLERANCE x the drawing's size from
the curve.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geometry.errors import ShapeError
from geometry.io import check_input_file, read_csv
from geometry.loops import one_loop

if TYPE_CHECKING:
    from geometry.shape import Shape

FLATTEN_TOLERANCE = 1e-4  # largest distance of a flattened curve from the true one, as a fraction of the size

DXF_CURVES = ("LINE", "ARC", "CIRCLE", "ELLIPSE", "SPLINE", "LWPOLYLINE", "POLYLINE")


def read_shape_file(path: str | Path) -> np.ndarray:
    """The outline in a shape file, read by the reader of its extension (READERS)."""
    path = check_input_file(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise ShapeError(
            f"cannot read {path}: shape files end in {', '.join(READERS)}; got "
            f"{path.suffix or 'no extension'}"
        )
    return reader(path)


# ---------------------------------------------------------------------------------------------- DXF


def read_dxf(path: str | Path) -> np.ndarray:
    """The one closed outline in a DXF's model space, in the XY plane (z is ignored).

    Closed LWPOLYLINE/POLYLINE (bulges become arcs), CIRCLE, ELLIPSE and SPLINE are loops by themselves; LINE,
    ARC, open polylines, elliptic arcs and open splines are joined end to end (geometry.loops.JOIN_TOLERANCE).
    """
    import ezdxf
    from ezdxf import bbox

    path = check_input_file(path)
    try:
        doc = ezdxf.readfile(path)
    except Exception as exc:  # ezdxf raises OSError, DXFStructureError, UnicodeError... on a foreign file
        raise ShapeError(f"cannot read {path} as DXF: {_first_line(exc)}") from None
    found = Counter(e.dxftype() for e in doc.modelspace())
    usable = [e for e in doc.modelspace() if e.dxftype() in DXF_CURVES and not _is_mesh(e)]
    what = _counts(found) if found else "no entities"
    if not usable:
        raise ShapeError(
            f"{path} holds no outline (found {what}); a shape DXF needs one closed LWPOLYLINE, POLYLINE, "
            "SPLINE, CIRCLE or ELLIPSE, or LINE/ARC pieces joined end to end into one closed loop"
        )
    box = bbox.extents(usable, fast=True)
    size = max(box.size.x, box.size.y, 1e-300) if box.has_data else 1.0
    sagitta = FLATTEN_TOLERANCE * size
    try:
        pieces = [_dxf_points(e, sagitta) for e in usable]
    except (ezdxf.DXFError, ValueError, ZeroDivisionError) as exc:
        raise ShapeError(f"cannot read the curves of {path}: {_first_line(exc)}") from None
    return one_loop(pieces, str(path), what)


def _is_mesh(entity: Any) -> bool:  # an ezdxf entity
    return entity.dxftype() == "POLYLINE" and (entity.is_poly_face_mesh or entity.is_polygon_mesh)


def _dxf_points(entity: Any, sagitta: float) -> np.ndarray:
    """An entity flattened to (n, 2) points in drawing order (closed ones end on their first point)."""
    kind = entity.dxftype()
    if kind == "LINE":
        pts = [entity.dxf.start, entity.dxf.end]
    elif kind in ("ARC", "CIRCLE", "ELLIPSE", "SPLINE"):
        pts = list(entity.flattening(sagitta))
    else:  # LWPOLYLINE, POLYLINE: their LINE and ARC pieces, in order, each turned to continue the previous
        raw = [_dxf_points(piece, sagitta) for piece in entity.virtual_entities()]
        if not raw:
            return np.zeros((0, 2))
        if len(raw) > 1 and _gap(raw[0][0], raw[1]) < _gap(raw[0][-1], raw[1]):
            raw[0] = raw[0][::-1]  # an ARC runs counter-clockwise, whichever way the polyline goes
        out = [raw[0]]
        for p in raw[1:]:
            if np.linalg.norm(p[-1] - out[-1][-1]) < np.linalg.norm(p[0] - out[-1][-1]):
                p = p[::-1]
            out.append(p[1:])
        return np.concatenate(out)
    return np.array([(v[0], v[1]) for v in pts], dtype=float)


def _gap(point: np.ndarray, piece: np.ndarray) -> float:
    """Distance from a point to the nearer end of a piece."""
    return float(min(np.linalg.norm(point - piece[0]), np.linalg.norm(point - piece[-1])))


# ---------------------------------------------------------------------------------------------- SVG


def read_svg(path: str | Path) -> np.ndarray:
    """The one closed outline among an SVG's path, polygon, polyline, rect, circle, ellipse and line elements.

    Coordinates are the SVG's user units (the viewBox's; the width and height are ignored) with transforms
    applied. SVG's y axis points down; y is negated so the shape looks as it does in the picture (export
    negates it too, so a round trip gives the same numbers).
    """
    from xml.etree.ElementTree import ParseError

    from svgpathtools import Document, Line

    path = check_input_file(path)
    try:
        doc = Document(str(path))
    except ParseError as exc:
        raise ShapeError(f"{path} is not an SVG file (not XML: {exc})") from None
    try:
        paths = doc.paths()
        subpaths = [s for p in paths for s in p.continuous_subpaths()]
    except Exception as exc:  # xml ParseError, bad path data, bad transforms in a foreign file
        raise ShapeError(f"cannot read {path} as SVG: {_first_line(exc)}") from None
    subpaths = [s for s in subpaths if len(s) > 0]
    found = Counter(_element_name(p) for p in paths if len(p) > 0)
    what = _counts(found) if found else "no drawing elements"
    if not subpaths:
        raise ShapeError(
            f"{path} holds no outline (found {what}); a shape SVG needs one closed path, polygon, rect, "
            "circle or ellipse"
        )
    box = np.array([s.bbox() for s in subpaths])  # xmin, xmax, ymin, ymax
    size = max(box[:, 1].max() - box[:, 0].min(), box[:, 3].max() - box[:, 2].min(), 1e-300)
    # chords of this length deviate FLATTEN_TOLERANCE x size from an arc of radius size / 2 (and less from
    # flatter curves); tighter bends get at least 8 chords a segment
    chord = 2.0 * size * np.sqrt(FLATTEN_TOLERANCE)
    pieces = []
    for s in subpaths:
        pts: list[complex] = []
        for seg in s:
            if isinstance(seg, Line):
                pts.append(seg.start)
            else:
                n = int(np.clip(np.ceil(seg.length() / chord), 8, 2000))
                pts.extend(seg.point(t) for t in np.arange(n) / n)
        pts.append(s[-1].end)
        z = np.array(pts, dtype=complex)
        pieces.append(np.column_stack([z.real, -z.imag]))
    return one_loop(pieces, str(path), what)


def _element_name(path: Any) -> str:
    """The SVG element (path, rect, circle...) an svgpathtools path was read from, without its namespace."""
    element = getattr(path, "element", None)
    return "element" if element is None else str(element.tag).rsplit("}", 1)[-1]


# ---------------------------------------------------------------------------------------------- meshes


def read_mesh_section(path: str | Path) -> np.ndarray:
    """The section at mid-height of a prism along z in an STL, OBJ or GLB file (mesh.prism_section)."""
    import trimesh

    from geometry.mesh import prism_section

    path = check_input_file(path)
    try:
        mesh = trimesh.load(path, file_type=path.suffix.lower().lstrip("."), force="mesh")
    except Exception as exc:  # trimesh raises many types on a foreign file
        raise ShapeError(
            f"cannot read {path} as a {path.suffix.lstrip('.').upper()} mesh: {_first_line(exc)}"
        ) from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise ShapeError(f"{path} holds no triangles; a shape mesh must be a prism extruded along z")
    return prism_section(mesh, str(path))


READERS: dict[str, Callable[[str | Path], np.ndarray]] = {
    ".csv": read_csv,
    ".txt": read_csv,
    ".dxf": read_dxf,
    ".svg": read_svg,
    ".stl": read_mesh_section,
    ".obj": read_mesh_section,
    ".glb": read_mesh_section,
}


def _counts(found: Counter[str]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in found.most_common())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


UPLOAD_LIMIT = 5 * 1024 * 1024  # bytes: an upload (the app) is a shape file, not a CAD assembly


def shape_from_upload(name: str, data: bytes, limit: int = UPLOAD_LIMIT) -> Shape:
    """A Shape from an uploaded file's name and bytes (read by its extension); ShapeError says why not."""
    import tempfile

    from geometry.shape import Shape

    suffix = Path(name).suffix.lower()
    if suffix not in READERS:
        raise ShapeError(f"{name}: shape files end in {', '.join(READERS)}; got {suffix or 'no extension'}")
    if len(data) > limit:
        raise ShapeError(
            f"{name} is {len(data) / 2**20:.1f} MB; uploads are limited to {limit / 2**20:.0f} MB"
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            return Shape.from_points(read_shape_file(path), name=Path(name).stem)
        except ShapeError as exc:
            raise ShapeError(str(exc).replace(str(path), name)) from None
