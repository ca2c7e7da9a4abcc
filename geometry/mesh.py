"""Closed 3D meshes of a section (trimesh): a prism by extrusion, a body of revolution about the flow axis,
and the section of a prism read back.

Every mesh made here is checked: watertight, consistently wound, outward normals (positive volume).
Coordinates are the section's (user units): the prism stands on the plane z = 0 and reaches z = length; the
body of revolution has its axis along x through y = axis_y, z = 0.
"""

from __future__ import annotations

import warnings

import numpy as np
import shapely
import trimesh
from scipy.spatial import cKDTree
from shapely import affinity

from geometry.errors import ShapeError

# facets around the axis: the volume is N sin(2 pi / N) / (2 pi) = 0.9996 of the smooth body
REVOLVE_SECTIONS = 128
ASYMMETRY_WARNING = 1e-3  # revolve warns when mirroring changes this fraction of the section's area or more


def extrude(points: np.ndarray, length: float) -> trimesh.Trimesh:
    """The prism of the polygon `points` (n, 2) from z = 0 to z = length; its volume is area x length."""
    if not (np.isfinite(length) and length > 0):
        raise ShapeError(f"extrusion length must be a positive number; got {length!r}")
    k = _working_scale(max(np.ptp(points[:, 0]), np.ptp(points[:, 1]), length))
    mesh = trimesh.creation.extrude_polygon(shapely.Polygon(points * k), float(length) * k)
    mesh.apply_scale(1.0 / k)
    return _checked(mesh, "extrusion")


