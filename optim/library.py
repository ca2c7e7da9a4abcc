"""The design library: every optimisation and simulation a user runs, kept in one SQLite file.

One row per design: its name, kind (optimisation or simulation), time, set-up (Re, options, constraints, the
start shape), outline, history, the predicted and simulated numbers, and the model it was predicted with (its
card's id). The file is in WAL mode, so two processes (the app, the command line) read and write it at once,
each write one transaction: a process killed mid-write leaves the library as it was before that write. The
schema is versioned: `MIGRATIONS[k]` takes a library from version k to k + 1, applied in order on open.

A design travels between machines as a design file (`to_file` / `from_file`): JSON with a format tag and its
version, the same fields as a row.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

FILE_FORMAT = "dragopt-design"
FILE_VERSION = 1
KINDS = ("optimisation", "simulation")
FIELDS = ("setup", "outline", "start", "history", "numbers")  # JSON columns

MIGRATIONS = [
    """
    CREATE TABLE designs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        created REAL NOT NULL,
        model TEXT,
        setup TEXT NOT NULL,
        outline TEXT NOT NULL,
        start TEXT,
        history TEXT,
        numbers TEXT NOT NULL
    );
    CREATE INDEX designs_created ON designs (created);
    """,
]
VERSION = len(MIGRATIONS)


class LibraryError(ValueError):
    """A library or design file that cannot be used: the message names the file and the problem."""


def default_path() -> Path:
    """The user's library: $DRAGOPT_LIBRARY, else designs.sqlite in the user data folder
    ($XDG_DATA_HOME/dragopt, ~/.local/share/dragopt by default)."""
    if os.environ.get("DRAGOPT_LIBRARY"):
        return Path(os.environ["DRAGOPT_LIBRARY"])
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "dragopt" / "designs.sqlite"


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


class Library:
    """The design library in the SQLite file `path` (created, or migrated to the current schema, on open)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        if self.path.exists() and not self.path.is_file():
            raise LibraryError(f"{self.path} is not a file; give the path of a library file (.sqlite)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=30000")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise LibraryError(
                f"{self.path} is not a design library ({exc}); move it away or give another"
            ) from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE): concurrent writers wait their turn."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _migrate(self) -> None:
        with self._write() as db:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > VERSION:
                raise LibraryError(
                    f"{self.path} has schema version {version}, newer than this dragopt's {VERSION}; "
                    "upgrade dragopt"
                )
            for k in range(version, VERSION):
                for statement in MIGRATIONS[k].split(";"):
                    if statement.strip():
                        db.execute(statement)
            db.execute(f"PRAGMA user_version={VERSION}")

    @property
    def version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def add(self, design: dict[str, Any]) -> int:
        """Store a design (a dict with name, kind, setup, outline, numbers and optionally start, history,
        model, created); returns its id."""
        d = check(design)
        with self._write() as db:
            cur = db.execute(
                "INSERT INTO designs (name, kind, created, model, setup, outline, start, history, numbers) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    d["name"],
                    d["kind"],
                    float(d.get("created") or time.time()),
                    d.get("model"),
                    *(json.dumps(_jsonable(d.get(k))) for k in FIELDS),
                ),
            )
            return int(cur.lastrowid or 0)

    def list(self) -> list[dict[str, Any]]:
        """Every design's summary, newest first: id, name, kind, created, model and its numbers."""
        rows = self._db.execute(
            "SELECT id, name, kind, created, model, numbers FROM designs ORDER BY created DESC, id DESC"
        ).fetchall()
        keys = ("id", "name", "kind", "created", "model")
        return [{**dict(zip(keys, r[:5], strict=True)), "numbers": json.loads(r[5])} for r in rows]

    def get(self, design_id: int) -> dict[str, Any]:
        """One design, whole; LibraryError naming the id when there is none."""
        row = self._db.execute(
            "SELECT id, name, kind, created, model, setup, outline, start, history, numbers FROM designs "
            "WHERE id = ?",
            (int(design_id),),
        ).fetchone()
        if row is None:
            raise LibraryError(f"no design {design_id} in {self.path}; `dragopt designs list` shows the ids")
        out = dict(zip(("id", "name", "kind", "created", "model"), row[:5], strict=True))
        out.update(
            {k: json.loads(v) if v is not None else None for k, v in zip(FIELDS, row[5:], strict=True)}
        )
        return out

    def rename(self, design_id: int, name: str) -> None:
        if not name.strip():
            raise LibraryError("a design's name cannot be empty")
        self.get(design_id)
        with self._write() as db:
            db.execute("UPDATE designs SET name = ? WHERE id = ?", (name.strip(), int(design_id)))

    def delete(self, design_id: int) -> None:
        self.get(design_id)
        with self._write() as db:
            db.execute("DELETE FROM designs WHERE id = ?", (int(design_id),))


