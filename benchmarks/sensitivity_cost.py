"""What the station sensitivities add to the cost of a dataset sample.

For six bodies (circle, NACA 0012, NACA 2410 at 4 degrees incidence, a 6:1 ellipse, a rounded 3:1 rectangle,
a thin NACA 0006) at Re 1, 10 and 40 and the dataset resolution, one thread: the wall time of simulate()
alone, and of sim.adjoint.station_sensitivities() on its result (two transposed solves with the kept
factorisation and one backward pass through the body coefficients), of which `solves_s` is the two
transposed solves timed apart. Each time is the smallest of --repeat rounds, after one warm-up case that pays
the one-off start-up costs of torch and PARDISO.
Usage: python benchmarks/sensitivity_cost.py [--repeat N] [--out PATH] -> benchmarks/out/sensitivity_cost.json
Run on a quiet machine: the timings are wall-clock.
"""

from __future__ import annotations

import os

os.environ.setdefault("MKL_NUM_THREADS", "1")  # "one core": set before MKL loads
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import OUT, ROOT, write_json  # noqa: E402

from geometry import parse_shape  # noqa: E402
from geometry.shape import Shape  # noqa: E402
from sim import setups  # noqa: E402
from sim.adjoint import coefficient_gradients, station_sensitivities  # noqa: E402
from sim.result import SimResult  # noqa: E402
from sim.solver import simulate  # noqa: E402

BODIES = {  # name -> (preset, rotation in degrees: angle of attack = -rotation)
    "circle": ("circle", 0.0),
    "naca:0012": ("naca:0012", 0.0),
    "naca:2410-rot-4": ("naca:2410", -4.0),
    "ellipse:6": ("ellipse:6", 0.0),
    "rect:3:0.3": ("rect:3:0.3", 0.0),
    "naca:0006": ("naca:0006", 0.0),
}
REYNOLDS = (1.0, 10.0, 40.0)
DEFAULT_OUT = OUT / "sensitivity_cost.json"


def body(name: str) -> Shape:
    """The named body of BODIES, rotated as listed."""
    preset, degrees = BODIES[name]
    shape = parse_shape(preset)
    return shape.rotated(degrees) if degrees else shape


def timed_case(shape: Shape, re: float, resolution: float) -> dict:
    """One sample's times: the solve, the sensitivities after it, and the transposed solves in them."""
    t0 = time.perf_counter()
    result = simulate(shape, re, resolution)
    t1 = time.perf_counter()
    sens = station_sensitivities(result)
    t2 = time.perf_counter()
    return {
        "simulate_s": t1 - t0,
        "sensitivities_s": t2 - t1,
        "solves_s": transposed_solves_s(result),
        "unknowns": result.unknowns,
        "steps": result.steps,
        "factorisations": result.factorisations,
        "cd": result.cd,
        "cl": result.cl,
        "max_abs_sensitivity": np.abs(sens).max(1).tolist(),
    }


def transposed_solves_s(result: SimResult) -> float:
    """Time of the two adjoint solves (Cd, Cl) alone, on the result's kept factorisation."""
    t0 = time.perf_counter()
    for objective in ("cd", "cl"):
        coefficient_gradients(result, objective)
    return time.perf_counter() - t0


def fastest(rounds: list[dict]) -> dict:
    """The first round's record with each time the smallest over the rounds."""
    row = dict(rounds[0])
    for key in ("simulate_s", "sensitivities_s", "solves_s"):
        row[key] = min(r[key] for r in rounds)
    row["ratio"] = row["sensitivities_s"] / row["simulate_s"]
    return row


def summary(rows: list[dict]) -> dict:
    """Median and max over the cases of the cost per sample with and without the sensitivities."""
    sim = np.array([r["simulate_s"] for r in rows])
    sens = np.array([r["sensitivities_s"] for r in rows])
    ratio = sens / sim
    stats = {"simulate_s": sim, "sensitivities_s": sens, "with_sensitivities_s": sim + sens, "ratio": ratio}
    return {k: {"median": float(np.median(v)), "max": float(v.max())} for k, v in stats.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=2, help="rounds per case; the fastest counts (default 2)")
    ap.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"JSON output (default: {DEFAULT_OUT.relative_to(ROOT)})",
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    resolution = setups.DEFAULT_RESOLUTION
    timed_case(body("circle"), 10.0, resolution)  # warm-up: torch and PARDISO start-up
    rows = []
    for name in BODIES:
        shape = body(name)
        for re in REYNOLDS:
            row = {
                "body": name,
                "re": re,
                **fastest([timed_case(shape, re, resolution) for _ in range(args.repeat)]),
            }
            print(row, flush=True)
            rows.append(row)
    out = {
        "resolution": resolution,
        "threads": 1,
        "repeat": args.repeat,
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()},
        "load_average_at_end": list(os.getloadavg()),
        "summary": summary(rows),
        "cases": rows,
    }
    print(out["summary"], flush=True)
    write_json(args.out, out)


if __name__ == "__main__":
    main()
