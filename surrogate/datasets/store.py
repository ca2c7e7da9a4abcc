"""A dataset on disk: a folder of shards and `manifest.json`.

- A shard `shard-NNNNN.npz` (compressed numpy, no pickles) holds the samples with indices [k S, (k + 1) S) of
  the dataset, S the shard size: polygon, family and parameters, Re, u, v, p on the surrogate's window
  (float32; for a body shrunk to fit, on the window s times wider: `scale` = s), forces with their
  pressure/viscous split, surface Cp, the adjoint sensitivities of Cd and Cl to a normal displacement at the
  Cp stations (sim.adjoint.station_sensitivities), solver diagnostics, and for a failed case its reason. All
  in the body's D, as the solver gives them. npz because it needs no dependency beyond numpy, loads without
  unpickling (allow_pickle=False), and a shard is read whole anyway; zarr or HDF5 would earn their keep only
  for partial reads of huge shards.
- `manifest.json`: format version, the settings and their hash, counts and one entry per shard with its
  sha256.
- Every file is written to a temporary name and renamed; the manifest is rewritten after each shard.
- `work/` holds the finished samples of shards not yet complete, one small npz each, so a kill loses only the
  cases in flight.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from geometry.io import atomic_write, atomic_write_text

FORMAT_VERSION = 2  # 2: each sample's window scale and shape sensitivities; version 1 is still read
READABLE = (1, 2)
MANIFEST = "manifest.json"
WORK = "work"
SCALARS = (
    "re cd cd_pressure cd_viscous cl cl_pressure cl_viscous cd_momentum cl_momentum residual wall_s scale "
    "sensitivity_s".split()
)
INTEGERS = ("index", "steps", "factorisations")
STRINGS = ("family", "params", "case", "error")
ARRAYS = {
    "points": np.float64,
    "fields": np.float32,
    "cp": np.float32,
    "stations": np.float32,
    "sensitivity": np.float32,
}
# What a sample stored before a key existed reads as: a body never rescaled, no sensitivities computed.
MISSING = {"scale": 1.0, "sensitivity": np.nan, "sensitivity_s": np.nan}


class DatasetError(ValueError):
    """A dataset folder that cannot be used as asked: the message names the file and the problem."""


def settings_hash(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def shard_name(k: int) -> str:
    return f"shard-{k:05d}.npz"


def _atomic_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Compressed npz, written atomically (geometry.io's permission policy: a dataset is for sharing)."""
    atomic_write(path, lambda tmp: np.savez_compressed(tmp, **arrays))  # type: ignore[arg-type]


def _stack(records: list[dict], key: str) -> np.ndarray:
    if key in SCALARS:
        return np.array([float(r.get(key, MISSING.get(key, np.nan))) for r in records], dtype=np.float64)
    if key in INTEGERS:
        return np.array([int(r.get(key, -1)) for r in records], dtype=np.int64)
    if key in STRINGS:
        return np.array([str(r.get(key, "")) for r in records], dtype=str)
    return np.stack([np.asarray(r[key], dtype=ARRAYS[key]) for r in records])


def pack(records: list[dict], shape_of: dict[str, tuple]) -> dict[str, np.ndarray]:
    """Records (dicts from surrogate.datasets.generate) -> the shard's arrays. A failed record has NaN numbers
    and zero arrays."""
    full = []
    for r in records:
        r = {**r, "ok": bool(r.get("ok"))}
        for key, shp in shape_of.items():
            if key not in r:  # a failed case has no fields, Cp or stations
                r[key] = np.full(shp, MISSING.get(key, 0.0), dtype=ARRAYS[key])
        full.append(r)
    out = {k: _stack(full, k) for k in (*SCALARS, *INTEGERS, *STRINGS, *ARRAYS)}
    out["ok"] = np.array([r["ok"] for r in full], dtype=bool)
    return out


def unpack(arrays: dict[str, np.ndarray]) -> list[dict]:
    """The inverse of pack, one dict a sample (for rewriting a shard, e.g. to retry its failures)."""
    n = len(arrays["index"])
    out = []
    for i in range(n):
        r = {k: arrays[k][i] for k in arrays if k != "settings_hash"}
        r = {k: (v.item() if np.ndim(v) == 0 else v) for k, v in r.items()}
        out.append(r)
    return out


def write_shard(path: Path, arrays: dict[str, np.ndarray], settings_hash_: str) -> str:
    """Write atomically; return the file's sha256."""
    _atomic_npz(path, {**arrays, "settings_hash": np.array(settings_hash_)})
    return sha256(path)


def read_shard(path: str | Path, expected_sha: str | None = None) -> dict[str, np.ndarray]:
    """Load a shard, checking its checksum when given; a corrupt or truncated file raises DatasetError naming
    it."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"shard {path} is missing; regenerate it with the same `dragopt generate` command")
    if expected_sha is not None:
        actual = sha256(path)
        if actual != expected_sha:
            raise DatasetError(
                f"shard {path} is corrupt (sha256 {actual[:12]}..., manifest says {expected_sha[:12]}...); "
                "delete it and rerun the same `dragopt generate` command to make it again"
            )
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DatasetError(
            f"shard {path} cannot be read ({exc}); delete it and rerun `dragopt generate`"
        ) from None


def read_manifest(folder: Path) -> dict | None:
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        m = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(
            f"{path} does not parse ({exc}); restore it, or delete the folder's manifest and rerun the same "
            "`dragopt generate` command (complete shards are checked and adopted)"
        ) from None
    if not isinstance(m, dict) or m.get("format_version") not in READABLE or "settings" not in m:
        raise DatasetError(
            f"{path} is not a dragopt dataset manifest of format version {' or '.join(map(str, READABLE))} "
            f"(found format_version {m.get('format_version') if isinstance(m, dict) else None!r})"
        )
    return m


def write_manifest(folder: Path, manifest: dict) -> None:
    atomic_write_text(folder / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def array_shapes(settings: dict) -> dict[str, tuple]:
    """The per-sample shapes of a dataset's arrays (what `pack` gives a failed record)."""
    n, m = settings["window"]["cells"], settings["stations"]
    return {
        "points": (settings["sampler"]["points"], 2),
        "fields": (3, n, n),
        "cp": (m,),
        "stations": (m, 2),
        "sensitivity": (2, m),
    }


