"""The design library (optim.library): rows and design files round-trip, the schema is versioned, two
processes writing at once lose nothing, a process killed mid-write leaves it readable, and the commands
record into it and read it back."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import sqlite3
import time

import numpy as np
import pytest

from app import cli
from geometry import parse_shape
from optim.library import VERSION, Library, LibraryError, from_file, to_file
from tests.helpers import error_line


def _design(k: int = 0) -> dict:
    pts = parse_shape("ellipse:2").points * (1 + 0.01 * k)
    return {
        "name": f"design {k}",
        "kind": "optimisation",
        "setup": {"shape": "ellipse:2", "re": [10.0]},
        "outline": pts,
        "start": pts,
        "history": [{"step": 0, "cd": 2.5}],
        "numbers": {"cd_pred_final": 2.4 + k, "status": "converged"},
    }


def test_a_design_round_trips_through_the_library_and_a_design_file(tmp_path):
    with Library(tmp_path / "lib.sqlite") as lib:
        assert lib.version == VERSION
        ids = [lib.add(_design(k)) for k in range(3)]
        got = lib.get(ids[1])
        assert np.array_equal(np.asarray(got["outline"]), _design(1)["outline"])
        assert got["numbers"] == _design(1)["numbers"] and got["setup"]["re"] == [10.0]
        assert [r["id"] for r in lib.list()] == ids[::-1]  # newest first
        lib.rename(ids[0], "  the first  ")
        assert lib.get(ids[0])["name"] == "the first"
        lib.delete(ids[2])
        assert [r["id"] for r in lib.list()] == ids[1::-1]
        with pytest.raises(LibraryError, match=f"no design {ids[2]}"):
            lib.get(ids[2])
        text = to_file(got)
        again = lib.get(lib.add(from_file(text)))
    for key in ("name", "kind", "setup", "numbers", "history", "created"):
        assert again[key] == got[key]
    assert np.array_equal(np.asarray(again["outline"]), np.asarray(got["outline"]))


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("{not json", "is not JSON"),
        (json.dumps({"name": "x"}), "not a dragopt design file"),
        (json.dumps({"format": "dragopt-design", "version": 99}), "newer than"),
        (
            json.dumps({"format": "dragopt-design", "version": 1, "name": "x", "kind": "optimisation"}),
            "needs",
        ),
        (
            json.dumps(
                {
                    "format": "dragopt-design",
                    "version": 1,
                    "name": "x",
                    "kind": "optimisation",
                    "setup": {},
                    "numbers": {},
                    "outline": [[0, 0], [1, float("nan")], [0, 1]],
                }
            ).replace("NaN", "1e999"),
            "finite",
        ),
    ],
)
def test_a_bad_design_file_is_named(text, fragment):
    with pytest.raises(LibraryError, match=fragment):
        from_file(text)


def test_the_schema_is_versioned_and_a_newer_library_is_refused(tmp_path):
    path = tmp_path / "lib.sqlite"
    Library(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute(f"PRAGMA user_version={VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(LibraryError, match="newer than this dragopt"):
        Library(path)
    (tmp_path / "junk.sqlite").write_bytes(b"this is not a database, only text " * 100)
    with pytest.raises(LibraryError, match="is not a design library"):
        Library(tmp_path / "junk.sqlite")


def _writer(path: str, start: int, n: int) -> None:
    with Library(path) as lib:
        for k in range(start, start + n):
            lib.add(_design(k))


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / "lib.sqlite")
    Library(path).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, 1000 * i, 40)) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with Library(path) as lib:
        names = sorted(r["name"] for r in lib.list())
    assert names == sorted(f"design {1000 * i + k}" for i in range(2) for k in range(40))


def _forever(path: str) -> None:
    _writer(path, 0, 10**9)


def test_a_process_killed_mid_write_leaves_the_library_readable(tmp_path):
    path = str(tmp_path / "lib.sqlite")
    Library(path).close()
    p = mp.get_context("spawn").Process(target=_forever, args=(path,))
    p.start()
    deadline = time.time() + 60
    while time.time() < deadline:
        time.sleep(0.2)
        with Library(path) as lib:
            if len(lib.list()) >= 20:
                break
    os.kill(p.pid, signal.SIGKILL)
    p.join(10)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    with Library(path) as lib:
        rows = lib.list()
        assert len(rows) >= 20
        for r in rows:  # every row whole
            assert len(lib.get(r["id"])["outline"]) == len(_design()["outline"])
        lib.add(_design(-1))  # and writable again


def test_optimize_and_simulate_record_and_designs_reads_them_back(tmp_path, capsys):
    lib = tmp_path / "lib.sqlite"
    out = tmp_path / "o"
    args = ["optimize", "--shape", "ellipse:2", "--re", "10", "--keep-area", "--symmetric", "--steps", "3"]
    assert cli.main([*args, "--out", str(out), "--library", str(lib), "-q"]) == 0
    assert cli.main([*args, "--out", str(out), "--library", str(lib), "--no-library", "-q"]) == 0
    assert (
        cli.main(
            ["simulate", "--shape", "circle", "--re", "5", "--resolution", "8", "--library", str(lib), "-q"]
        )
        == 0
    )
    capsys.readouterr()
    f = tmp_path / "list.json"
    assert cli.main(["designs", "list", "--library", str(lib), "--json", str(f)]) == 0
    rows = json.loads(f.read_text())["designs"]
    assert [r["kind"] for r in rows] == ["simulation", "optimisation"]  # --no-library recorded nothing
    result = json.loads((out / "result.json").read_text())
    opt = [r for r in rows if r["kind"] == "optimisation"][0]
    assert opt["numbers"]["cd_pred_final"] == result["cd_pred_final"] and opt["model"].startswith(
        "data/models/default@"
    )
    design_file = tmp_path / "d.json"
    assert (
        cli.main(["designs", "export", str(opt["id"]), "--library", str(lib), "--out", str(design_file)]) == 0
    )
    assert cli.main(["designs", "delete", str(opt["id"]), "--library", str(lib)]) == 0
    assert cli.main(["designs", "import", "--file", str(design_file), "--library", str(lib)]) == 0
    with Library(lib) as back:
        assert sorted(r["name"] for r in back.list()) == sorted(r["name"] for r in rows)
    capsys.readouterr()
    assert cli.main(["designs", "show", "999", "--library", str(lib)]) == 2
    assert "no design 999" in error_line(capsys)
    assert cli.main([*args, "--out", str(tmp_path / "p"), "--library", str(tmp_path)]) == 2
    assert "is not a file" in error_line(capsys)
    assert not (tmp_path / "p" / "result.json").exists()
