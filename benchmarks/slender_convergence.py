"""The simulation on slender sections at incidence against body-fitted OpenFOAM (docs/validation.md, "Slender
sections at incidence").

NACA 2410 at 4 degrees, Re 20, at N = 16 to 96 cells per D, beside OpenFOAM's two meshes
(benchmarks/openfoam_split.py naca:2410@4 1 and 2); and where the difference comes from: the same convergence
for a 6% section at 6 degrees, a rounded 4% plate at 10 degrees, a section whose trailing edge is rounded
(the NACA 2410 eroded and dilated by 0.02 chord), and the far field (the stretched cells' largest size and
growth).
Usage: python benchmarks/slender_convergence.py [--quick] [--out PATH]
  -> docs/benchmarks/slender_convergence.json
"""

import os

os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from common import add_out, write_json  # noqa: E402
from window_choice import body  # noqa: E402

from geometry import parse_shape, presets  # noqa: E402
from geometry.shape import Shape  # noqa: E402
from sim import setups  # noqa: E402
from sim.solver import run_case, simulate  # noqa: E402

# OpenFOAM 1912 simpleFoam, gmsh triangles, box [-32, 32]^2, slip sides, U = 1 inlet, p = 0 outlet, residuals
# 1e-8 (benchmarks/openfoam_split.py naca:2410@4 LEVEL): Cd, Cl on mesh 1 (68,233 cells) and 2 (166,900)
OPENFOAM = {"naca:2410@4": {1: (1.76997, 0.88759), 2: (1.77965, 0.88775)}}


def rounded_trailing_edge() -> Shape:
    """NACA 2410 eroded and dilated by 0.02 chord: its trailing edge (and nose) rounded, the rest kept."""
    import shapely

    poly = (
        shapely.Polygon(presets.naca4_points("2410", 401))
        .buffer(-0.02, quad_segs=16)
        .buffer(0.02, quad_segs=16)
    )
    return Shape.from_points(np.asarray(poly.exterior.coords)[:-1], "naca2410-rounded")


def bodies(quick: bool) -> dict[str, tuple[Shape, tuple[int, ...]]]:
    ladder = (16, 32) if quick else (16, 24, 32, 48, 64, 96)
    out = {"naca:2410@4": (parse_shape("naca:2410").rotated(-4.0), ladder)}
    if not quick:
        out["naca:0006@6"] = (parse_shape("naca:0006").rotated(-6.0), (16, 32, 64))
        out["plate:0.04@10"] = (body("plate:0.04", 10.0), (16, 32, 64))
        out["naca2410-rounded@4"] = (rounded_trailing_edge().rotated(-4.0), (16, 32, 64))
    return out


def far_field(shape: Shape) -> list[dict]:
    """Cd and Cl at N 16 with the stretched cells' growth and largest size changed."""
    rows = []
    for stretch, h_max in ((setups.STRETCH, setups.H_MAX), (1.04, setups.H_MAX), (setups.STRETCH, 0.5)):
        saved = setups.H_MAX
        setups.H_MAX = h_max
        try:
            domain = setups.unconfined(20.0, shape.bounds(), 16, setups.DEFAULT_BOX, stretch)
        finally:
            setups.H_MAX = saved
        r = run_case(shape.points, domain, 16)
        rows.append({"stretch": stretch, "h_max": h_max, "cells": domain.grid.cells, "cd": r.cd, "cl": r.cl})
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the NACA 2410 at N 16 and 32 only")
    add_out(ap, "slender_convergence")
    args = ap.parse_args()
    out: dict = {"re": 20.0, "openfoam": {k: {str(m): v for m, v in d.items()} for k, d in OPENFOAM.items()}}
    out["convergence"] = {}
    for name, (shape, ladder) in bodies(args.quick).items():
        rows = []
        for n in ladder:
            t = time.perf_counter()
            r = simulate(shape, 20.0, n)
            rows.append({"resolution": n, "cd": r.cd, "cl": r.cl, "wall_s": time.perf_counter() - t})
            ref = OPENFOAM.get(name, {}).get(2)
            if ref:
                rows[-1].update(cd_vs_openfoam=r.cd / ref[0] - 1, cl_vs_openfoam=r.cl / ref[1] - 1)
            print(name, rows[-1], flush=True)
        out["convergence"][name] = rows
    if not args.quick:
        out["far_field"] = far_field(parse_shape("naca:2410").rotated(-4.0))
    write_json(args.out, out)


if __name__ == "__main__":
    main()
