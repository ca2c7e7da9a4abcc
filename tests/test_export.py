"""Export and import of shapes against independent truths: round trips, trimesh volumes against
area x length and Pappus' theorem, closed forms of drawn curves, units written where the formats hold them,
and clear errors for files that are not shapes."""

from __future__ import annotations

import math
import os
import re
import warnings

import ezdxf
import numpy as np
import pytest
import shapely
import trimesh

from app import cli
from geometry.errors import ShapeError
from geometry.export import export_shape
from geometry.importers import read_shape_file
from geometry.mesh import REVOLVE_SECTIONS
from geometry.presets import parse_shape
from geometry.shape import Shape
from geometry.validity import validate_points
from tests.helpers import error_line as _error_line

N = REVOLVE_SECTIONS
FACETS = N * math.sin(2 * math.pi / N) / (2 * math.pi)  # volume of an N-facet revolution / the smooth one


def _user_shape(spec: str, scale: float = 37.5, offset=(120.0, -20.0)) -> Shape:
    """A preset in 'user units': scaled and moved off the origin, as a drawing in mm would be."""
    return Shape.from_points(parse_shape(spec).user_points() * scale + np.array(offset), name=spec)


def _aligned(q: np.ndarray, p: np.ndarray) -> np.ndarray:
    """q counter-clockwise and rolled to start at the point nearest p[0] (a mesh section starts anywhere)."""
    q = validate_points(q)
    return np.roll(q, -int(np.argmin(np.linalg.norm(q - p[0], axis=1))), axis=0)


def _quiet_export(*args, **kwargs) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return export_shape(*args, **kwargs)


