"""Files of points and safe writes.

- CSV of x,y points (header `x,y`), read and written.
- Atomic writes: `atomic_write` (for a library that writes to a path itself), `atomic_write_text` and
  `atomic_write_bytes`. A reader, or a process killed mid-write, never sees half a file.
- The checks every shape reader makes before it opens a file (exists, is a file, not empty, not too large).

Permission policy of every atomic write: the file gets the permissions an ordinary `open(path, "w")` would
give a new file, 0o666 & ~umask (and the folder's default ACL, if any), not the 0600 of `tempfile.mkstemp`.
Atomic writes then behave like plain writes: exported shapes, datasets and models are for sharing. The mode of
a file that is overwritten is not kept.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from geometry.errors import ShapeError

# Shape files larger than this are refused before they are read: an outline needs kilobytes, and a reader
# (XML, DXF, mesh) given a huge file could take minutes and gigabytes before it finds the file is not a shape.
MAX_INPUT_BYTES = 20 * 1024 * 1024


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> None:
    """Write the file `path` all at once: `write(tmp)` writes a temporary file in the same folder, which is
    then synced to disk and renamed over `path` (os.replace). On any failure the temporary file is removed and
    an existing `path` is left as it was.

    For libraries that write to a path themselves, e.g.
    `atomic_write(path, lambda tmp: safetensors.torch.save_file(tensors, str(tmp)))`, torch.save or
    numpy.savez. The temporary name ends in `path`'s suffix, so writers that add a missing extension
    (numpy.savez) write where they are told. Permissions: those of a plain open() (the module's policy).

    Args:
        path: the file to write; missing parent folders are made.
        write: called once with the temporary path; it creates or overwrites that file (what it returns is
            ignored).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_temp(path)
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def atomic_write_text(path: str | Path, text: str, encoding: str | None = None) -> None:
    """Write `text` to `path` atomically (`atomic_write`); `encoding` as for open() (default: locale's)."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding=encoding))


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically (`atomic_write`)."""
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def _new_temp(path: Path) -> Path:
    """A new empty file beside `path`, made as open() makes a file (mode 0o666, less the umask), so the kernel
    applies the permission policy: the process umask is never read or changed (changing it is not
    thread-safe)."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp{path.suffix}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"no free temporary file name beside {path}")


def _sync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (POSIX; a no-op where folders cannot be opened)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
    """Read x,y points; a header line is optional, lines starting with '#' are comments. Errors name the file
    and the line."""
    path = check_input_file(path)
    rows: list[tuple[float, float]] = []
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


def write_csv(path: str | Path, points: ArrayLike, comment: str | None = None) -> None:
    """Write x,y points with the shortest text that reads back to the same floats; `comment` goes first, as
    lines starting with '# ' (read_csv skips them)."""
    p = np.asarray(points, dtype=float)
    head = [f"# {line}" for line in comment.splitlines()] if comment else []
    lines = head + ["x,y"] + [f"{float(x)!r},{float(y)!r}" for x, y in p]
    atomic_write_text(path, "\n".join(lines) + "\n")
