"""Speed and memory of the full simulation (the numbers of docs/validation.md).

- one case at the default (dataset) resolution, one thread, Re 1 / 20 / 40, PARDISO and SuperLU;
- one case at the validation resolution;
- the adjoint gradient's time relative to one solve;
- throughput of simulate_many with 2 workers against 1;
- peak memory of the process.
Usage: python benchmarks/performance.py [--quick] [--out PATH]   -> benchmarks/out/performance.json
Run on a quiet machine: the timings are wall-clock.
"""

from __future__ import annotations

import os

os.environ.setdefault("MKL_NUM_THREADS", "1")  # "one core": set before MKL loads
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
from common import add_out, peak_rss_mb, write_json  # noqa: E402

from geometry import parse_shape  # noqa: E402
from geometry.parametrisations import bspline_points, circle_control_points  # noqa: E402
from sim import setups  # noqa: E402
from sim.adjoint import gradient  # noqa: E402
from sim.linsolve import available_backends  # noqa: E402
from sim.parallel import simulate_many  # noqa: E402
from sim.solver import run_case, simulate  # noqa: E402


def _case(r) -> dict:
    keys = ("resolution", "cells", "unknowns", "steps", "factorisations", "wall_s", "cd")
    return {k: getattr(r, k) for k in keys}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    add_out(ap, "performance")
    args = ap.parse_args()
    torch.set_num_threads(1)
    out: dict = {"threads": 1, "backends": available_backends(), "cases": []}
    circle = parse_shape("circle")
    for backend in available_backends():
        for re in (1.0, 20.0, 40.0):
            r = simulate(circle, re, backend=backend)
            row = {"what": "default resolution", "backend": backend, "re": re, **_case(r)}
            out["cases"].append(row)
            print(row, flush=True)
    out["peak_rss_mb_after_default_cases"] = peak_rss_mb()
    r = simulate(circle, 20.0, resolution=setups.VALIDATION_RESOLUTION)
    out["validation_resolution"] = _case(r)
    print(out["validation_resolution"], flush=True)

    # adjoint: gradient w.r.t. 16 B-spline control points, relative to one solve (second of two rounds: the
    # first pays one-off start-up costs of torch and PARDISO)
    ctrl = circle_control_points(16, 0.5)
    domain = setups.unconfined(20.0, (-0.6, -0.6, 0.6, 0.6), setups.DEFAULT_RESOLUTION)
    for round_ in ("cold", "warm"):
        t0 = time.perf_counter()
        base = run_case(bspline_points(ctrl).numpy(), domain, setups.DEFAULT_RESOLUTION)
        solve_s = time.perf_counter() - t0
        theta = ctrl.clone().requires_grad_(True)
        t0 = time.perf_counter()
        gradient(base, bspline_points(theta), theta)
        adjoint_s = time.perf_counter() - t0
        out[f"adjoint_{round_}"] = {
            "solve_s": solve_s,
            "adjoint_s": adjoint_s,
            "ratio": adjoint_s / solve_s,
            "params": 32,
        }
        print(round_, out[f"adjoint_{round_}"], flush=True)

    # throughput: 1 worker vs 2 workers (one thread each)
    n = 4 if args.quick else 8
    shapes = [parse_shape(s) for s in ["circle", "ellipse:2", "naca:0012", "rect:2:0.2"]] * (n // 4)
    res = [1.0 + 39.0 * k / (n - 1) for k in range(n)]
    for workers in (1, 2):
        t0 = time.perf_counter()
        recs = list(simulate_many(shapes, res, workers=workers))
        wall = time.perf_counter() - t0
        assert all(r["ok"] for r in recs), recs
        out[f"throughput_{workers}_workers"] = {"cases": n, "wall_s": wall, "cases_per_min": 60 * n / wall}
        print(workers, "workers", out[f"throughput_{workers}_workers"], flush=True)
    out["speedup_2_workers"] = out["throughput_1_workers"]["wall_s"] / out["throughput_2_workers"]["wall_s"]
    out["peak_rss_mb"] = peak_rss_mb()
    print("peak RSS MB", out["peak_rss_mb"])
    write_json(args.out, out)


if __name__ == "__main__":
    main()
