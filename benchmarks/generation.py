"""Throughput of dataset generation: samples per minute with K local workers and with Ray, and the cost of
storage against the solve.

Usage: python benchmarks/generation.py [--workers 1 2] [--ray 2] [--n 24] [--out PATH]
       -> docs/benchmarks/generation_<cpus>cores.json (the 2-core one: docs/datasets.md)
Each configuration makes a fresh dataset of n samples (seed 1000, the dataset resolution) in a temporary
folder; the rate counts the whole command (worker start-up included), as a user sees it.
Run on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from common import add_out, write_json

from surrogate.datasets import store
from surrogate.datasets.generate import generate


def run(n: int, workers: int, executor: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        m = generate(tmp, n, seed=1000, workers=workers, executor=executor, shard_size=n)
        wall = time.perf_counter() - t0
        shard = next(iter(m["shards"]))
        arrays = store.read_shard(os.path.join(tmp, shard))
        # storage: one work file a sample and the packed shard, timed again on the stored records
        recs = store.unpack(arrays)
        t1 = time.perf_counter()
        for r in recs:
            store.write_work(Path(tmp), r)
        t_work = (time.perf_counter() - t1) / len(recs)
        t2 = time.perf_counter()
        store.write_shard(Path(tmp) / "again.npz", arrays, m["settings_hash"])
        t_shard = (time.perf_counter() - t2) / len(recs)
        size = os.path.getsize(os.path.join(tmp, shard)) / len(recs)
    solve = float(np.median(arrays["wall_s"]))
    return {
        "executor": executor,
        "workers": workers,
        "n": n,
        "failures": m["counts"]["failures"],
        "wall_s": wall,
        "samples_per_min": 60 * n / wall,
        "solve_s_median": solve,
        "storage_s_per_sample": t_work + t_shard,
        "storage_vs_solve": (t_work + t_shard) / solve,
        "bytes_per_sample": size,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--ray", type=int, nargs="*", default=[2], help="Ray worker counts (none: skip Ray)")
    ap.add_argument("--n", type=int, default=24)
    add_out(ap, "generation")
    args = ap.parse_args()
    rows = []
    configs = [("local", k) for k in args.workers] + [("ray", k) for k in args.ray]
    for executor, k in configs:
        n = max(args.n, 2 * k)
        row = run(n, k, executor)
        rows.append(row)
        print(
            f"{executor:5s} {k:2d} workers: {row['samples_per_min']:6.1f} samples/min "
            f"({n} samples in {row['wall_s']:.1f} s, median solve {row['solve_s_median']:.2f} s, "
            f"storage {1000 * row['storage_s_per_sample']:.1f} ms a sample = "
            f"{100 * row['storage_vs_solve']:.2f}% of a solve, "
            f"{row['bytes_per_sample'] / 1e3:.0f} kB a sample)",
            flush=True,
        )
    write_json(args.out, {"machine": platform.node(), "cpus": os.cpu_count(), "rows": rows})


if __name__ == "__main__":
    main()
