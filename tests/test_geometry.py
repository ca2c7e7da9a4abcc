"""Tests of the geometry package against independent truths (closed forms, finite differences, refinement)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch

from geometry import io, parametrisations, presets, properties, raster
from geometry.errors import ShapeError
from geometry.presets import parse_shape
from geometry.shape import Shape

QUARTER_PI = math.pi / 4  # area of the reference shape: equivalent diameter D = 1


def _tensor(points) -> torch.Tensor:
    return torch.tensor(np.asarray(points, dtype=float), dtype=torch.float64, requires_grad=True)


def _bumpy_shape(n: int = 48, seed: int = 0) -> np.ndarray:
    """A smooth, non-symmetric, star-shaped outline with irregular point spacing (no special coincidences)."""
    rng = np.random.default_rng(seed)
    t = np.sort(2 * np.pi * (np.arange(n) + rng.uniform(-0.3, 0.3, n)) / n)
    r = 0.5 + 0.08 * np.cos(2 * t + 0.3) + 0.04 * np.sin(3 * t)
    return np.stack([1.3 * r * np.cos(t) + 0.05, 0.8 * r * np.sin(t) - 0.03], axis=1)


# ---------------------------------------------------------------------------------------------- properties


def test_circle_area_is_quarter_pi():
    p = presets.circle_points(512)
    assert np.allclose(np.linalg.norm(p, axis=1), 0.5, atol=1e-15)
    assert abs(float(properties.area(p)) - QUARTER_PI) < 1e-4
    # perimeter of a circle of radius 0.5 is pi; the centroid is the centre
    assert abs(float(properties.perimeter(p)) - math.pi) < 1e-4
    assert np.allclose(np.asarray(properties.centroid(p)), 0.0, atol=1e-12)


def test_properties_of_a_rectangle_match_closed_forms():
    # a 3 x 1 rectangle with its lower-left corner at (2, -1), extra points on the edges
    p = np.array([(2, -1), (3.5, -1), (5, -1), (5, 0), (3, 0), (2, 0), (2, -0.5)], dtype=float)
    assert float(properties.signed_area(p)) == pytest.approx(3.0, abs=1e-12)
    assert float(properties.signed_area(p[::-1])) == pytest.approx(-3.0, abs=1e-12)
    assert float(properties.area(p[::-1])) == pytest.approx(3.0, abs=1e-12)
    assert np.allclose(np.asarray(properties.centroid(p)), [3.5, -0.5], atol=1e-12)
    assert float(properties.perimeter(p)) == pytest.approx(8.0, abs=1e-12)
    assert float(properties.thickness(p)) == pytest.approx(1.0, abs=1e-12)
    assert float(properties.equivalent_diameter(p)) == pytest.approx(2 * math.sqrt(3 / math.pi), abs=1e-12)


def test_naca0012_thickness_is_twelve_percent_of_chord():
    p = presets.naca4_points("0012")
    chord = float(np.ptp(p[:, 0]))
    assert chord == pytest.approx(1.0, abs=1e-12)
    assert abs(float(properties.thickness(p)) - 0.12 * chord) < 1e-3
    # symmetric section: the upper and lower surfaces mirror each other
    assert abs(p[:, 1].max() + p[:, 1].min()) < 1e-12


def test_naca_preset_is_normalised():
    s = parse_shape("naca:0012")
    assert float(properties.equivalent_diameter(s.points)) == pytest.approx(1.0, abs=1e-12)
    assert s.area == pytest.approx(QUARTER_PI, abs=1e-12)
    assert np.allclose(np.asarray(properties.centroid(s.points)), 0.0, atol=1e-9)
    assert float(properties.signed_area(s.points)) > 0  # counter-clockwise
    # normalisation keeps the shape: thickness / chord is still 12 %
    assert s.thickness / s.chord == pytest.approx(0.12, abs=1e-3)


# ---------------------------------------------------------------------------------------------- Shape


def test_from_points_keeps_scale_and_offset():
    user = _bumpy_shape() * 3.7 + np.array([12.0, -4.5])  # counter-clockwise already
    s = Shape.from_points(user)
    assert np.max(np.abs(s.user_points() - user)) < 1e-12
    assert s.scale == pytest.approx(float(properties.equivalent_diameter(user)), rel=1e-12)
    assert np.allclose(s.offset, np.asarray(properties.centroid(user)), atol=1e-12)
    assert s.area == pytest.approx(QUARTER_PI, abs=1e-12)
    assert np.allclose(np.asarray(properties.centroid(s.points)), 0.0, atol=1e-12)


def test_from_points_round_trips_clockwise_input_after_orientation():
    user = (_bumpy_shape() * 0.02 - 7.0)[::-1]  # clockwise, small, far from the origin
    s = Shape.from_points(user)
    assert float(properties.signed_area(s.points)) > 0
    assert np.max(np.abs(s.user_points() - user[::-1])) < 1e-12


def test_from_points_drops_a_repeated_closing_point():
    square = np.array([(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)], dtype=float)
    s = Shape.from_points(square)
    assert len(s.points) == 4
    assert np.max(np.abs(s.user_points() - square[:-1])) < 1e-12


def test_clockwise_polygon_is_reoriented():
    cw = np.array([(0, 0), (0, 1), (2, 1), (2, 0)], dtype=float)
    assert float(properties.signed_area(cw)) < 0
    s = Shape.from_points(cw)
    assert float(properties.signed_area(s.points)) > 0
    assert s.area == pytest.approx(QUARTER_PI, abs=1e-12)
    # same outline: the reoriented points are the input points, reversed
    assert np.allclose(s.user_points(), cw[::-1], atol=1e-12)


def test_rotation_by_ninety_degrees_swaps_chord_and_thickness():
    s = parse_shape("ellipse:2")
    r = s.rotated(90)
    assert r.chord == pytest.approx(s.thickness, rel=1e-3)
    assert r.thickness == pytest.approx(s.chord, rel=1e-3)
    assert r.area == pytest.approx(QUARTER_PI, abs=1e-12)


# ---------------------------------------------------------------------------------------------- presets


@pytest.mark.parametrize("spec", ["circle", "ellipse:2", "naca:2412", "rect:2:0.2", "rect:1:0", "rect:1:0.5"])
def test_presets_are_valid_and_normalised(spec):
    s = parse_shape(spec)
    assert s.area == pytest.approx(QUARTER_PI, abs=1e-12)
    assert float(properties.signed_area(s.points)) > 0
    assert np.allclose(np.asarray(properties.centroid(s.points)), 0.0, atol=1e-9)
    assert np.all(np.isfinite(s.points))
    # a normalised shape is a fixed point of the normalisation
    assert np.allclose(Shape.from_points(s.points).points, s.points, atol=1e-12)


def test_circle_preset_is_a_circle_of_unit_diameter():
    s = parse_shape("circle")
    assert np.max(np.abs(np.linalg.norm(s.points, axis=1) - 0.5)) < 1e-4


def test_ellipse_aspect_ratio():
    s = parse_shape("ellipse:2")
    assert s.chord / s.thickness == pytest.approx(2.0, abs=1e-3)
    # area pi/4 with axis ratio 2: semi-axes a = 2b, pi a b = pi/4
    b = math.sqrt(1 / 8)
    assert s.thickness == pytest.approx(2 * b, rel=1e-3)


def test_rect_aspect_ratio_and_sharp_corners():
    s = parse_shape("rect:2:0.2")
    assert s.chord / s.thickness == pytest.approx(2.0, abs=1e-9)
    sharp = parse_shape("rect:1:0")
    assert len(sharp.points) == 4
    assert sharp.chord == pytest.approx(math.sqrt(QUARTER_PI), abs=1e-12)  # square of area pi/4


def test_mirrored_flips_y():
    s = parse_shape("naca:2412")
    m = s.mirrored()
    y0, y1 = s.points[:, 1].min(), s.points[:, 1].max()
    assert m.points[:, 1].min() == pytest.approx(-y1, abs=1e-12)
    assert m.points[:, 1].max() == pytest.approx(-y0, abs=1e-12)
    assert abs(y1 + y0) > 1e-2  # cambered: the test would notice a no-op
    assert float(properties.signed_area(m.points)) > 0
    assert m.area == pytest.approx(QUARTER_PI, abs=1e-12)
    assert np.allclose(np.sort(m.points[:, 0]), np.sort(s.points[:, 0]), atol=1e-12)


# ---------------------------------------------------------------------------------------------- invalid input

INVALID_POINTS = {
    "bow-tie": ([(0, 0), (1, 1), (1, 0), (0, 1)], "intersects itself"),
    "skewed bow-tie": ([(0, 0), (2, 2), (2, 0), (0, 1)], "intersects itself"),
    "two points": ([(0, 0), (1, 0)], "at least 3 points"),
    "closed two points": ([(0, 0), (1, 0), (0, 0)], "at least 3 points"),
    "nan": ([(0, 0), (1, 0), (np.nan, 1)], "NaN or infinite"),
    "inf": ([(0, 0), (np.inf, 0), (1, 1)], "NaN or infinite"),
    "collinear": ([(0, 0), (1, 0), (2, 0)], "zero area"),
    "collinear back and forth": ([(0, 0), (1, 1), (2, 2), (1.5, 1.5)], "zero area"),
    "duplicate": ([(0, 0), (1, 0), (1, 0), (0, 1)], "duplicate consecutive"),
    "three columns": ([(0, 0, 0), (1, 0, 0), (0, 1, 0)], r"\(n, 2\)"),
    "flat": ([0.0, 1.0, 2.0, 3.0], r"\(n, 2\)"),
    "text": ([("a", "b"), ("c", "d"), ("e", "f")], "not numbers"),
}


@pytest.mark.parametrize("case", list(INVALID_POINTS))
def test_invalid_points_raise_shape_error(case):
    points, message = INVALID_POINTS[case]
    with pytest.raises(ShapeError, match=message):
        Shape.from_points(points)


def test_shape_error_is_a_value_error():
    assert issubclass(ShapeError, ValueError)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("hexagon", r"unknown shape 'hexagon'.*circle.*ellipse:AR.*naca:XXXX.*rect:AR:R"),
        ("ellipse:abc", r"ellipse axis ratio must be a number; got 'abc'"),
        ("ellipse:-1", r"ellipse axis ratio must be in \[0\.05, 20\]; got -1"),
        ("ellipse:0", r"ellipse axis ratio must be in"),
        ("naca:12", r"naca needs 4 digits.*'12'"),
        ("naca:0000", r"non-zero thickness"),
        ("naca:2012", r"camber and its position"),
        ("rect:2", r"unknown shape 'rect:2'.*rect:AR:R"),
        ("rect:2:0.9", r"rect corner radius must be in \[0, 0\.5\]"),
        ("rect:x:0.1", r"rect aspect ratio must be a number"),
    ],
)
def test_parse_shape_rejects_bad_specs(spec, message):
    with pytest.raises(ShapeError, match=message):
        parse_shape(spec)


def test_parse_shape_rejects_bad_csv_files(tmp_path):
    missing = tmp_path / "missing.csv"
    with pytest.raises(ShapeError, match="does not exist"):
        parse_shape(str(missing))

    words = tmp_path / "words.csv"
    words.write_text("x,y\n0,0\n1,0\n1,abc\n")
    with pytest.raises(ShapeError, match=r"line 4: x,y must be numbers"):
        parse_shape(str(words))

    one_column = tmp_path / "one.csv"
    one_column.write_text("0\n1\n2\n")
    with pytest.raises(ShapeError, match=r"line 1: expected two columns"):
        parse_shape(str(one_column))

    empty = tmp_path / "empty.csv"
    empty.write_text("x,y\n")
    with pytest.raises(ShapeError, match="no x,y points"):
        parse_shape(str(empty))

    bow_tie = tmp_path / "bowtie.csv"
    bow_tie.write_text("0,0\n1,1\n1,0\n0,1\n")
    with pytest.raises(ShapeError, match="intersects itself"):
        parse_shape(str(bow_tie))


# ---------------------------------------------------------------------------------------------- CSV


def test_csv_round_trip_and_atomic_write(tmp_path):
    points = _bumpy_shape() * 123.456 + np.array([-0.001, 7.0])
    path = tmp_path / "out" / "shape.csv"
    io.write_csv(path, points)
    assert path.read_text().splitlines()[0] == "x,y"
    back = io.read_csv(path)
    assert back.shape == points.shape
    assert np.max(np.abs(back - points)) < 1e-9
    assert os.listdir(path.parent) == ["shape.csv"]  # no temp file left behind
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # as open() would make it, not mkstemp's 0600

    s = parse_shape(str(path))
    assert s.name == "shape"
    assert np.max(np.abs(s.user_points() - points)) < 1e-9

    # overwriting goes through a temp file too, and still leaves only the one file
    io.write_csv(path, points[::2])
    assert np.max(np.abs(io.read_csv(path) - points[::2])) < 1e-9
    assert os.listdir(path.parent) == ["shape.csv"]


def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "shape.csv"
    io.write_csv(path, [(0, 0), (1, 0), (0, 1)])
    before = path.read_text()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(io.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        io.write_csv(path, [(0, 0), (2, 0), (0, 2)])
    assert path.read_text() == before
    assert os.listdir(tmp_path) == ["shape.csv"]


def test_atomic_write_round_trips_text_bytes_and_a_library_writer(tmp_path):
    io.atomic_write_text(tmp_path / "a" / "card.json", '{"cd": 1.5}\n')
    assert (tmp_path / "a" / "card.json").read_text() == '{"cd": 1.5}\n'
    data = bytes(range(256)) * 3
    io.atomic_write_bytes(tmp_path / "a" / "mesh.glb", data)
    assert (tmp_path / "a" / "mesh.glb").read_bytes() == data
    # a writer that adds a missing extension (numpy.savez) writes where it is told: the temp keeps the suffix
    x = np.arange(5.0)
    io.atomic_write(tmp_path / "a" / "arrays.npz", lambda tmp: np.savez(tmp, x=x))
    with np.load(tmp_path / "a" / "arrays.npz") as f:
        assert np.array_equal(f["x"], x)
    assert sorted(os.listdir(tmp_path / "a")) == ["arrays.npz", "card.json", "mesh.glb"]


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_atomic_write_gives_the_permissions_of_a_plain_open(tmp_path, umask):
    old = os.umask(umask)
    try:
        with open(tmp_path / "plain.txt", "w") as f:
            f.write("x")
        io.atomic_write_text(tmp_path / "text.txt", "x")
        io.atomic_write(tmp_path / "lib.bin", lambda tmp: tmp.write_bytes(b"x"))
    finally:
        os.umask(old)
    plain = (tmp_path / "plain.txt").stat().st_mode & 0o777
    assert plain == 0o666 & ~umask
    assert (tmp_path / "text.txt").stat().st_mode & 0o777 == plain
    assert (tmp_path / "lib.bin").stat().st_mode & 0o777 == plain


def test_atomic_write_after_a_failing_writer_keeps_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "model.safetensors"
    io.atomic_write_bytes(path, b"old weights")

    def half_then_fail(tmp):
        tmp.write_bytes(b"new wei")
        raise RuntimeError("writer crashed")

    with pytest.raises(RuntimeError, match="writer crashed"):
        io.atomic_write(path, half_then_fail)
    assert path.read_bytes() == b"old weights"
    assert os.listdir(tmp_path) == ["model.safetensors"]
    # a first write that fails leaves nothing at all
    with pytest.raises(RuntimeError, match="writer crashed"):
        io.atomic_write(tmp_path / "new.safetensors", half_then_fail)
    assert os.listdir(tmp_path) == ["model.safetensors"]


def test_read_csv_accepts_semicolons_comments_and_no_header(tmp_path):
    path = tmp_path / "pts.csv"
    path.write_text("# a triangle\n0;0\n\n2, 0\n0 ,1\n")
    assert np.array_equal(io.read_csv(path), [[0, 0], [2, 0], [0, 1]])


# ---------------------------------------------------------------------------------------------- raster


def _raster_area_errors(points, faces, offsets):
    """RMS and max of the relative error of the rasterised area over a few shifts of the shape, per grid."""
    area = float(properties.area(points))
    out = []
    for xf, yf in faces:
        cell = np.outer(np.diff(xf), np.diff(yf))
        errs = [
            (float((raster.grid_fractions(points + o, xf, yf).numpy() * cell).sum()) - area) / area
            for o in offsets
        ]
        out.append((math.sqrt(np.mean(np.square(errs))), max(abs(e) for e in errs)))
    return out


def _stretched(n: int, beta: float) -> np.ndarray:
    s = np.linspace(-1.0, 1.0, n + 1)
    return np.tanh(beta * s) / np.tanh(beta)


# random sub-cell shifts: the error of one placement can cancel by luck, the RMS over a few cannot
_OFFSETS = np.random.default_rng(1).uniform(-0.1, 0.1, size=(4, 2))


def _assert_area_converges(errs):
    """RMS area error falls with each refinement, halves over two, and the finest worst case is below 1e-3."""
    rms = [e[0] for e in errs]
    assert rms[0] > rms[1] > rms[2], rms
    assert rms[2] < 0.5 * rms[0], rms
    assert errs[-1][1] < 1e-3


def test_raster_area_converges_on_a_uniform_grid():
    points = presets.circle_points(128)
    faces = [(np.linspace(-1, 1, n + 1),) * 2 for n in (16, 32, 64)]  # h = 1/8, 1/16, 1/32
    _assert_area_converges(_raster_area_errors(points, faces, _OFFSETS))


def test_raster_area_converges_on_a_stretched_grid():
    points = parse_shape("naca:2412").points * 0.45  # chord about 1.4: fits [-1, 1]^2 with the shifts
    faces = [(_stretched(n, 1.5), _stretched(n, 2.0)) for n in (16, 32, 64)]
    assert np.ptp(np.diff(faces[-1][0])) > 0.5 * np.diff(faces[-1][0]).max()  # really non-uniform
    _assert_area_converges(_raster_area_errors(points, faces, _OFFSETS))


def test_raster_fractions_inside_outside_and_half():
    square = np.array([(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)])
    # a cell well inside, one far outside, one cut in half by the edge x = 0.5, one a quarter covered
    x0, x1 = np.array([-0.1, 2.0, 0.45, 0.4]), np.array([0.1, 2.1, 0.55, 0.6])
    y0, y1 = np.array([-0.1, 2.0, -0.05, 0.4]), np.array([0.1, 2.1, 0.05, 0.6])
    f = raster.cell_fractions(square, x0, x1, y0, y1).numpy()
    assert np.allclose(f, [1.0, 0.0, 0.5, 0.25], atol=1e-12)


def test_raster_fraction_of_non_square_cells_cut_by_a_grid_aligned_edge():
    square = np.array([(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)])
    # 4:1 and 1:4 cells cut by the edge x = 0.5 (resp. y = 0.5) at 30 % of their width (resp. height)
    x0, x1 = np.array([0.44, 0.0]), np.array([0.64, 0.05])
    y0, y1 = np.array([0.0, 0.44]), np.array([0.05, 0.64])
    f = raster.cell_fractions(square, x0, x1, y0, y1).numpy()
    assert np.allclose(f, [0.3, 0.3], atol=1e-12)


def test_raster_area_of_a_square_on_elongated_cells():
    # straight grid-aligned edges must not depend on the cell shape: 4:1 cells do as well as square ones
    points = parse_shape("rect:1:0").points * 1.3
    square = _raster_area_errors(points, [(np.linspace(-1, 1, 33),) * 2], _OFFSETS)[0][1]
    elongated = _raster_area_errors(points, [(np.linspace(-1, 1, 17), np.linspace(-1, 1, 65))], _OFFSETS)[0][
        1
    ]
    assert square < 1e-4
    assert elongated < 1e-4


def test_signed_distance_of_a_circle():
    p = torch.as_tensor(presets.circle_points(512), dtype=torch.float64)
    q = torch.tensor([(0.0, 0.0), (1.0, 0.0), (0.3, -0.4), (0.0, 0.7)], dtype=torch.float64)
    d = raster.signed_distance(p, q).numpy()
    assert np.allclose(d, [-0.5, 0.5, 0.0, 0.2], atol=1e-4)


# ---------------------------------------------------------------------------------------------- gradients


def _fd_check(fn, points, step, coords=None, rtol=1e-6):
    """Compare the autograd gradient of scalar fn(points) with central differences at the given (i, d)."""
    x = _tensor(points)
    (grad,) = torch.autograd.grad(fn(x), x)
    coords = coords if coords is not None else [(i, d) for i in range(len(points)) for d in (0, 1)]
    scale = float(grad.abs().max())
    assert scale > 0
    for i, d in coords:
        xp, xm = np.array(points, dtype=float), np.array(points, dtype=float)
        xp[i, d] += step
        xm[i, d] -= step
        with torch.no_grad():
            fd = (float(fn(torch.as_tensor(xp))) - float(fn(torch.as_tensor(xm)))) / (2 * step)
        g = float(grad[i, d])
        assert abs(g - fd) <= rtol * max(abs(fd), scale), (i, d, g, fd)
    return grad


def test_area_gradient_matches_finite_differences_and_closed_form():
    p = _bumpy_shape()
    grad = _fd_check(properties.area, p, 1e-6)
    # dA/dp_i = 0.5 * (y_{i+1} - y_{i-1}, x_{i-1} - x_{i+1})
    nxt, prv = np.roll(p, -1, axis=0), np.roll(p, 1, axis=0)
    exact = 0.5 * np.stack([nxt[:, 1] - prv[:, 1], prv[:, 0] - nxt[:, 0]], axis=1)
    assert np.allclose(grad.numpy(), exact, atol=1e-12)


@pytest.mark.parametrize("component", [0, 1])
def test_centroid_gradient_matches_finite_differences(component):
    _fd_check(lambda x: properties.centroid(x)[component], _bumpy_shape(), 1e-6)


def test_perimeter_gradient_matches_finite_differences():
    _fd_check(properties.perimeter, _bumpy_shape(), 1e-6)


def test_thickness_gradient_matches_finite_differences():
    _fd_check(properties.thickness, _bumpy_shape(), 1e-6)
    _fd_check(properties.thickness, presets.naca4_points("2412", n=41), 1e-6)


def _grid_cells(n: int = 32):
    xf = np.linspace(-1.0, 1.0, n + 1)
    X0, Y0 = np.meshgrid(xf[:-1], xf[:-1], indexing="ij")
    X1, Y1 = np.meshgrid(xf[1:], xf[1:], indexing="ij")
    return X0.ravel(), X1.ravel(), Y0.ravel(), Y1.ravel()


@pytest.mark.parametrize("stretched", [False, True])
def test_raster_gradient_matches_finite_differences(stretched):
    # The weighted sum of fractions is piecewise smooth: it has a kink wherever a sub-sample leaves the linear
    # part of its ramp or changes its nearest segment, and with h = 1/16 and 8 x 8 sub-samples those kinks lie
    # about 1e-5 apart for a moving point (a step of 1e-5 straddles one for a few coordinates in fifty). A
    # step of 1e-7 avoids them and leaves the round-off at about 1e-9.
    p = _bumpy_shape(24, seed=3)
    if stretched:
        xf, yf = _stretched(24, 1.5), _stretched(40, 0.5)  # cells up to 3:1 in both directions
        X0, Y0 = np.meshgrid(xf[:-1], yf[:-1], indexing="ij")
        X1, Y1 = np.meshgrid(xf[1:], yf[1:], indexing="ij")
        cells = X0.ravel(), X1.ravel(), Y0.ravel(), Y1.ravel()
    else:
        cells = _grid_cells(32)
    w = torch.as_tensor(np.random.default_rng(2).normal(size=len(cells[0])), dtype=torch.float64)

    def weighted(x):
        return (w * raster.cell_fractions(x, *cells)).sum()

    rng = np.random.default_rng(4)
    coords = [
        (int(i), int(d))
        for i, d in zip(rng.choice(len(p), 12, replace=False), rng.integers(0, 2, 12), strict=True)
    ]
    _fd_check(weighted, p, 1e-7, coords=coords, rtol=1e-5)


def test_raster_area_gradient_approaches_the_polygon_area_gradient():
    p = _bumpy_shape(24, seed=3)
    x = _tensor(p)
    (g_exact,) = torch.autograd.grad(properties.area(x), x)
    errs = []
    for n in (16, 64):
        x = _tensor(p)
        area = raster.cell_fractions(x, *_grid_cells(n)).sum() * (2.0 / n) ** 2
        (g_raster,) = torch.autograd.grad(area, x)
        errs.append(float(torch.linalg.norm(g_raster - g_exact) / torch.linalg.norm(g_exact)))
    assert errs[1] < 0.05, errs
    assert errs[1] < 0.5 * errs[0], errs


# ------------------------------------------------------------------------------------------- parametrisations


@pytest.mark.parametrize(("n", "tol"), [(16, 2e-3), (32, 2e-4)])
def test_bspline_of_circle_control_points_is_a_circle(n, tol):
    pts = parametrisations.bspline_points(parametrisations.circle_control_points(n, 0.5))
    assert pts.shape == (n * 16, 2)
    r = torch.linalg.norm(pts, dim=1)
    assert float((r - 0.5).abs().max()) < tol
    assert float(properties.signed_area(pts)) > 0
    assert float(properties.area(pts)) == pytest.approx(QUARTER_PI, rel=1e-2)


def test_bspline_reproduces_a_straight_line_and_its_control_polygon_hull():
    # uniform cubic B-splines reproduce linear functions: collinear equally spaced controls give a line
    ctrl = torch.tensor(
        [(0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (3.0, 0.0), (4.0, 0.0), (5.0, 0.0)], dtype=torch.float64
    )
    pts = parametrisations.bspline_points(ctrl, per_segment=4)
    # segments 1..3 (away from the wrap-around) follow x = i + t exactly
    seg = pts.reshape(6, 4, 2)[1:4]
    expected = torch.arange(1, 4, dtype=torch.float64)[:, None] + torch.arange(4, dtype=torch.float64) / 4
    assert torch.allclose(seg[..., 0], expected, atol=1e-12)
    assert torch.allclose(seg[..., 1], torch.zeros_like(expected), atol=1e-12)


def test_bspline_gradients_reach_the_control_points():
    ctrl = parametrisations.circle_control_points(12, 0.5).clone().requires_grad_(True)

    def area_of(c):
        return properties.area(parametrisations.bspline_points(c))

    (grad,) = torch.autograd.grad(area_of(ctrl), ctrl)
    assert torch.all(torch.isfinite(grad))
    assert float(grad.abs().min()) > 0  # every control point moves the outline
    # pushing every control point outwards grows the area: radial components are positive
    assert torch.all((grad * ctrl.detach()).sum(1) > 0)
    _fd_check(area_of, ctrl.detach().numpy(), 1e-6, coords=[(0, 0), (3, 1), (7, 0), (11, 1)])


def test_fourier_with_only_a0_is_a_circle():
    a0 = torch.tensor(0.37, dtype=torch.float64, requires_grad=True)
    a = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    pts = parametrisations.fourier_points(a0, a, b, n_points=200)
    assert pts.shape == (200, 2)
    assert torch.allclose(
        torch.linalg.norm(pts, dim=1), torch.full((200,), 0.37, dtype=torch.float64), atol=1e-14
    )
    assert float(properties.signed_area(pts.detach())) > 0
    # area of the inscribed 200-gon of radius a0, and its gradient d/da0 = 2 A / a0
    A = properties.area(pts)
    exact = 0.5 * 200 * 0.37**2 * math.sin(2 * math.pi / 200)
    assert float(A.detach()) == pytest.approx(exact, rel=1e-12)
    ga0, ga, gb = torch.autograd.grad(A, (a0, a, b))
    assert float(ga0) == pytest.approx(2 * exact / 0.37, rel=1e-12)
    # first-order: cos/sin modes do not change the area of a circle
    assert torch.allclose(ga, torch.zeros(3, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(gb, torch.zeros(3, dtype=torch.float64), atol=1e-12)


def test_fourier_mode_shifts_the_outline():
    # r = a0 + a1 cos(phi): to first order a circle shifted by a1 along x, so the centroid moves by about a1
    a0 = torch.tensor(0.5, dtype=torch.float64)
    a = torch.tensor([0.01, 0.0], dtype=torch.float64)
    b = torch.zeros(2, dtype=torch.float64)
    c = properties.centroid(parametrisations.fourier_points(a0, a, b)).numpy()
    assert c[0] == pytest.approx(0.01, rel=2e-2)
    assert abs(c[1]) < 1e-12


def test_mirrored_and_rotated_keep_the_users_units():
    user = np.array([[10.0, 5.0], [14.0, 5.0], [14.0, 6.0], [10.0, 7.0]])
    shape = Shape.from_points(user)
    mirrored = shape.mirrored().user_points()
    expected = user * np.array([1.0, -1.0])
    assert np.allclose(np.sort(mirrored, axis=0), np.sort(expected, axis=0), atol=1e-12)
    rotated = shape.rotated(90.0)
    assert rotated.scale == pytest.approx(shape.scale)
    assert properties.area(rotated.user_points()).item() == pytest.approx(properties.area(user).item())
    assert np.allclose(
        np.asarray(properties.centroid(rotated.user_points())), np.asarray(properties.centroid(user))
    )


# ---------- units and placement, sharp corners ----------


@pytest.mark.parametrize("scale", [1e-200, 1e-160, 1e-9, 1e-3, 1.0, 1e3, 1e9, 1e200])
@pytest.mark.parametrize("offset", [0.0, 1e5, 1e9])
def test_shape_does_not_depend_on_units_or_placement(scale, offset):
    """Before: 1e200 raised OverflowError, 1e-160 and offsets with small bodies failed as 'duplicate points',
    a unit body at 1e5 moved its centroid by 0.04 D (catastrophic cancellation in the shoelace sums)."""
    from tests.helpers import pitched_naca_body

    ref = Shape.from_points(pitched_naca_body())
    shift = offset * scale  # in the body's own units: up to 1e9 sizes from the origin
    s = Shape.from_points(pitched_naca_body() * scale + shift)
    # the input itself is only known to the spacing of doubles at `shift`, relative to the body's size
    tol = 1e-12 + 8 * np.spacing(shift) / scale
    np.testing.assert_allclose(s.points, ref.points, rtol=0, atol=tol)
    assert s.scale == pytest.approx(ref.scale * scale, rel=1e-12 + tol)
    np.testing.assert_allclose(s.offset, ref.offset * scale + shift, rtol=1e-12, atol=tol * s.scale)
    np.testing.assert_allclose(
        s.user_points(), pitched_naca_body()[::-1] * scale + shift, rtol=1e-9, atol=tol * s.scale
    )


@pytest.mark.parametrize(
    "scale, offset, match",
    [
        (1e-9, 1e5, "double precision resolves"),
        (1e-3, 1e9, "double precision resolves"),
        (1e-300, 0.0, "size"),
    ],
)
def test_shape_beyond_double_precision_is_a_clear_error(scale, offset, match):
    from tests.helpers import pitched_naca_body

    with pytest.raises(ShapeError, match=match):
        Shape.from_points(pitched_naca_body() * scale + offset)


def test_sharpest_turn_is_the_geometry_of_the_corner():
    """Analytic truths: a square's corner turns by 90 degrees, the tip of a lens of two arcs of radius R
    through the chord's ends (chord 1, interior angle 2 asin(1 / (2R))) by 180 degrees minus that, and a
    circle of radius r by L / r radians within a stretch L."""
    from geometry.properties import sharpest_turn

    square = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    assert sharpest_turn(square, 0.1) == pytest.approx(90.0)
    assert sharpest_turn(square, 1.5) == pytest.approx(180.0)  # a stretch that holds two corners
    h = 0.12
    radius = (0.25 + h * h) / (2 * h)
    from tests.helpers import benchmark

    lens_points = benchmark("split").lens_points

    tip = 2 * np.degrees(np.arcsin(0.5 / radius))
    assert sharpest_turn(lens_points(h), 1e-3) == pytest.approx(180 - tip, rel=1e-3)
    t = np.linspace(0, 2 * np.pi, 2001)[:-1]
    circle = 0.5 * np.stack([np.cos(t), np.sin(t)], 1)
    assert sharpest_turn(circle, 0.1) == pytest.approx(np.degrees(0.1 / 0.5), rel=0.01)
