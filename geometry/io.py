"""Import and export of polygons as CSV (header `x,y`); writes are atomic (temp file + rename)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from geometry.errors import ShapeError


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write text to a temporary file beside `path`, then rename it over `path`, so a kill never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_csv(path: str | Path) -> np.ndarray:
    """Read x,y points; a header line is optional. Errors name the file and the line."""
    path = Path(path)
    if not path.is_file():
        raise ShapeError(f"shape file {path} does not exist")
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


def write_csv(path: str | Path, points) -> None:
    p = np.asarray(points, dtype=float)
    lines = ["x,y"] + [f"{x:.12g},{y:.12g}" for x, y in p]
    atomic_write_text(path, "\n".join(lines) + "\n")