def complete(arrays: dict[str, np.ndarray], settings: dict) -> dict[str, np.ndarray]:
    """A shard's arrays with the keys an older format lacks, filled as MISSING says."""
    n = len(arrays["index"])
    shapes = array_shapes(settings)
    for key, fill in MISSING.items():
        if key not in arrays:
            shape = (n, *shapes[key]) if key in shapes else (n,)
            arrays[key] = np.full(shape, fill, dtype=ARRAYS.get(key, np.float64))
    return arrays


def update_counts(manifest: dict) -> None:
    """The manifest's sample counts from its shard entries, and the time they last changed (a rerun of a
    complete dataset leaves its manifest as it was)."""
    shards = manifest["shards"]
    ok = sum(s["ok"] for s in shards.values())
    failed = sum(s["failed"] for s in shards.values())
    counts = {"samples": ok, "failures": failed, "stored": ok + failed}
    if manifest.get("counts") != counts or "updated" not in manifest:
        manifest["counts"] = counts
        manifest["updated"] = datetime.now(UTC).isoformat(timespec="seconds")


def add_shard(
    folder: Path, name: str, records: list[dict], manifest: dict | None = None, **extra: Any
) -> dict:
    """Pack `records` into the shard `name` of the dataset in `folder`, then list it in the manifest.

    The shard is written first and the manifest last (both atomically), so a kill in between leaves the
    dataset as it was (a rerun adopts or rewrites the shard).

    Args:
        manifest: the manifest to update (the one writer's copy, e.g. generate's); None reads it from the
            folder.
        extra: stored in the shard's manifest entry (e.g. where the samples came from).

    Returns:
        The manifest as written.
    """
    manifest = manifest if manifest is not None else read_manifest(folder)
    if manifest is None:
        raise DatasetError(f"{folder} has no {MANIFEST}: not a dataset (make one with `dragopt generate`)")
    arrays = pack(sorted(records, key=lambda r: int(r["index"])), array_shapes(manifest["settings"]))
    digest = write_shard(folder / name, arrays, manifest["settings_hash"])
    families: dict[str, int] = {}
    for f in arrays["family"]:
        families[str(f)] = families.get(str(f), 0) + 1
    manifest["shards"][name] = {
        "sha256": digest,
        "start": int(arrays["index"].min()),
        "count": len(records),
        "ok": int(arrays["ok"].sum()),
        "failed": int((~arrays["ok"]).sum()),
        "families": families,
        "re_min": float(np.nanmin(arrays["re"])),
        "re_max": float(np.nanmax(arrays["re"])),
        **extra,
    }
    update_counts(manifest)
    write_manifest(folder, manifest)
    return manifest


def settings_difference(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Human-readable differences between two settings dicts: 'window.cells: 64 -> 128'."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += settings_difference(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: {a!r} -> {b!r}")
    return out


def write_work(folder: Path, record: dict) -> None:
    """One finished sample of an incomplete shard, atomically."""
    w = folder / WORK
    w.mkdir(exist_ok=True)
    arrays = {}
    for k, v in record.items():
        arrays[k] = np.asarray(v)
    _atomic_npz(w / f"s-{int(record['index']):08d}.npz", arrays)


def read_work(folder: Path) -> dict[int, dict]:
    """Finished samples in work/, by index; an unreadable file (a kill mid-write cannot make one, a full disk
    might) is removed so its case runs again."""
    out: dict[int, dict] = {}
    w = folder / WORK
    if not w.is_dir():
        return out
    for f in sorted(w.glob("s-*.npz")):
        try:
            with np.load(f, allow_pickle=False) as z:
                r = {k: (z[k].item() if z[k].ndim == 0 else z[k]) for k in z.files}
            out[int(r["index"])] = r
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
            f.unlink(missing_ok=True)
    for f in w.glob(".*.tmp*"):  # a write a kill interrupted
        f.unlink(missing_ok=True)
    return out


def drop_work(folder: Path, indices: Iterable[int]) -> None:
    for i in indices:
        (folder / WORK / f"s-{int(i):08d}.npz").unlink(missing_ok=True)


def next_index(folder: Path, first: int = 0) -> int:
    """The first sample number from `first` on that no shard of the dataset (nor its sampler's n) uses."""
    manifest = read_manifest(folder)
    if manifest is None:
        raise DatasetError(f"{folder} has no {MANIFEST}: not a dataset (make one with `dragopt generate`)")
    last = int(manifest["n"]) - 1
    for e in manifest["shards"].values():
        last = max(last, int(e["start"]) + int(e["count"]) - 1)
    return max(last + 1, first)