# ---------------------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("fmt", ["csv", "dxf", "svg"])
@pytest.mark.parametrize("spec", ["naca:2412", "rect:2:0.2"])
def test_outline_formats_round_trip_exactly(tmp_path, fmt, spec):
    shape = _user_shape(spec)
    path = tmp_path / f"shape.{fmt}"
    export_shape(shape, path, fmt, units="mm")
    assert os.listdir(tmp_path) == [path.name]  # atomic: no temp file left
    back = read_shape_file(path)
    np.testing.assert_array_equal(back, shape.user_points())  # same floats, same order
    again = parse_shape(str(path))
    np.testing.assert_allclose(again.user_points(), shape.user_points(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("fmt, tol", [("stl", 1e-6), ("obj", 1e-12), ("glb", 1e-6)])
def test_prism_section_round_trips(tmp_path, fmt, tol):
    shape = _user_shape("naca:2412")
    p = validate_points(shape.user_points())
    path = tmp_path / f"wing.{fmt}"
    export_shape(shape, path, fmt, extrude=250.0)  # no units: GLB keeps the numbers too
    back = read_shape_file(path)
    assert back.shape == p.shape  # the cut's extra points on the side diagonals are dropped
    size = np.ptp(p[:, 0])
    assert np.max(np.abs(_aligned(back, p) - p)) < tol * size


def test_dxf_spline_follows_the_outline(tmp_path):
    shape = _user_shape("naca:0012")
    path = tmp_path / "spline.dxf"
    export_shape(shape, path, "dxf", spline=True)
    doc = ezdxf.readfile(path)
    assert [e.dxftype() for e in doc.modelspace()] == ["SPLINE"]
    p, q = shapely.Polygon(shape.user_points()), shapely.Polygon(read_shape_file(path))
    chord = np.ptp(shape.user_points()[:, 0])
    assert p.hausdorff_distance(q) < 1e-4 * chord
    assert q.area == pytest.approx(p.area, rel=1e-4)


# ---------------------------------------------------------------------------------------------- meshes


def test_extruded_stl_is_watertight_with_volume_area_times_length(tmp_path):
    shape = _user_shape("naca:2412")
    path = tmp_path / "wing.stl"
    info = export_shape(shape, path, "stl", extrude=300.0)
    mesh = trimesh.load(path)  # what is on disk, not the object the writer had
    assert mesh.is_watertight and mesh.is_winding_consistent
    area = shapely.Polygon(shape.user_points()).area
    assert mesh.volume == pytest.approx(area * 300.0, rel=1e-6)
    assert info["volume"] == pytest.approx(area * 300.0, rel=1e-12)
    z = mesh.vertices[:, 2]
    assert z.min() == 0.0 and z.max() == pytest.approx(300.0)


def test_default_mesh_is_a_prism_of_length_d(tmp_path):
    shape = _user_shape("ellipse:2")
    info = export_shape(shape, tmp_path / "e.obj", "obj")
    assert info["extruded_length"] == pytest.approx(shape.scale)  # D in user units
    assert info["volume"] == pytest.approx(math.pi / 4 * shape.scale**3, rel=1e-9)  # A = pi D^2 / 4


def _pappus(points: np.ndarray, axis_y: float) -> float:
    """V = 2 pi ybar A of the part above the axis, times the facet factor of an N-section revolution."""
    half = shapely.Polygon(points).intersection(shapely.box(-1e9, axis_y, 1e9, 1e9))
    ybar = half.centroid.y - axis_y
    return 2 * math.pi * ybar * half.area * FACETS


@pytest.mark.parametrize("fmt", ["stl", "obj"])
def test_revolved_body_volume_matches_pappus(tmp_path, fmt):
    shape = _user_shape("naca:0012")
    path = tmp_path / f"body.{fmt}"
    export_shape(shape, path, fmt, revolve=True)
    mesh = trimesh.load(path, force="mesh")
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.volume == pytest.approx(_pappus(shape.user_points(), shape.offset[1]), rel=1e-5)
    # the axis is the flow axis through the centroid: the body is round about y = yc, z = 0
    r = np.hypot(mesh.vertices[:, 1] - shape.offset[1], mesh.vertices[:, 2])
    assert r.max() == pytest.approx(np.max(shape.user_points()[:, 1]) - shape.offset[1], rel=1e-6)


def test_revolved_rectangle_is_a_cylinder():
    from geometry.mesh import revolve

    w, h = 40.0, 10.0  # sharp rectangle, axis through its centroid: a cylinder of radius h/2, length w
    pts = np.array([[0, 0], [w, 0], [w, h], [0, h]]) + np.array([5.0, 7.0])
    mesh = revolve(pts, axis_y=7.0 + h / 2)
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.volume == pytest.approx(math.pi * (h / 2) ** 2 * w * FACETS, rel=1e-12)


def test_revolving_an_asymmetric_section_warns_and_uses_the_upper_half(tmp_path):
    shape = _user_shape("naca:2412")
    with pytest.warns(UserWarning, match="not symmetric.*upper half"):
        info = export_shape(shape, tmp_path / "b.stl", "stl", revolve=True)
    assert info["volume"] == pytest.approx(_pappus(shape.user_points(), shape.offset[1]), rel=1e-9)


# ---------------------------------------------------------------------------------------------- units


def test_units_are_honoured(tmp_path):
    src = tmp_path / "section.csv"  # a 100 mm x 40 mm rounded section, drawn in mm
    pts = parse_shape("rect:2.5:0.3").user_points() * 40 + np.array([500.0, 80.0])
    np.savetxt(src, pts, delimiter=",", header="x,y", comments="")
    shape = parse_shape(str(src))
    for fmt in ("csv", "dxf", "svg", "stl", "obj", "glb"):
        _quiet_export(shape, tmp_path / f"out.{fmt}", fmt, units="mm")
    assert (tmp_path / "out.csv").read_text().startswith("# section: x,y in mm\n")
    assert ezdxf.readfile(tmp_path / "out.dxf").header["$INSUNITS"] == 4  # millimetres
    _quiet_export(shape, tmp_path / "bare.dxf", "dxf")
    assert ezdxf.readfile(tmp_path / "bare.dxf").header["$INSUNITS"] == 0  # no units: unitless, not metres
    svg = (tmp_path / "out.svg").read_text()
    assert 'width="104mm"' in svg and " 104 " in svg  # 100 mm wide + 2% margins; 1 user unit = 1 mm
    assert (tmp_path / "out.stl").read_bytes()[:80].decode().find("mm") > 0
    assert "in mm" in (tmp_path / "out.obj").read_text().splitlines()[0]
    for fmt, to_file in (("stl", 1.0), ("obj", 1.0), ("glb", 1e-3)):  # glTF is in metres
        mesh = trimesh.load(tmp_path / f"out.{fmt}", force="mesh")
        lo, hi = mesh.bounds
        np.testing.assert_allclose(hi[:2] - lo[:2], [100.0 * to_file, 40.0 * to_file], rtol=1e-6)
        np.testing.assert_allclose(lo[:2], [450.0 * to_file, 60.0 * to_file], rtol=1e-6)
    np.testing.assert_allclose(read_shape_file(tmp_path / "out.dxf"), pts, rtol=0, atol=1e-12)


# ------------------------------------------------------------------------------------------- reading drawings


def _stadium(doc, r: float = 5.0, length: float = 20.0) -> None:
    """Two LINEs and two ARCs, in scrambled order and directions: area pi r^2 + 2 r length."""
    msp = doc.modelspace()
    msp.add_arc((length, 0), r, -90, 90)
    msp.add_line((0, -r), (length, -r))
    msp.add_arc((0, 0), r, 90, 270)
    msp.add_line((0, r), (length, r))


def test_dxf_line_arc_chain_is_one_loop(tmp_path):
    doc = ezdxf.new()
    _stadium(doc)
    doc.modelspace().add_text("a label")  # ignored
    doc.saveas(tmp_path / "stadium.dxf")
    q = read_shape_file(tmp_path / "stadium.dxf")
    assert shapely.Polygon(q).area == pytest.approx(math.pi * 25 + 200, rel=1e-3)
    # every point lies on the stadium: on a line |y| = 5, or on an end circle
    d = np.where((q[:, 0] >= 0) & (q[:, 0] <= 20), np.abs(np.abs(q[:, 1]) - 5), 0.0)
    ends = np.minimum(np.hypot(q[:, 0], q[:, 1]), np.hypot(q[:, 0] - 20, q[:, 1]))
    d = np.where((q[:, 0] < 0) | (q[:, 0] > 20), np.abs(ends - 5), d)
    assert d.max() < 1e-9


@pytest.mark.parametrize("kind", ["lwpolyline", "polyline", "circle"])
def test_dxf_closed_entities(tmp_path, kind):
    doc = ezdxf.new()
    msp = doc.modelspace()
    if kind == "circle":
        msp.add_circle((3, 4), 2.0)
        area = math.pi * 4
    else:  # a 20 x 10 stadium whose ends are bulges (bulge 1 = a half circle)
        pts = [(0, -5, 0, 0, 0), (20, -5, 0, 0, 1), (20, 5, 0, 0, 0), (0, 5, 0, 0, 1)]
        if kind == "lwpolyline":
            msp.add_lwpolyline(pts, format="xyseb", close=True)
        else:
            polyline = msp.add_polyline2d([(x, y) for x, y, *_ in pts], close=True)
            polyline.vertices[1].dxf.bulge = polyline.vertices[3].dxf.bulge = 1
        area = math.pi * 25 + 200
    doc.saveas(tmp_path / f"{kind}.dxf")
    shape = parse_shape(str(tmp_path / f"{kind}.dxf"))
    assert shape.area * shape.scale**2 == pytest.approx(area, rel=1e-3)


def test_svg_curves_and_transforms(tmp_path):
    f = tmp_path / "drawing.svg"
    f.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100" width="100mm" height="100mm">'
        '<g transform="translate(10,20)"><circle cx="30" cy="40" r="15"/></g></svg>'
    )
    q = read_shape_file(f)
    poly = shapely.Polygon(q)
    assert poly.area == pytest.approx(math.pi * 15**2, rel=1e-3)
    assert (poly.centroid.x, poly.centroid.y) == pytest.approx((40.0, -60.0), abs=1e-6)  # y flipped
    assert np.abs(np.hypot(q[:, 0] - 40, q[:, 1] + 60) - 15).max() < 1e-9


# ---------------------------------------------------------------------------------------------- bad files


def _dxf_with(tmp_path, name, build) -> str:
    doc = ezdxf.new()
    build(doc.modelspace())
    doc.saveas(tmp_path / name)
    return str(tmp_path / name)


def _big(tmp_path) -> str:
    f = tmp_path / "huge.dxf"
    with open(f, "wb") as h:
        h.truncate(50 * 2**20)  # sparse: 50 MB in no time
    return str(f)


BAD_FILES = {
    "text as dxf": (lambda t: _text(t, "notes.dxf", "hello\nworld\n"), r"cannot read .*notes\.dxf as DXF"),
    "text as svg": (lambda t: _text(t, "notes.svg", "hello"), r"notes\.svg is not an SVG file \(not XML"),
    "text as stl": (lambda t: _text(t, "notes.stl", "hello world"), r"notes\.stl"),
    "empty dxf": (
        lambda t: _dxf_with(t, "empty.dxf", lambda m: None),
        r"holds no outline \(found no entities\)",
    ),
    "text only dxf": (
        lambda t: _dxf_with(t, "label.dxf", lambda m: m.add_text("x")),
        r"holds no outline \(found 1 TEXT\)",
    ),
    "two loops": (
        lambda t: _dxf_with(t, "two.dxf", lambda m: (m.add_circle((0, 0), 1), m.add_circle((5, 0), 1))),
        r"holds 2 closed loops \(from 2 CIRCLE\).*exactly one",
    ),
    "open polyline": (
        lambda t: _dxf_with(t, "open.dxf", lambda m: m.add_lwpolyline([(0, 0), (10, 0), (10, 10), (0, 10)])),
        r"1 open chain .*\(0, 0\) and \(0, 10\) are 10 apart",
    ),
    "two svg paths": (
        lambda t: _text(t, "two.svg", _svg('<rect width="1" height="1"/><rect x="3" width="1" height="1"/>')),
        r"holds 2 closed loops \(from 2 rect\)",
    ),
    "open svg path": (lambda t: _text(t, "open.svg", _svg('<path d="M0 0 L10 0 L10 10"/>')), r"open chain"),
    "svg without drawing": (lambda t: _text(t, "blank.svg", _svg("<text>hi</text>")), r"no drawing elements"),
    "sphere stl": (lambda t: _mesh(t, "ball.stl", trimesh.creation.icosphere()), r"not a prism along z"),
    "two prisms": (lambda t: _mesh(t, "two.stl", _two_boxes()), r"2 closed and 0 open loop"),
    "50 MB file": (_big, r"is 50\.0 MB; shape files are limited to 20 MB"),
    "empty file": (lambda t: _text(t, "empty.svg", ""), r"is empty"),
    "folder": (lambda t: str(t), r"is a folder"),
    "missing": (lambda t: str(t / "nothing.dxf"), r"does not exist"),
    "unknown type": (lambda t: _text(t, "part.step", "ISO-10303-21;"), r"shape files end in \.csv, .*\.glb"),
}


def _text(tmp_path, name: str, text: str) -> str:
    (tmp_path / name).write_text(text)
    return str(tmp_path / name)


def _svg(body: str) -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">{body}</svg>'


def _mesh(tmp_path, name: str, mesh) -> str:
    mesh.export(tmp_path / name)
    return str(tmp_path / name)


def _two_boxes():
    return trimesh.util.concatenate(
        [trimesh.creation.box((1, 1, 1)), trimesh.creation.box((1, 1, 1)).apply_translation((3, 0, 0))]
    )


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_files_that_are_not_shapes_get_clear_errors(tmp_path, capsys, case):
    make, message = BAD_FILES[case]
    spec = make(tmp_path)
    with pytest.raises(ShapeError, match=message):
        parse_shape(spec)
    assert cli.main(["export", "--shape", spec, "--out", str(tmp_path / "out.csv")]) == 2
    assert re.search(message, _error_line(capsys))  # the same message, one line, no traceback
    assert not (tmp_path / "out.csv").exists()


# ---------------------------------------------------------------------------------------------- command line


def test_cli_exports_meshes_and_reads_them_back(tmp_path, capsys):
    out = tmp_path / "wing.stl"
    assert (
        cli.main(["export", "--shape", "naca:0012", "--out", str(out), "--extrude", "2", "--units", "m"]) == 0
    )
    assert "watertight" in capsys.readouterr().out
    back = tmp_path / "back.dxf"
    assert cli.main(["export", "--shape", str(out), "--out", str(back)]) == 0  # an STL prism is a SHAPE
    p = parse_shape("naca:0012").user_points()
    q = parse_shape(str(back)).user_points()
    assert np.max(np.abs(_aligned(q, p) - validate_points(p))) < 1e-6


def test_cli_revolve_warns_for_an_asymmetric_section(tmp_path, capsys):
    assert cli.main(["export", "--shape", "naca:2412", "--out", str(tmp_path / "b.glb"), "--revolve"]) == 0
    err = capsys.readouterr().err
    assert "dragopt: warning: the section is not symmetric" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--format", "svg", "--extrude", "2"], r"--extrude and --revolve apply to mesh formats"),
        (["--format", "csv", "--revolve"], r"--extrude and --revolve apply to mesh formats"),
        (["--format", "stl", "--extrude", "0"], r"--extrude must be a positive length"),
        (["--format", "stl", "--extrude", "abc"], r"--extrude must be a number"),
        (["--format", "svg", "--spline"], r"--spline applies to dxf"),
    ],
)
def test_cli_rejects_options_that_do_not_fit_the_format(tmp_path, capsys, args, message):
    out = tmp_path / "x.out"
    assert cli.main(["export", "--shape", "circle", "--out", str(out), *args]) == 2
    assert re.search(message, _error_line(capsys))
    assert not out.exists()
