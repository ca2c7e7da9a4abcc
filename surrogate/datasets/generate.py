"""`dragopt generate`: simulate random bodies over a range of Reynolds numbers and store them as a dataset.

Sample i of a dataset is a pure function of (seed, i): its shape (geometry.sampler) and its Re (log-uniform),
so shards can be made in any order, on any machine, and again after a kill. The driver runs the missing cases
on an executor (sim.parallel), keeps each finished case in work/, and packs a shard as soon as all its cases
are done (surrogate.datasets.store). A rerun with the same arguments continues where the last one stopped; a
folder made with other settings is refused, naming the difference; shard files copied in from another run with
the same settings are verified and adopted.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from geometry import heldout, sampler
from surrogate.datasets import store
from surrogate.datasets.cases import make_case, run_cases, same_case
from surrogate.datasets.settings import RE_MAX, RE_MIN, SHARD_SIZE
from surrogate.readout import STATIONS
from surrogate.window import Window

SAMPLERS = {"training": sampler, "heldout": heldout}  # --sampler: the bodies a dataset draws


@dataclass
class Progress:
    done: int  # cases finished in this run
    todo: int  # cases this run set out to do
    failed: int
    elapsed: float
    last: dict | None = None


def default_settings(
    seed: int = 0,
    re_min: float = RE_MIN,
    re_max: float = RE_MAX,
    window: Window | None = None,
    mix: dict | None = None,
    shard_size: int = SHARD_SIZE,
    resolution: float | None = None,
    sampler_name: str = "training",
) -> dict:
    """Everything that decides a dataset's samples; its hash names the dataset. `sampler_name`: "training"
    (geometry.sampler) or "heldout" (geometry.heldout, bodies unlike any training family)."""
    from sim import setups, solver

    kind = SAMPLERS[sampler_name]
    return {
        "format_version": store.FORMAT_VERSION,
        "solver": {
            "resolution": _canonical(resolution or setups.DEFAULT_RESOLUTION),
            "box": setups.DEFAULT_BOX,
            "penalty": solver.PENALTY,
            "immersed": solver.IMMERSED,
            "split": solver.SPLIT,
        },
        "window": (window or Window()).to_dict(),
        "stations": STATIONS,
        "sampler": {
            "name": sampler_name,
            "version": kind.VERSION,
            "seed": int(seed),
            "mix": kind.check_mix(mix or kind.DEFAULT_MIX),
            "points": sampler.POINTS,
            "min_thickness": sampler.MIN_THICKNESS,
        },
        "re": {"min": float(re_min), "max": float(re_max), "law": "log-uniform"},
        "shard_size": int(shard_size),
    }


def _canonical(x: float) -> float | int:
    """16.0 -> 16: the same settings must hash the same however a number was typed."""
    return int(x) if float(x).is_integer() else float(x)


def check_arguments(n: int, re_min: float, re_max: float, workers: int | None) -> None:
    if not (isinstance(n, int) and n >= 1):
        raise ValueError(f"--n must be a positive whole number of samples; got {n!r}")
    if not (math.isfinite(re_min) and math.isfinite(re_max) and 0 < re_min < re_max):
        raise ValueError(
            f"need 0 < --re-min < --re-max (finite); got --re-min {re_min:g}, --re-max {re_max:g}"
        )
    if re_max > 200:
        raise ValueError(
            f"--re-max at most 200 (the solver's range; the design range is 1 to 40); got {re_max:g}"
        )
    if workers is not None and not (isinstance(workers, int) and workers >= 1):
        raise ValueError(f"--workers must be a positive whole number; got {workers!r}")


def _expected(k: int, n: int, size: int) -> list[int]:
    return list(range(k * size, min((k + 1) * size, n)))


def _check_folder(out: Path, settings: dict) -> dict | None:
    """The existing manifest (None for a new dataset), or DatasetError if the folder holds something else."""
    manifest = store.read_manifest(out) if out.exists() else None
    if manifest is None:
        if out.exists() and not out.is_dir():
            raise store.DatasetError(f"--out {out} is a file; give a folder for the dataset")
        if out.is_dir():
            others = [
                p.name for p in out.iterdir() if not (p.name.startswith("shard-") or p.name == store.WORK)
            ]
            if others:
                raise store.DatasetError(
                    f"--out {out} holds other files ({', '.join(sorted(others)[:3])}) "
                    "and no dataset manifest; give an empty or new folder"
                )
        return None
    diff = store.settings_difference(manifest["settings"], settings)
    if diff:
        raise store.DatasetError(
            f"{out} holds a dataset made with other settings ({'; '.join(diff)}); use another --out folder, "
            "or the same arguments as before to continue it"
        )
    return manifest


def _open_shards(
    out: Path,
    manifest: dict,
    settings: dict,
    wanted: list[int],
    retry_failed: bool,
    commit: Callable[[int, list[dict]], None],
) -> dict[int, list[int]]:
    """The samples still to simulate, by shard. Complete shards on disk that the manifest does not list are
    adopted (a kill between rename and manifest, or shards made elsewhere with the same settings); shards that
    are short (n grew), or hold failures to retry, are reopened."""
    n, shard_size, shash = int(manifest["n"]), int(settings["shard_size"]), manifest["settings_hash"]
    work = store.read_work(out)
    todo: dict[int, list[int]] = {}
    for k in wanted:
        name = store.shard_name(k)
        exp = _expected(k, n, shard_size)
        entry = manifest["shards"].get(name)
        have: dict[int, dict] = {}
        if (out / name).exists():
            arrays = store.read_shard(out / name, entry["sha256"] if entry else None)
            if str(arrays.get("settings_hash", "")) != shash:
                raise store.DatasetError(
                    f"{out / name} belongs to another dataset (settings hash differs); move it away"
                )
            have = {int(r["index"]): r for r in store.unpack(arrays)}
            if entry is None:  # adopted below if complete, once every case is the one these settings draw
                bad = [i for i, r in have.items() if not same_case(r, make_case(settings, i))]
                if bad:
                    raise store.DatasetError(
                        f"{out / name} holds samples that these settings do not draw (e.g. sample {bad[0]}); "
                        "it was made by another version of the sampler: move it away"
                    )
                manifest["shards"][name] = None
        for i, r in work.items():
            if i in exp:
                have.setdefault(i, r)
        if retry_failed:
            have = {i: r for i, r in have.items() if r.get("ok")}
        missing = [i for i in exp if i not in have]
        entry = manifest["shards"].get(name)
        if (
            not missing
            and entry is not None
            and entry["count"] == len(exp)
            and not (retry_failed and entry["failed"])
        ):
            store.drop_work(out, [i for i in exp if i in work])  # left by an interrupted retry
            continue
        if not missing:
            commit(k, [have[i] for i in exp])
            continue
        for i, r in have.items():  # what is done stays done: in work/ until the shard is complete
            if i not in work:
                store.write_work(out, r)
        todo[k] = missing
    return todo


def generate(
    out: str | Path,
    n: int,
    seed: int = 0,
    re_min: float = RE_MIN,
    re_max: float = RE_MAX,
    workers: int | None = None,
    executor: str = "local",
    address: str | None = None,
    retry_failed: bool = False,
    shard_size: int = SHARD_SIZE,
    resolution: float | None = None,
    shards: range | None = None,
    progress: Callable[[Progress], None] | None = None,
    sampler_name: str = "training",
) -> dict:
    """Make (or continue) the dataset of samples 0..n-1 in `out`; return its manifest.

    sampler_name: "training" (geometry.sampler), or "heldout" (geometry.heldout: bodies unlike any training
    family, for an out-of-distribution test set).

    shards: only these shard numbers (to split one dataset over machines; copy the shard files together and
    rerun to adopt them).
    """
    import os

    check_arguments(n, re_min, re_max, workers)
    if executor not in ("local", "ray"):
        raise ValueError(f"unknown executor {executor!r}; allowed: local, ray")
    out = Path(out)
    if not (isinstance(shard_size, int) and shard_size >= 1):
        raise ValueError(f"shard size must be a positive whole number; got {shard_size!r}")
    if resolution is not None:
        from sim.setups import check_resolution

        check_resolution(resolution)
    if sampler_name not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler_name!r}; allowed: {', '.join(SAMPLERS)}")
    settings = default_settings(
        seed, re_min, re_max, shard_size=shard_size, resolution=resolution, sampler_name=sampler_name
    )
    shash = store.settings_hash(settings)
    manifest = _check_folder(out, settings)
    out.mkdir(parents=True, exist_ok=True)
    if manifest is None:
        manifest = {
            "format_version": store.FORMAT_VERSION,
            "settings": settings,
            "settings_hash": shash,
            "n": 0,
            "shards": {},
        }
    manifest["n"] = n = max(int(manifest["n"]), n)  # a smaller --n never shrinks a dataset
    n_shards = math.ceil(n / shard_size)
    wanted = [k for k in range(n_shards) if shards is None or k in shards]

    def commit(k: int, records: list[dict]) -> None:
        store.add_shard(out, store.shard_name(k), records, manifest)
        store.drop_work(out, [r["index"] for r in records])

    todo = _open_shards(out, manifest, settings, wanted, retry_failed, commit)
    manifest["shards"] = {k: v for k, v in manifest["shards"].items() if v is not None}
    store.update_counts(manifest)
    store.write_manifest(out, manifest)

    cases = [make_case(settings, i) for k in sorted(todo) for i in todo[k]]
    if not cases:
        return manifest
    remaining = {k: set(v) for k, v in todo.items()}
    t0 = time.perf_counter()
    failed = 0
    workers = workers or (os.cpu_count() or 1)
    for done, rec in enumerate(run_cases(cases, out, workers, executor, address), start=1):
        failed += not rec.get("ok")
        k = rec["index"] // shard_size
        remaining[k].discard(rec["index"])
        if not remaining[k]:
            exp = _expected(k, n, shard_size)
            recs = store.read_work(out)
            commit(k, [recs[i] for i in exp])
        if progress:
            progress(Progress(done, len(cases), failed, time.perf_counter() - t0, rec))
    work_dir = out / store.WORK
    if work_dir.is_dir() and not any(work_dir.iterdir()):
        shutil.rmtree(work_dir, ignore_errors=True)
    return manifest
