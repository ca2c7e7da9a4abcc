"""Inverse design held against the full simulation: each problem optimised three ways, through the
surrogate (SLSQP), through the full simulation with its adjoint (SLSQP), and by the trust region; every final
design then simulated on the default grid, so the three answers are compared by the same judge.

Usage: python benchmarks/inverse_design.py [--model DIR] [--out PATH]  -> docs/benchmarks/inverse_design.json
About 4 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import time

from common import add_out, write_json

from geometry import parse_shape
from optim import constraints as C
from optim.design import Options, load_surrogate, run, simulated_cd

PROBLEMS = [
    ("circle", [20.0], C.Limits(keep_area=True, symmetric=True)),
    ("ellipse:2", [5.0], C.Limits(keep_area=True, min_thickness=0.45, max_length=2.2)),
    ("circle", [2.0, 20.0], C.Limits(keep_area=True, symmetric=True, max_length=2.0)),
]
MODES = [
    ("surrogate", dict(backend="surrogate")),
    ("simulation", dict(backend="simulation")),
    ("trust-region", dict(backend="surrogate", trust_region=True, steps=8)),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="surrogate model folder (default: the shipped model)")
    add_out(ap, "inverse_design")
    args = ap.parse_args()
    surrogate = load_surrogate(args.model)
    rows = []
    for spec, re, limits in PROBLEMS:
        shape = parse_shape(spec)
        for name, kw in MODES:
            opts = Options(re=re, limits=limits, **kw)
            t = time.perf_counter()
            done = run(shape, opts, surrogate)
            out, res = done.to_dict(), done.result
            wall = time.perf_counter() - t
            judged = simulated_cd(res.final.points, re, None)  # every mode's judge: the default grid
            row = {
                "shape": spec,
                "re": re,
                "limits": limits.to_dict(),
                "mode": name,
                "status": res.status,
                "steps": out["history"][-1]["step"],
                "evaluations": res.evaluations,
                "wall_s": wall,
                "cd_initial": res.initial.cd,
                "cd_final_own": res.final.cd,
                "cd_final_pred": out.get("cd_pred_final"),
                "cd_final_simulated": judged,
                "active": res.active,
            }
            rows.append(row)
            print(
                f"{spec} Re {re} {name:12s}: {row['steps']:3d} steps {wall:6.1f} s; "
                f"Cd {res.initial.cd:.4f} -> {res.final.cd:.4f} (own), simulated {judged:.4f}; "
                f"active {', '.join(res.active)}",
                flush=True,
            )
    write_json(args.out, {"rows": rows})


if __name__ == "__main__":
    main()
