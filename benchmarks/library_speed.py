"""The design library's speed with 1,000 designs (each a 256-point outline, its start and a 60-step history):
listing them all and reopening one. Goals: list <= 0.3 s, reopen <= 0.5 s.

Usage: python benchmarks/library_speed.py [--out PATH]  -> docs/benchmarks/library_speed.json
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from common import add_out, write_json

from geometry import parse_shape
from optim.library import Library

N = 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_out(ap, "library_speed")
    args = ap.parse_args()
    pts = parse_shape("ellipse:2").points
    history = [{"step": k, "objective": 2.0, "cd": 2.0, "cl": 0.0, "violation": 0.0} for k in range(60)]
    with tempfile.TemporaryDirectory() as tmp, Library(Path(tmp) / "lib.sqlite") as lib:
        t = time.perf_counter()
        ids = [
            lib.add(
                {
                    "name": f"design {k}",
                    "kind": "optimisation",
                    "setup": {"shape": "ellipse:2", "re": [10.0]},
                    "outline": pts,
                    "start": pts,
                    "history": history,
                    "numbers": {"cd_pred_final": 2.0 + k * 1e-3},
                }
            )
            for k in range(N)
        ]
        add_s = (time.perf_counter() - t) / N
        lists, gets = [], []
        for k in range(10):
            t = time.perf_counter()
            assert len(lib.list()) == N
            lists.append(time.perf_counter() - t)
            t = time.perf_counter()
            lib.get(ids[(k * 97) % N])
            gets.append(time.perf_counter() - t)
        size = (Path(tmp) / "lib.sqlite").stat().st_size
    out = {
        "designs": N,
        "add_s_each": add_s,
        "list_s": statistics.median(lists),
        "goal_list_s": 0.3,
        "reopen_s": statistics.median(gets),
        "goal_reopen_s": 0.5,
        "file_mb": size / 1e6,
    }
    for k, v in out.items():
        print(f"{k}: {v:.3g}")
    write_json(args.out, out)


if __name__ == "__main__":
    main()
