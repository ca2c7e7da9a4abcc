"""Files of points: CSV (header `x,y`) read and written, atomic writes (temp file + rename) of text and bytes, and
the checks every shape reader makes before it opens a file (it exists, is a file, is not empty, is not too large)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from geometry.errors import ShapeError

# Shape files larger than this are refused before they are read: an outline needs kilobytes, and a reader (XML,
# DXF, mesh) given a huge file could take minutes and gigabytes before it finds the file is not a shape.
MAX_INPUT_BYTES = 20 * 1024 * 1024


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write text to a temporary file beside `path`, then rename it over `path`, so a kill never leaves half a file."""
    _atomic_write(path, text, "w")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """The binary twin of atomic_write_text (STL, GLB)."""
    _atomic_write(path, data, "wb")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def _atomic_write(path: str | Path, data: str | bytes, mode: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; an exported shape or a card is for sharing
        with os.fdopen(fd, mode) as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_input_file(path: str | Path, limit: int = MAX_INPUT_BYTES) -> Path:
    """The path of a shape file that exists, is a regular file, is not empty and is at most `limit` bytes."""
    path = Path(path)
    if path.is_dir():
        raise ShapeError(f"shape file {path} is a folder; give a file")
    if not path.is_file():
        raise ShapeError(f"shape file {path} does not exist")
    size = path.stat().st_size
    if size == 0:
        raise ShapeError(f"shape file {path} is empty")
    if size > limit:
        raise ShapeError(
            f"shape file {path} is {size / 2**20:.1f} MB; shape files are limited to {limit / 2**20:.0f} MB"
        )
    return path


def read_csv(path: str | Path) -> np.ndarray:
    """Read x,y points; a header line is optional, lines starting with '#' are comments. Errors name the file and
    the line."""
    path = check_input_file(path)
    rows = []
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ShapeError(f"cannot read {path} as a text CSV of x,y points: {exc}") from None
    for i, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [s.strip() for s in line.replace(";", ",").split(",")]
        if len(parts) < 2:
            raise ShapeError(f"{path}, line {i}: expected two columns x,y; got {line!r}")
        try:
            rows.append((float(parts[0]), float(parts[1])))
        except ValueError:
            if rows or not all(parts[:2]):  # a header is allowed only before the first point
                raise ShapeError(f"{path}, line {i}: x,y must be numbers; got {line!r}") from None
    if not rows:
        raise ShapeError(f"{path} holds no x,y points")
    return np.array(rows)


def write_csv(path: str | Path, points, comment: str | None = None) -> None:
    """Write x,y points with the shortest text that reads back to the same floats; `comment` goes first as '# '
    lines (read_csv skips them)."""
    p = np.asarray(points, dtype=float)
    head = [f"# {line}" for line in comment.splitlines()] if comment else []
    lines = head + ["x,y"] + [f"{float(x)!r},{float(y)!r}" for x, y in p]
    atomic_write_text(path, "\n".join(lines) + "\n")