def revolve(points: np.ndarray, axis_y: float, sections: int = REVOLVE_SECTIONS) -> trimesh.Trimesh:
    """The body of revolution of the section's upper half (y >= axis_y) about the line y = axis_y along x.

    A section that is not symmetric about the axis still revolves its upper half, with a warning: the lower
    half of, say, a cambered airfoil is dropped, which is what "revolve" means for a half-section in CAD.
    """
    poly = shapely.Polygon(points)
    size = max(np.ptp(points[:, 0]), np.ptp(points[:, 1]))
    x0, _, x1, y1 = poly.bounds
    if y1 <= axis_y:
        raise ShapeError("revolve: the section has nothing above its flow axis (y = centroid)")
    mirrored = affinity.scale(poly, 1.0, -1.0, origin=(0.0, axis_y))
    asym = poly.symmetric_difference(mirrored).area / poly.area
    if asym >= ASYMMETRY_WARNING:
        warnings.warn(
            f"the section is not symmetric about its flow axis (mirroring changes {100 * asym:.2g}% of its "
            "area); the body of revolution is made from its upper half",
            UserWarning,
            stacklevel=2,
        )
    half = poly.intersection(shapely.box(x0 - size, axis_y, x1 + size, y1 + size))
    if half.geom_type != "Polygon":
        n = len(getattr(half, "geoms", []))
        raise ShapeError(
            f"revolve: the section above its flow axis falls into {n} separate pieces; revolve needs one"
        )
    ring = np.asarray(half.exterior.coords)[:-1]
    r = ring[:, 1] - axis_y
    on_axis = np.abs(r) <= 1e-12 * size
    r[on_axis] = 0.0
    profile = _profile(np.column_stack([r, ring[:, 0]]), on_axis)  # (radius, x)
    k = _working_scale(size)
    mesh = trimesh.creation.revolve(profile * k, sections=int(sections))
    # trimesh revolves (r, h) about z: (r cos t, r sin t, h); send h to x, r cos t to y (+ axis_y),
    # r sin t to z
    to_flow_axis = np.array([[0, 0, 1, 0], [1, 0, 0, axis_y], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=float)
    to_flow_axis[:3, :3] /= k
    mesh.apply_transform(to_flow_axis)
    return _checked(mesh, "revolution")


def _working_scale(size: float) -> float:
    """A power of two (so scaling is exact) that brings `size` to about 1e4: trimesh drops triangles of area
    below an absolute 1e-8 and merges vertices within 1e-8, which would hole a body drawn in metres or a fine
    leading edge."""
    return float(2.0 ** np.round(np.log2(1e4 / size)))


def _profile(rh: np.ndarray, on_axis: np.ndarray) -> np.ndarray:
    """The part of the half-section's outline off the axis, from axis to axis (or the whole ring, closed, when
    it does not touch the axis: the body is then a ring)."""
    if not on_axis.any():
        return np.concatenate([rh, rh[:1]])
    start = int(np.flatnonzero(on_axis)[0])
    rh, on_axis = np.roll(rh, -start, axis=0), np.roll(on_axis, -start)
    rh, on_axis = np.concatenate([rh, rh[:1]]), np.concatenate([on_axis, on_axis[:1]])
    # runs of off-axis points, each with its axis points on both sides
    runs, i = [], 0
    while i < len(rh) - 1:
        if not on_axis[i + 1]:
            j = i + 1
            while not on_axis[j]:
                j += 1
            runs.append(rh[i : j + 1])
            i = j
        else:
            i += 1
    if len(runs) != 1:
        raise ShapeError(
            f"revolve: the section's upper half meets its flow axis in {len(runs) + 1} separate places; "
            "revolve needs an outline that crosses the axis twice"
        )
    return runs[0]


def _checked(mesh: trimesh.Trimesh, what: str) -> trimesh.Trimesh:
    if mesh.volume < 0:
        mesh.invert()
    if not (mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0):
        raise ShapeError(
            f"the {what} is not a closed solid (watertight {mesh.is_watertight}, consistent winding "
            f"{mesh.is_winding_consistent}); the section may be too thin or too finely detailed"
        )
    return mesh


def prism_section(mesh: trimesh.Trimesh, source: str) -> np.ndarray:
    """The section (n, 2) of a prism extruded along z, cut at mid-height; `source` names the file in messages.

    A prism has all its vertices on two planes z = z0 and z = z1. The side faces are triangles, so the cut
    also crosses their diagonals; those points lie on the section's edges and are dropped, keeping the
    section's corners (the xy of the mesh's vertices), so a prism made by `extrude` gives back its polygon
    exactly.
    """
    if len(mesh.faces) == 0:
        raise ShapeError(f"{source} holds no triangles")
    z = mesh.vertices[:, 2]
    size = float(np.max(np.ptp(mesh.vertices, axis=0)))
    z0, z1 = float(z.min()), float(z.max())
    tol = 1e-6 * size
    if z1 - z0 <= tol:
        raise ShapeError(
            f"{source} is flat (no extent along z); a shape mesh must be a prism extruded along z"
        )
    off = (np.abs(z - z0) > tol) & (np.abs(z - z1) > tol)
    if off.any():
        levels = len(np.unique(np.round((z - z0) / tol)))
        raise ShapeError(
            f"{source} is not a prism along z: its vertices lie on {levels} levels of z, not 2; shape meshes "
            "must be a section extruded along z (as `dragopt export --extrude` writes); export the section "
            "as DXF or SVG instead"
        )
    # trimesh joins the cut's segments with absolute tolerances (1e-5): cut a copy at the working scale
    k = _working_scale(size)
    scaled = mesh.copy()
    scaled.apply_scale(k)
    cut = scaled.section(plane_origin=[0.0, 0.0, 0.5 * (z0 + z1) * k], plane_normal=[0.0, 0.0, 1.0])
    loops = [] if cut is None else [np.asarray(d)[:, :2] / k for d in cut.discrete]
    closed = [p for p in loops if len(p) >= 4 and np.linalg.norm(p[0] - p[-1]) <= tol]
    if len(loops) != 1 or len(closed) != 1:
        raise ShapeError(
            f"{source}: the prism's section at mid-height has {len(closed)} closed and "
            f"{len(loops) - len(closed)} open loop(s); a shape mesh must have exactly one closed section"
        )
    section = closed[0][:-1]
    d, _ = cKDTree(mesh.vertices[:, :2]).query(section)
    kept = section[d <= tol]
    return kept if len(kept) >= 3 else section
