"""Run the benchmarks (make bench): those that fit a time budget by default, all of them, or named ones.

    python benchmarks/run_all.py --list          every benchmark: what it measures, its time, what it needs
    python benchmarks/run_all.py                 those that fit the default budget (10 min) on this machine
    python benchmarks/run_all.py --budget 30     ... a larger budget (minutes)
    python benchmarks/run_all.py --all           every one this machine can run
    python benchmarks/run_all.py startup split   the named ones (and nothing else)
    python benchmarks/run_all.py --quick [...]   their --quick variants where they have one

Each benchmark writes its JSON where the docs read it (benchmarks/common.py, RESULTS): the committed files in
docs/benchmarks/, or benchmarks/out/ for the solver's accuracy and speed runs that docs/validation.md
tabulates. Times are those of the 2-core machine (docs, or measured) and serve the budget; a busy machine
takes longer. Benchmarks that need hardware or software not present (a GPU, OpenFOAM, a browser) are listed
with that need and not run by default; named, they are refused with the reason.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass(frozen=True)
class Bench:
    name: str
    script: str
    measures: str
    seconds: float  # typical time on the 2-core machine (the budget counts it)
    quick_seconds: float | None = None  # with --quick (None: no quick variant)
    needs: str = ""  # "" (CPU only), "gpu", "openfoam", "browser" or "manual" (a tool run by hand)
    args: tuple[str, ...] = ()
    output: str = ""  # where its JSON goes (the docs' file)

    def runner(self) -> list[str]:
        path = str(HERE / self.script)
        return ["bash", path] if self.script.endswith(".sh") else [sys.executable, path]


# In the order a default run takes them: the solver's accuracy and speed first (docs/validation.md), then the
# start-up, the surrogate, generation and the inverse design.
BENCHMARKS = [
    Bench(
        "validation",
        "validation.py",
        "accuracy of the full simulation: Schaefer-Turek 2D-1, the unconfined circle at Re 1-40 "
        "against OpenFOAM and Dennis & Chang, resolutions, box sizes, both immersed methods",
        120,
        40,
        output="benchmarks/out/validation.json",
    ),
    Bench(
        "convergence",
        "convergence.py",
        "grid convergence of Cd: circle at N 8-64 (observed order), four unseen shapes at N 16/32/48",
        210,
        80,
        output="benchmarks/out/convergence.json",
    ),
    Bench(
        "performance",
        "performance.py",
        "solver speed and memory: one case per Re and linear solver, the "
        "validation resolution, adjoint gradient vs a solve, simulate_many 2 workers vs 1",
        75,
        45,
        output="benchmarks/out/performance.json",
    ),
    Bench(
        "startup",
        "startup.py",
        "start-up of the CLI: `dragopt --help`, `import sim.solver`, a `dragopt "
        "simulate` process minus its solve (median of 5 fresh processes)",
        25,
        output="docs/benchmarks/startup_2cores_quiet.json",
    ),
    Bench(
        "surrogate_speed",
        "surrogate_speed.py",
        "surrogate on CPU: forward, forward + backward to the points, "
        "rasterisation, a training update per method",
        10,
        output="docs/benchmarks/surrogate_speed.json",
    ),
    Bench(
        "split",
        "split.py",
        "pressure/viscous split of pointed, slender and blunt bodies at N 16/32/64 against "
        "Richardson extrapolation and OpenFOAM",
        360,
        30,
        output="benchmarks/out/split.json",
    ),
    Bench(
        "slender_convergence",
        "slender_convergence.py",
        "the simulation on slender sections at incidence: NACA 2410 at 4 degrees at N 16-96 against "
        "OpenFOAM, the convergence of sharp and rounded edges, the far field",
        480,
        15,
        output="docs/benchmarks/slender_convergence.json",
    ),
    Bench(
        "window_choice",
        "window_choice.py",
        "the surrogate's window for slender bodies: P's drag on the shrunk 64-cell window and on wide "
        "64/96/128-cell windows against the solver, 15 bodies at Re 1/10/50, and a training step's cost",
        420,
        30,
        output="docs/benchmarks/window_choice.json",
    ),
    Bench(
        "sensitivity_cost",
        "sensitivity_cost.py",
        "the adjoint station sensitivities beside a dataset solve: time with and without, 6 bodies x 3 Re",
        150,
        output="benchmarks/out/sensitivity_cost.json",
    ),
    Bench(
        "gradient_cosine",
        "gradient_cosine.py",
        "cosine of the shipped model's dCd/dshape against the adjoint, 12 test shapes",
        60,
        args=("data/models/default",),
        output="docs/benchmarks/gradient_cosine.json",
    ),
    Bench(
        "conditioning",
        "conditioning.py",
        "singular values of P's Jacobian per sample and of the joint network-physics Jacobian of a batch, "
        "(Cd, Cl) and all 67 outputs, a rough and the shipped network",
        300,
        output="docs/benchmarks/conditioning.json",
    ),
    Bench(
        "toys",
        "toys.py",
        "the methods on the toys with known answers over 3 seeds: oscillators (adam, sip, hig at equal CPU "
        "time), heat 1D and 2D with a long diffusion time (sip against adam's best rate)",
        120,
        output="docs/benchmarks/toys.json",
    ),
    Bench(
        "generation",
        "generation.py",
        "dataset generation throughput: samples a minute with 1 and 2 local "
        "workers and Ray, storage cost against a solve",
        150,
        output=f"docs/benchmarks/generation_{os.cpu_count()}cores.json",
    ),
    Bench(
        "inverse_design",
        "inverse_design.py",
        "three inverse-design problems optimised through the surrogate, "
        "the simulation's adjoint and the trust region, judged by the full simulation",
        240,
        output="docs/benchmarks/inverse_design.json",
    ),
    Bench(
        "app_speed",
        "app_speed.py",
        "the app in Chromium: page usable after start, page overhead per "
        "optimisation step, responsiveness during a simulation",
        90,
        needs="browser",
        output="docs/benchmarks/app_speed.json",
    ),
    Bench(
        "openfoam_split",
        "openfoam_split.py",
        "independent body-fitted OpenFOAM reference for the split "
        "(default here: the circle, mesh level 1; BODY LEVEL by hand)",
        3600,
        needs="openfoam",
        args=("circle", "1"),
        output="benchmarks/out/openfoam/results.txt",
    ),
    Bench(
        "device_ddp",
        "device_ddp.sh",
        "CUDA data-parallel training (NCCL, torchrun) against a plain CUDA run",
        300,
        needs="gpu",
        output="$OUT/ddp.txt",
    ),
    Bench(
        "device_train",
        "device_train.sh",
        "candidates for the shipped model and the four methods for the same "
        "wall time on a GPU (needs .whl and .devdata carried)",
        600,
        needs="gpu",
        output="$OUT/",
    ),
    Bench(
        "device_ensemble",
        "device_ensemble.sh",
        "five ensemble members trained side by side on a GPU (needs .whl and .devdata carried)",
        480,
        needs="gpu",
        output="$OUT/member-k.tgz",
    ),
    Bench(
        "device_generate",
        "device_generate.sh",
        "generation throughput and training shards with 16 workers on "
        "the GPU machine's cores (needs .whl carried)",
        600,
        needs="gpu",
        output="$OUT/",
    ),
    Bench(
        "device_data",
        "device_data.py",
        "not a benchmark: packs a training set for the GPU machine "
        "(`pack SRC DST` / `unpack SRC DST`, by hand)",
        60,
        needs="manual",
    ),
]
BY_NAME = {b.name: b for b in BENCHMARKS}


def missing(need: str) -> str:
    """Why this machine cannot run a benchmark with `need` ("" when it can)."""
    if need == "gpu":
        return "" if shutil.which("nvidia-smi") else "needs an NVIDIA GPU (a lent GPU machine)"
    if need == "openfoam":
        absent = [t for t in ("simpleFoam", "gmsh") if not shutil.which(t)]
        return (
            f"needs OpenFOAM and gmsh (apt-get install openfoam gmsh; missing {', '.join(absent)})"
            if absent
            else ""
        )
    if need == "browser":
        if not (shutil.which("chromium") or shutil.which("chromium-browser")):
            return "needs Debian's chromium (make browser-test installs it)"
        return (
            "" if importlib.util.find_spec("playwright") else "needs playwright (pip install -e '.[browser]')"
        )
    if need == "manual":
        return "a tool run by hand with its own arguments"
    return ""


def minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def list_benchmarks(quick: bool, budget_s: float) -> None:
    chosen = {b.name for b in default_selection(quick, budget_s)}
    print(f"{'name':16s} {'time':>7s}  {'default':7s}  measures / writes")
    for b in BENCHMARKS:
        t = b.quick_seconds if quick and b.quick_seconds is not None else b.seconds
        why = missing(b.needs)
        flag = "yes" if b.name in chosen else ("no" if not why else "-")
        print(f"{b.name:16s} {minutes(t):>7s}  {flag:7s}  {b.measures}")
        detail = f"benchmarks/{b.script}" + (f" -> {b.output}" if b.output else "")
        print(f"{'':34s}{detail}" + (f"  [{why}]" if why else ""))
    print(
        f"\ndefault: the CPU benchmarks that fit {budget_s / 60:g} minutes, in this order"
        " (--budget to change); --all: every one this machine can run"
    )


def default_selection(quick: bool, budget_s: float | None) -> list[Bench]:
    """Runnable benchmarks in order, each taken if its time still fits the budget (None: no budget)."""
    left = float("inf") if budget_s is None else budget_s
    out = []
    for b in BENCHMARKS:
        t = b.quick_seconds if quick and b.quick_seconds is not None else b.seconds
        if missing(b.needs) or t > left:
            continue
        out.append(b)
        left -= t
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run: {', '.join(BY_NAME)}")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    ap.add_argument("--all", action="store_true", help="every benchmark this machine can run (no budget)")
    ap.add_argument("--budget", type=float, default=10.0, help="minutes for the default run (default 10)")
    ap.add_argument("--quick", action="store_true", help="pass --quick to those that have a quick variant")
    ap.add_argument("--dry-run", action="store_true", help="print the commands without running them")
    args = ap.parse_args(argv)
    budget_s = 60 * args.budget
    if args.list:
        list_benchmarks(args.quick, budget_s)
        return 0
    unknown = [n for n in args.names if n not in BY_NAME]
    if unknown:
        ap.error(f"unknown benchmark {', '.join(unknown)} (choose from {', '.join(BY_NAME)})")
    if args.names:
        chosen = [BY_NAME[n] for n in args.names]
        refused = [(b, missing(b.needs)) for b in chosen if missing(b.needs)]
        if refused:
            for b, why in refused:
                print(f"run_all: {b.name}: {why}", file=sys.stderr)
            return 2
    else:
        chosen = default_selection(args.quick, None if args.all else budget_s)
        skipped = [b for b in BENCHMARKS if b not in chosen]
        for b in skipped:
            why = missing(b.needs) or "over the budget (name it, or --all)"
            print(f"-- skipping {b.name}: {why}")
    failed = []
    times = []
    for b in chosen:
        cmd = [*b.runner(), *b.args]
        if args.quick and b.quick_seconds is not None:
            cmd.append("--quick")
        print(f"== {b.name}: {' '.join(cmd[1:])}", flush=True)
        if args.dry_run:
            continue
        t0 = time.perf_counter()
        rc = subprocess.run(cmd, cwd=ROOT).returncode
        times.append((b.name, time.perf_counter() - t0, rc))
        if rc:
            failed.append(b.name)
    for name, t, rc in times:
        print(f"{name:16s} {minutes(t):>7s}  {'ok' if rc == 0 else f'FAILED (exit {rc})'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
