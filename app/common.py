"""What every `dragopt` command shares: the usage error, the one-line argparse error, number parsing, JSON
output and progress lines. No physics here."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeAlias

import numpy as np

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

SubParsers: TypeAlias = "argparse._SubParsersAction[Parser]"  # what register(sub) receives


class UsageError(Exception):
    """Bad command-line input found by a command (exit code 2)."""


class Parser(argparse.ArgumentParser):
    """argparse with the project's one-line error format (still exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"dragopt: error: {message} (see '{self.prog} --help')\n")


def float_arg(text: str, what: str) -> float:
    """`text` as a float; a UsageError naming the option `what` otherwise."""
    try:
        return float(text)
    except (TypeError, ValueError):
        raise UsageError(f"{what} must be a number; got {text!r}") from None


def positive_int(text: str, what: str) -> int:
    """`text` as a whole number >= 1; a UsageError naming the option `what` otherwise."""
    try:
        v = int(text)
    except (TypeError, ValueError):
        raise UsageError(f"{what} must be a positive whole number; got {text!r}") from None
    if v < 1:
        raise UsageError(f"{what} must be a positive whole number; got {v}")
    return v


def jsonable(obj: Any) -> Any:
    """numpy scalars/arrays, tuples and paths -> plain JSON types; non-finite floats -> null."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: str | Path, data: dict) -> None:
    """`data` as indented JSON, written atomically; a UsageError naming `path` when it cannot be written."""
    from geometry.io import atomic_write_text

    check_output(path)  # again: the folder may have changed during the run; never replace a device
    try:
        atomic_write_text(path, json.dumps(jsonable(data), indent=2) + "\n")
    except OSError as exc:  # name the file asked for, not the temporary file beside it
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def check_output(path: str | Path | None, what: str = "output") -> None:
    """Fail before long work if `path` cannot be written, naming the real problem (creates its folder, as the
    atomic write would). The output is written to a temporary file beside it and renamed over it, so it must
    be a regular file (or not exist yet) in a folder where files can be created."""
    if path is None:
        return
    if not str(path).strip():
        raise UsageError(f"{what} file name is empty; give a file name")
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{what} {path} is a folder; give a file name")
    if path.exists() and not path.is_file():
        raise UsageError(
            f"{what} {path} is not a regular file (a device, pipe or socket); it would be replaced by the "
            "written file: give a file name"
        )
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"cannot write {what} {path}: {ancestor} is a file, not a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create the folder {path.parent} for {what} {path}: {exc.strerror}"
        ) from None
    try:  # os.access is not enough: root passes it on read-only file systems and /proc
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(
            f"cannot write {what} {path}: files cannot be created in {path.parent} ({exc.strerror}); "
            "choose another folder"
        ) from None


def write_result(path: str | None, out: dict) -> int:
    """Write the --json result (when asked) and end the command successfully."""
    if path:
        write_json(path, out)
        print(f"wrote {path}")
    return 0


def num(v: float, digits: int = 4) -> str:
    """Fixed-point without a '-0.0000'."""
    if abs(v) < 0.5 * 10**-digits:
        v = 0.0
    return f"{v:.{digits}f}"


def info(msg: str) -> None:
    """A progress or warning line on stderr (stdout keeps the results)."""
    print(msg, file=sys.stderr, flush=True)


def newton_progress(quiet: bool) -> Callable[[int, float], None] | None:
    """A progress(step, residual) callback printing one stderr line per Newton step."""
    if quiet:
        return None

    def progress(step: int, residual: float) -> None:
        info(f"  Newton step {step:2d}: residual {residual:.3e}")

    return progress


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """--json and --quiet, shared by the commands that compute a result."""
    parser.add_argument("--json", metavar="F", help="write the result as JSON to F")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def check_shape_arg(spec: str) -> None:
    """Problems of a SHAPE argument that the shape reader would misname: empty, or a path that is not a
    regular file (a device such as /dev/null, a pipe); a folder and a missing file are named by the reader."""
    if not spec.strip():
        raise UsageError(
            "--shape is empty; give a preset (circle, ellipse:2, naca:0012, rect:2:0.2) or a shape file"
        )
    path = Path(spec)
    if path.exists() and not path.is_dir() and not path.is_file():
        raise UsageError(
            f"shape file {spec} is not a regular file (a device, pipe or socket); give a shape file (.csv, "
            ".dxf, .svg, .stl, .obj, .glb)"
        )
