"""Accuracy of the full simulation against published and independent values (the table of docs/validation.md).

Cases: Schaefer-Turek 2D-1 at several resolutions; the unconfined circle at Re 1, 10, 20, 40 (OpenFOAM on the
same box, Dennis & Chang), at three resolutions and two box sizes; both immersed-boundary methods.
Usage: python benchmarks/validation.py [--quick] [--out PATH]
       -> benchmarks/out/validation.json and a Markdown table.
"""

from __future__ import annotations

import argparse

from common import add_out, write_json

from geometry import parse_shape
from sim.channel import schaefer_turek
from sim.solver import simulate

# Independent body-fitted OpenFOAM (box [-32, 32]^2, slip sides), as docs/validation.md lists: Cd, and below
# its pressure and viscous parts
OPENFOAM = {1: 11.18, 20: 2.046, 40: 1.528}
OPENFOAM_SPLIT = {20: (1.216, 0.829), 40: (0.991, 0.537), 1: (5.54, 5.64)}
DENNIS_CHANG = {10: 2.846, 20: 2.045, 40: 1.522}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer resolutions")
    add_out(ap, "validation")
    args = ap.parse_args()
    res_list = [16, 32] if args.quick else [16, 24, 32]
    rows = []
    for n in res_list + ([48] if not args.quick else []):
        r = schaefer_turek(n).to_dict()
        rows.append({"case": "schaefer-turek", "method": "cutlink", **r})
        print(
            f"ST N={n}: cd {r['cd']:.4f} ({100 * r['cd_rel_err']:+.2f}%) cl {r['cl']:.4f} dp {r['dp']:.4f} "
            f"({100 * r['dp_rel_err']:+.2f}%) {r['wall_s']:.1f}s",
            flush=True,
        )
    circle = parse_shape("circle")
    for method in ("cutlink", "fraction"):
        for n in res_list:
            for re in (1, 10, 20, 40):
                for box in (32.0, 64.0) if (n == 16 and method == "cutlink") else (32.0,):
                    s = simulate(circle, re, n, box=box, immersed=method)
                    ref = OPENFOAM.get(re) if box == 32.0 else None
                    row = {
                        "case": "circle",
                        "method": method,
                        "re": re,
                        "resolution": n,
                        "box": box,
                        "cd": s.cd,
                        "cd_pressure": s.cd_pressure,
                        "cd_viscous": s.cd_viscous,
                        "cd_momentum": s.cd_momentum,
                        "cl": s.cl,
                        "steps": s.steps,
                        "wall_s": s.wall_s,
                        "cells": s.cells,
                        "unknowns": s.unknowns,
                        "cd_openfoam": ref,
                        "err_openfoam": (s.cd / ref - 1) if ref else None,
                        "cd_dennis_chang": DENNIS_CHANG.get(re),
                        "err_dennis_chang": (s.cd / DENNIS_CHANG[re] - 1) if re in DENNIS_CHANG else None,
                    }
                    rows.append(row)
                    e = f"{100 * row['err_openfoam']:+.2f}%" if ref else "-"
                    print(
                        f"circle {method} N={n} Re={re} box={box:g}: cd {s.cd:.4f} (OF {e}) "
                        f"p {s.cd_pressure:.3f} v {s.cd_viscous:.3f} mom {s.cd_momentum:.4f} {s.wall_s:.1f}s",
                        flush=True,
                    )
    write_json(args.out, rows)


if __name__ == "__main__":
    main()
