"""The pressure/viscous split against grid convergence (docs/validation.md, "Pressure/viscous split").

For pointed bodies (two lenses made of circular arcs, NACA 0012 and 0020, a sharp-cornered rectangle), slender
ellipses and blunt controls (the circle, a rounded rectangle), at N = 16, 32, 64 (and 128 with --finest 128,
about 10-16 GB and 1-5 min a case): the split as the solver reports it (surface stress from the fluid side,
scaled to the body force: sim.solver), the former evaluation (contour integral of the pressure interpolated at
the outline), and the extrapolated split at N = 16 (simulate(split="extrapolated"): a second solve at 32),
each against the reference: the unscaled pressure integral (`raw`) extrapolated from the two finest
resolutions (order from the last three, clipped to [1, 2]; docs/validation.md says why), and against OpenFOAM
where it was run. `sharp` is what simulate(split="auto") decides (sim.setups.sharp).
Usage: python benchmarks/split.py [--quick] [--finest 128] [--out PATH]   -> benchmarks/out/split.json
"""

import os

os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import math  # noqa: E402

import numpy as np  # noqa: E402
from common import add_out, write_json  # noqa: E402

from geometry import parse_shape  # noqa: E402
from geometry.shape import Shape  # noqa: E402
from sim import forces, setups  # noqa: E402
from sim.solver import simulate  # noqa: E402
from sim.split import stress_pressure  # noqa: E402

# Independent body-fitted OpenFOAM (simpleFoam 1912, gmsh triangles, box [-32, 32]^2, slip sides, U = 1 inlet,
# p = 0 outlet; benchmarks/openfoam_split.py, docs/validation.md): the pressure part of Cd on the finer of
# two meshes.
OPENFOAM_PRESSURE = {("circle", 20.0): 1.2270, ("lens:0.12", 20.0): 0.3090, ("naca:0012", 20.0): 0.2893}


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
    ap.add_argument(
        "--finest", type=int, default=64, choices=(64, 128), help="finest resolution (default 64)"
    )
    add_out(ap, "split")
    args = ap.parse_args()
    if args.finest > 64:
        setups.MAX_CELLS = 2_000_000  # a reference run beyond what the CLI allows: about 1-5 min and 10-16 GB
    bodies = {
        "lens:0.12": Shape.from_points(lens_points(0.12), "lens:0.12"),
        "lens:0.25": Shape.from_points(lens_points(0.25), "lens:0.25"),
        "naca:0012": parse_shape("naca:0012"),
        "naca:0020": parse_shape("naca:0020"),
        "rect:2:0": parse_shape("rect:2:0"),
        "rect:2:0.3": parse_shape("rect:2:0.3"),
        "circle": parse_shape("circle"),
        "ellipse:2": parse_shape("ellipse:2"),
        "ellipse:3": parse_shape("ellipse:3"),
        "ellipse:4": parse_shape("ellipse:4"),
    }
    cases = [("lens:0.12", 20.0)]
    if not args.quick:
        cases = [(b, 20.0) for b in bodies] + [("lens:0.12", 1.0), ("lens:0.12", 40.0), ("naca:0012", 2.0)]
    levels = (16, 32, 64) + ((128,) if args.finest == 128 else ())
    out = []
    for name, re in cases:
        body = bodies[name]
        rows = {}
        for n in levels:
            r = simulate(body, re, resolution=n)
            _, _, p = r.fields()
            old = r.domain.force_scale * float(forces.pressure_force(p, r.points, r.domain.grid)[0])
            rows[n] = {
                "cd": r.cd,
                "new": r.cd_pressure,  # the single-solve split: the stress integrals scaled to the body force
                "raw": (stress_pressure(r) or (math.nan,))[
                    0
                ],  # the unscaled pressure integral (the extrapolation's)
                "old": old,
                "closure": r.split_closure,
                "wall_s": r.wall_s,
            }
            print(name, re, n, rows[n], flush=True)
        ex = simulate(body, re, resolution=16, split="extrapolated")
        rec = {
            "shape": name,
            "re": re,
            "sharp": setups.sharp(body.points, 16),
            "by_resolution": rows,
            "extrapolated_16_32": {"cd_pressure": ex.cd_pressure, "wall_s": ex.wall_s},
        }
        for key in ("cd", "new", "raw", "old"):
            ext, order = richardson(*(rows[n][key] for n in levels[-3:]))
            rec[f"{key}_extrapolated"], rec[f"{key}_order"] = ext, order
        truth = rec["raw_extrapolated"]
        rec["n16_error_vs_reference"] = {k: rows[16][k] / truth - 1 for k in ("new", "old")}
        rec["n16_error_vs_reference"]["extrapolated_16_32"] = ex.cd_pressure / truth - 1
        if (name, re) in OPENFOAM_PRESSURE:
            of = OPENFOAM_PRESSURE[(name, re)]
            rec["openfoam_pressure"] = of
            rec["error_vs_openfoam"] = {
                "single_solve_16": rows[16]["new"] / of - 1,
                "extrapolated_16_32": ex.cd_pressure / of - 1,
                f"single_solve_{levels[-1]}": rows[levels[-1]]["new"] / of - 1,
                f"unscaled_integral_{levels[-1]}": rows[levels[-1]]["raw"] / of - 1,
            }
        print(rec, flush=True)
        out.append(rec)
    write_json(args.out, out)


if __name__ == "__main__":
    main()
