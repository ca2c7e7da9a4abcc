"""The pressure/viscous split against grid convergence (docs/validation.md, "Pressure/viscous split").

For pointed bodies (two lenses made of circular arcs, NACA 0012) and the circle, at N = 16, 32, 64: the split as
the solver reports it (surface stress from the fluid side, scaled to the body force: sim.solver) and the former
evaluation (contour integral of the pressure interpolated at the outline, forces.pressure_force), with the
Richardson extrapolation of each from N = 32 and 64 (order from 16/32/64, clipped to [1, 2]).
Usage: python benchmarks/split.py [--quick]   -> benchmarks/out/split.json
"""

from __future__ import annotations

import os

os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import math  # noqa: E402

import numpy as np  # noqa: E402
from common import write_json  # noqa: E402

from geometry import parse_shape  # noqa: E402
from geometry.shape import Shape  # noqa: E402
from sim import forces  # noqa: E402
from sim.solver import simulate  # noqa: E402


def lens_points(h: float, n: int = 129) -> np.ndarray:
    """Two circular arcs through (-1/2, 0) and (1/2, 0) of height h (geometry.sampler's lens, symmetric)."""
    x = 0.5 * (1 - np.cos(np.linspace(0, np.pi, n)))[1:-1] - 0.5
    rad = (0.25 + h * h) / (2 * h)
    arc = np.sqrt(rad * rad - x * x) - (rad - h)
    upper = np.stack([x[::-1], arc[::-1]], 1)
    lower = np.stack([x, -arc], 1)
    return np.vstack([[[0.5, 0.0]], upper, [[-0.5, 0.0]], lower])


def richardson(f16: float, f32: float, f64: float) -> tuple[float, float]:
    d1, d2 = f32 - f16, f64 - f32
    order = math.log2(abs(d1 / d2)) if d2 != 0 and d1 != 0 and d1 * d2 > 0 else 1.0
    order = min(max(order, 1.0), 2.0)
    return f64 + d2 / (2**order - 1), order


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="the thin lens only, Re 20")
    args = ap.parse_args()
    bodies = {
        "lens:0.12": Shape.from_points(lens_points(0.12), "lens:0.12"),
        "lens:0.25": Shape.from_points(lens_points(0.25), "lens:0.25"),
        "naca:0012": parse_shape("naca:0012"),
        "circle": parse_shape("circle"),
    }
    cases = [("lens:0.12", 20.0)] if args.quick else [(b, 20.0) for b in bodies] + [("lens:0.12", 1.0)]
    out = []
    for name, re in cases:
        rows = {}
        for n in (16, 32, 64):
            r = simulate(bodies[name], re, resolution=n)
            _, _, p = r.fields()
            old = r.domain.force_scale * float(forces.pressure_force(p, r.points, r.domain.grid)[0])
            rows[n] = {
                "cd": r.cd,
                "new": r.cd_pressure,
                "old": old,
                "closure": r.split_closure,
                "wall_s": r.wall_s,
            }
            print(name, re, n, rows[n], flush=True)
        rec = {"shape": name, "re": re, "by_resolution": rows}
        for key in ("cd", "new", "old"):
            ext, order = richardson(*(rows[n][key] for n in (16, 32, 64)))
            rec[f"{key}_extrapolated"], rec[f"{key}_order"] = ext, order
        truth = rec["new_extrapolated"]
        rec["n16_error_vs_extrapolated"] = {k: rows[16][k] / truth - 1 for k in ("new", "old")}
        print(rec, flush=True)
        out.append(rec)
    write_json("split", out)


if __name__ == "__main__":
    main()
