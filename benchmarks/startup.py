"""Start-up cost of the command line: goals `dragopt --help` at most 0.3 s and the whole
`dragopt simulate` process at most 1 s more than its solve (wall_s, the solve as SimResult times it).

Runs each command as a fresh process (median of --repeat runs; a busy machine inflates everything).
Usage: python benchmarks/startup.py [--repeat 5] [--out PATH]   -> docs/benchmarks/startup_2cores_quiet.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, add_out, write_json

DRAGOPT = Path(sys.executable).with_name("dragopt")


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    add_out(ap, "startup")
    args = ap.parse_args()
    out: dict = {}
    out["help_s"] = statistics.median(wall([str(DRAGOPT), "--help"]) for _ in range(args.repeat))
    out["help_simulate_s"] = statistics.median(
        wall([str(DRAGOPT), "simulate", "--help"]) for _ in range(args.repeat)
    )
    out["import_sim_solver_s"] = statistics.median(
        wall([sys.executable, "-c", "import sim.solver"]) for _ in range(args.repeat)
    )
    overheads = []
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "r.json"
        for _ in range(max(3, args.repeat // 2)):
            total = wall(
                [str(DRAGOPT), "simulate", "--shape", "circle", "--re", "20", "-q", "--json", str(f)]
            )
            solve = json.loads(f.read_text())["wall_s"]
            overheads.append({"process_s": total, "solve_s": solve, "overhead_s": total - solve})
    out["simulate"] = overheads
    out["simulate_overhead_s"] = statistics.median(o["overhead_s"] for o in overheads)
    out["goals"] = {"help_s": 0.3, "simulate_overhead_s": 1.0}
    print(json.dumps(out, indent=2))
    write_json(args.out, out)


if __name__ == "__main__":
    main()