def headline_cd(numbers: dict[str, Any]) -> float | None:
    """A design's Cd to list it by: simulated when it was, else predicted (None when it has neither)."""
    return numbers.get("cd_sim_final", numbers.get("cd_pred_final", numbers.get("cd")))


def check(design: dict[str, Any]) -> dict[str, Any]:
    """The design if it has what a row needs, else LibraryError naming what is missing or wrong."""
    missing = [k for k in ("name", "kind", "setup", "outline", "numbers") if design.get(k) is None]
    if missing:
        raise LibraryError(f"a design needs {', '.join(missing)}")
    if design["kind"] not in KINDS:
        raise LibraryError(f"unknown design kind {design['kind']!r}; allowed: {', '.join(KINDS)}")
    pts = np.asarray(design["outline"], dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 3 or not np.all(np.isfinite(pts)):
        raise LibraryError("a design's outline must be at least 3 finite (x, y) points")
    return design


def to_file(design: dict[str, Any]) -> str:
    """A design as a design file (JSON text)."""
    body = {k: v for k, v in design.items() if k != "id"}
    return json.dumps({"format": FILE_FORMAT, "version": FILE_VERSION, **_jsonable(body)}, indent=1) + "\n"


def from_file(text: str | bytes, source: str = "the design file") -> dict[str, Any]:
    """The design a design file holds (checked), ready for Library.add; LibraryError naming the problem."""
    try:
        d = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LibraryError(f"{source} is not JSON ({exc})") from None
    if not isinstance(d, dict) or d.get("format") != FILE_FORMAT:
        raise LibraryError(f"{source} is not a dragopt design file (no format {FILE_FORMAT!r})")
    if int(d.get("version", 0)) > FILE_VERSION:
        raise LibraryError(f"{source} is a design file of version {d['version']}, newer than {FILE_VERSION}")
    return check({k: v for k, v in d.items() if k not in ("format", "version")})


def model_id(surrogate: Any) -> str | None:
    """The id a design records for the surrogate it was predicted with: its folder and its card's hash."""
    if surrogate is None or not getattr(surrogate, "folder", None):
        return None
    import hashlib

    from surrogate.paths import portable

    digest = hashlib.sha256(json.dumps(surrogate.card, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{portable(surrogate.folder)}@{digest}"


def from_run(done: Any, name: str, shape_spec: str, surrogate: Any = None) -> dict[str, Any]:
    """The library record of a finished design run (optim.design.DesignRun)."""
    out = done.to_dict()
    numbers = {k: v for k, v in out.items() if k not in ("history", "limits", "parametrisation")}
    return {
        "name": name,
        "kind": "optimisation",
        "model": model_id(surrogate),
        "setup": {
            "shape": shape_spec,
            "re": list(done.options.re),
            "limits": out["limits"],
            "parametrisation": out["parametrisation"],
            "options": {
                k: getattr(done.options, k)
                for k in ("backend", "optimiser", "objective", "cl", "min_cl", "incidence", "re_weights")
                + ("worst_case", "steps", "rtol", "lift_weight", "trust_region", "verify")
            },
        },
        "outline": done.result.final.points,
        "start": done.result.initial.points,
        "history": out["history"],
        "numbers": numbers,
    }


def from_simulation(shape_spec: str, points: np.ndarray, re: float, result: dict[str, Any]) -> dict[str, Any]:
    """The library record of one full simulation (`dragopt simulate`'s result)."""
    return {
        "name": f"{shape_spec} at Re {re:g}",
        "kind": "simulation",
        "setup": {"shape": shape_spec, "re": [float(re)]},
        "outline": np.asarray(points),
        "numbers": result,
    }
