"""The `dragopt` command line (DESIGN.md sections 5 and 6), called in-process through app.cli.main."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app import cli
from geometry.io import read_csv
from geometry.presets import parse_shape
from tests.helpers import error_line as _error_line

SIM_KEYS = {"cd", "cd_pressure", "cd_viscous", "cl", "re", "converged", "steps", "wall_s"}
BENCH_KEYS = {"cd", "cl", "dp", "cd_ref", "cl_ref", "dp_ref", "cd_rel_err"}
SCRIPT = Path(sys.executable).with_name("dragopt")


def test_simulate_circle_writes_contract_json(tmp_path, capsys):
    f = tmp_path / "out" / "result.json"
    assert (
        cli.main(["simulate", "--shape", "circle", "--re", "20", "--resolution", "8", "--json", str(f)]) == 0
    )
    data = json.loads(f.read_text())
    assert SIM_KEYS <= data.keys()
    assert data["converged"] is True
    assert 1.9 < data["cd"] < 2.3
    assert data["re"] == 20.0 and data["steps"] >= 1 and data["wall_s"] > 0
    assert data["cd"] == pytest.approx(data["cd_pressure"] + data["cd_viscous"])
    assert len(data["cp"]) == len(data["stations"]) > 0
    out, err = capsys.readouterr()
    assert "Cd = " in out and "pressure" in out and "viscous" in out and "Cl = " in out
    assert "Newton step" in err  # progress goes to stderr
    assert not list(f.parent.glob("*.tmp"))  # atomic write leaves no temporary file


@pytest.fixture
def bad_csvs(tmp_path):
    bowtie = tmp_path / "bowtie.csv"
    bowtie.write_text("x,y\n0,0\n1,1\n1,0\n0,1\n")
    text = tmp_path / "text.csv"
    text.write_text("x,y\n0,0\n1,0\nabc,def\n0,1\n")
    return {"bowtie": str(bowtie), "text": str(text), "missing": str(tmp_path / "missing.csv")}


@pytest.mark.parametrize(
    "shape, re, extra, expect",
    [
        ("bowtie", "20", [], "intersects itself"),
        ("teardrop", "20", [], "unknown shape"),
        ("circle", "0", [], "Reynolds number"),
        ("circle", "-1", [], "Reynolds number"),
        ("circle", "nan", [], "Reynolds number"),
        ("circle", "inf", [], "Reynolds number"),
        ("circle", "abc", [], "--re"),
        ("circle", "20", ["--resolution", "4"], "resolution must be at least 8"),
        ("text", "20", [], "must be numbers"),
        ("missing", "20", [], "does not exist"),
        ("ellipse:abc", "20", [], "ellipse axis ratio"),
        ("naca:12", "20", [], "naca"),
        ("naca:0012", "20", ["--setup", "channel"], "must be circle"),
        ("circle", "10", ["--setup", "channel"], "Re 20"),
    ],
)
def test_simulate_bad_input_is_one_line_exit_2(bad_csvs, capsys, shape, re, extra, expect):
    shape = bad_csvs.get(shape, shape)
    assert cli.main(["simulate", "--shape", shape, "--re", re, *extra]) == 2
    line = _error_line(capsys)
    assert expect in line


def test_simulate_help_exits_0(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["simulate", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--shape" in out and "--re" in out and "--json" in out


@pytest.mark.parametrize("cmd", ["benchmark", "export", "app", "generate", "train", "optimize", "verify"])
def test_every_command_has_help(cmd, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([cmd, "--help"])
    assert exc.value.code == 0
    assert "usage: dragopt " + cmd in capsys.readouterr().out


def test_argparse_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["simulate", "--re", "20"])
    assert exc.value.code == 2
    assert "--shape" in _error_line(capsys)


@pytest.mark.parametrize("spec", ["naca:2412", "rect:2:0.2", "ellipse:2"])
def test_export_csv_round_trips(tmp_path, spec):
    f = tmp_path / "shape.csv"
    assert cli.main(["export", "--shape", spec, "--format", "csv", "--out", str(f)]) == 0
    np.testing.assert_allclose(read_csv(f), parse_shape(spec).user_points(), rtol=1e-10, atol=1e-12)


def test_export_csv_keeps_user_units(tmp_path):
    src = tmp_path / "square.csv"
    src.write_text("x,y\n10,20\n14,20\n14,24\n10,24\n")
    out = tmp_path / "out.csv"
    assert cli.main(["export", "--shape", str(src), "--out", str(out)]) == 0  # format from the suffix
    np.testing.assert_allclose(read_csv(out), read_csv(src), atol=1e-9)


@pytest.mark.parametrize("fmt", ["dxf", "svg", "stl", "obj", "glb"])
def test_export_other_formats_read_back_as_the_same_shape(tmp_path, capsys, fmt):
    f = tmp_path / f"shape.{fmt}"
    assert cli.main(["export", "--shape", "naca:2412", "--format", fmt, "--out", str(f)]) == 0
    assert str(f) in capsys.readouterr().out
    back, shape = parse_shape(str(f)), parse_shape("naca:2412")  # meshes: the section of the prism
    assert back.scale == pytest.approx(shape.scale, rel=1e-6)  # same size and place, in the same units
    np.testing.assert_allclose(back.offset, shape.offset, atol=1e-6)
    assert back.area == pytest.approx(shape.area, rel=1e-9)


def test_benchmark_schaefer_turek(tmp_path, capsys):
    f = tmp_path / "st.json"
    assert cli.main(["benchmark", "schaefer-turek", "--resolution", "8", "--json", str(f)]) == 0
    data = json.loads(f.read_text())
    assert BENCH_KEYS <= data.keys()
    assert data["cd"] == pytest.approx(5.5795, rel=0.05)
    assert data["cd_rel_err"] == pytest.approx((data["cd"] - data["cd_ref"]) / data["cd_ref"])
    assert "Cd" in capsys.readouterr().out


def test_json_to_a_folder_fails_before_simulating(tmp_path, capsys):
    assert cli.main(["simulate", "--shape", "circle", "--re", "20", "--json", str(tmp_path)]) == 2
    assert "folder" in _error_line(capsys)


def test_keyboard_interrupt_exits_130(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    from app.commands import simulate

    monkeypatch.setattr(simulate, "run_simulate", interrupted)
    assert cli.main(["simulate", "--shape", "circle", "--re", "20"]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_jsonable_converts_numpy():
    data = {"a": np.float32(1.5), "b": np.arange(3), "c": (np.int64(2), np.bool_(True)), "d": float("nan")}
    assert json.loads(json.dumps(cli.jsonable(data))) == {
        "a": 1.5,
        "b": [0, 1, 2],
        "c": [2, True],
        "d": None,
    }


@pytest.mark.skipif(not SCRIPT.exists(), reason="console script not installed (pip install -e '.[dev]')")
def test_console_script(tmp_path):
    f = tmp_path / "r.json"
    cmd = [str(SCRIPT), "simulate", "--shape", "circle", "--re", "10", "--resolution", "8", "--json", str(f)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(f.read_text())
    assert SIM_KEYS <= data.keys() and data["converged"] is True and data["re"] == 10.0
    assert data["cd"] > 2.3  # drag rises as Re falls (about 2.0 at Re 20)


def test_thin_body_gets_a_resolution_warning(capsys):
    assert cli.main(["simulate", "--shape", "ellipse:12", "--re", "10", "--resolution", "8", "-q"]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "--resolution" in err
    assert cli.main(["simulate", "--shape", "circle", "--re", "10", "--resolution", "8", "-q"]) == 0
    assert "warning" not in capsys.readouterr().err
