"""Grid convergence of Cd: the circle at Re 20 on N = 8, 16, 32, 64 cells per D (observed order), and shapes
the solver was not tuned on (sharp corners, sharp trailing edge, non-convex, slender) at N = 16, 32, 48, to
estimate the discretisation error at the default resolution where no independent reference is at hand.
Usage: python benchmarks/convergence.py [--quick] [--out PATH]   -> benchmarks/out/convergence.json
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from common import add_out, write_json

from geometry import Shape, parse_shape
from sim.solver import simulate


def star() -> Shape:
    t = 2 * np.pi * np.arange(240) / 240
    r = 0.5 + 0.15 * np.cos(5 * t)
    return Shape.from_points(np.stack([r * np.cos(t), r * np.sin(t)], 1), name="star5")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    add_out(ap, "convergence")
    args = ap.parse_args()
    out = {"circle_re20": [], "shapes": []}
    circle = parse_shape("circle")
    for n in (8, 16, 32) if args.quick else (8, 16, 32, 64):
        r = simulate(circle, 20.0, n)
        out["circle_re20"].append({"resolution": n, "cd": r.cd, "cells": r.cells, "wall_s": r.wall_s})
        print(f"circle Re 20 N={n}: cd {r.cd:.5f} cells {r.cells} {r.wall_s:.1f}s", flush=True)
    cds = [row["cd"] for row in out["circle_re20"]]
    orders = [
        math.log2(abs(a - b) / abs(b - c)) if abs(b - c) > 0 else None
        for a, b, c in zip(cds, cds[1:], cds[2:], strict=False)
    ]
    out["observed_order"] = orders
    print("observed orders", orders)
    shapes = {
        "rect:2:0": parse_shape("rect:2:0"),
        "naca:0012": parse_shape("naca:0012"),
        "star5": star(),
        "ellipse:4": parse_shape("ellipse:4"),
    }
    for name, shape in shapes.items():
        for re in (1.0, 10.0, 40.0):
            cd = {}
            for n in (16, 32) if args.quick else (16, 32, 48):
                r = simulate(shape, re, n)
                cd[n] = r.cd
            finest = max(cd)
            row = {"shape": name, "re": re, "cd": cd, "err16_vs_finest": cd[16] / cd[finest] - 1}
            out["shapes"].append(row)
            print(
                f"{name} Re {re:g}: "
                + " ".join(f"N{k} {v:.4f}" for k, v in cd.items())
                + f"  (N16 vs N{finest}: {100 * row['err16_vs_finest']:+.2f}%)",
                flush=True,
            )
    write_json(args.out, out)


if __name__ == "__main__":
    main()
