"""The `dragopt` command line, called in-process through app.cli.main."""

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


# ---------- invariance through the CLI, messages that name the real problem, start-up without heavy imports


def test_simulation_does_not_depend_on_units_or_placement(tmp_path, capsys):
    """The same body in micrometres far from the origin and in 1e200 units gives the same Cd, Cl and split,
    through the CLI (before: an OverflowError traceback at 1e200)."""
    from tests.helpers import pitched_naca_body

    results = []
    for i, (scale, offset) in enumerate([(1.0, 0.0), (1e-6, 1e3), (1e200, 0.0), (1e-160, 3e-160)]):
        f = tmp_path / f"body{i}.csv"
        np.savetxt(
            f, pitched_naca_body() * scale + offset, delimiter=",", header="x,y", comments="", fmt="%.17g"
        )
        out = tmp_path / f"r{i}.json"
        assert (
            cli.main(
                ["simulate", "--shape", str(f), "--re", "20", "--resolution", "8", "-q", "--json", str(out)]
            )
            == 0
        )
        import json

        results.append(json.loads(out.read_text()))
    capsys.readouterr()
    for r in results[1:]:
        for k in ("cd", "cl", "cd_pressure", "cd_viscous", "cl_pressure"):
            # 1e9 sizes from the origin the input itself is known to 1e-7 of the size
            assert r[k] == pytest.approx(results[0][k], rel=1e-5, abs=1e-9), k
    assert abs(results[0]["cl"]) > 0.1  # pitched: lift, so a sign error could not hide


def test_shape_argument_problems_are_named(tmp_path, capsys):
    """Before: an empty --shape was 'shape file . is a folder' and a pipe or /dev/null 'does not exist'."""
    import os

    assert cli.main(["simulate", "--shape", "", "--re", "20"]) == 2
    assert "--shape is empty" in _error_line(capsys)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert cli.main(["simulate", "--shape", str(fifo), "--re", "20"]) == 2
    assert "not a regular file" in _error_line(capsys)
    assert cli.main(["simulate", "--shape", str(tmp_path), "--re", "20"]) == 2
    assert "is a folder" in _error_line(capsys)


def test_json_output_problems_are_named_before_the_run(tmp_path, capsys):
    """Before: 'existing.csv/out.json' gave '[Errno 17] File exists'; a pipe (or /dev/null) was replaced by
    the written file; an unwritable place failed after the run, naming an internal temporary file."""
    import os

    existing = tmp_path / "existing.csv"
    existing.write_text("x,y\n")
    base = ["simulate", "--shape", "circle", "--re", "20", "--resolution", "8", "-q"]
    assert cli.main([*base, "--json", str(existing / "out.json")]) == 2
    line = _error_line(capsys)
    assert "is a file, not a folder" in line and "existing.csv" in line
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert cli.main([*base, "--json", str(fifo)]) == 2
    assert "not a regular file" in _error_line(capsys)
    assert fifo.is_fifo()  # untouched
    assert cli.main([*base, "--json", ""]) == 2
    assert "empty" in _error_line(capsys)
    if Path("/proc/self").is_dir():  # a folder where no file can be created, even by root
        assert cli.main([*base, "--json", "/proc/dragopt-out.json"]) == 2
        line = _error_line(capsys)
        assert "cannot write" in line and "/proc" in line and ".tmp" not in line


def test_help_and_shape_parsing_need_no_heavy_imports():
    """`dragopt --help` and reading a shape must not import torch, scipy or shapely (before:
    geometry.presets -> geometry.properties imported torch, about 1 s of a 1.9 s --help). The dataset
    command's own imports are its module's business; this covers the modules the solver side owns."""
    from tests.helpers import ROOT

    code = (
        "import sys\n"
        "from app.common import Parser\n"
        "from app.commands import export, serve, simulate\n"
        "p = Parser(prog='dragopt'); sub = p.add_subparsers(parser_class=Parser)\n"
        "simulate.register(sub); export.register(sub); serve.register(sub)\n"
        "import geometry, geometry.shape, sim.setups, sim.errors\n"
        "print(sorted(m for m in ('torch', 'scipy', 'shapely', 'phi') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_simulate_runs_without_torch(tmp_path):
    """The whole `dragopt simulate` process never imports torch (before: sim.solver imported it, 0.7-0.9 s of
    a 1.3-1.75 s overhead beside the solve): the body coefficients and forces run on numpy
    (geometry.arrays)."""
    from tests.helpers import ROOT

    out_json = tmp_path / "r.json"
    code = (
        "import sys\n"
        "from app.cli import main\n"
        f"rc = main(['simulate', '--shape', 'naca:0030', '--re', '5', '-q', '--json', {str(out_json)!r}])\n"
        "print(rc, sorted(m for m in ('torch', 'phi') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "0 []"
    assert out_json.exists()


@pytest.mark.parametrize(
    ("flag", "value"), [("--hig-taus", "1e-6,x"), ("--hig-batches", "8,0"), ("--eval-every", "0")]
)
def test_compare_methods_refuses_a_bad_sweep_list_before_training(tmp_path, capsys, flag, value):
    out = tmp_path / "cmp"
    assert cli.main(["compare-methods", "--data", str(tmp_path), "--out", str(out), flag, value]) == 2
    assert flag in capsys.readouterr().err and not out.exists()
