"""Which window holds slender bodies: P's drag on each candidate against the solver (docs/design-notes.md,
"The surrogate's window").

Slender and compact bodies (NACA 4-digit sections from 6% to 30% at incidence, rounded 4% and 15% plates, a
12:1 ellipse, the circle) at Re 1, 10 and 50 are simulated at the dataset resolution; their fields are
sampled onto each candidate window and the physics operator's Cd and Cl (surrogate.physics.drag_lift_on) are
compared with the solver's. Candidates: `scaled-64` (today's 64-cell window, the body shrunk by s = reach /
1.54 D when it reaches farther: surrogate.window.Window.scale), and windows of +-3.58 D (reach 3 D as it is)
with 64, 96 and 128 cells. Also the cost of a training step (base-32 U-Net, batch 16) per window size.
Usage: python benchmarks/window_choice.py [--quick] [--out PATH]   -> docs/benchmarks/window_choice.json
"""

import os

os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import add_out, write_json  # noqa: E402

from geometry import parse_shape, presets  # noqa: E402
from geometry.shape import Shape  # noqa: E402
from sim.fields import sample  # noqa: E402
from sim.solver import simulate  # noqa: E402
from surrogate import physics  # noqa: E402
from surrogate.model import Config, Surrogate  # noqa: E402
from surrogate.window import Window  # noqa: E402

BODIES = [
    ("circle", 0),
    ("naca:0012", 0),
    ("naca:0006", 0),
    ("naca:0006", 10),
    ("naca:0006", 20),
    ("naca:4412", -10),
    ("naca:4412", 6),
    ("naca:2410", 4),
    ("naca:0030", 20),
    ("plate:0.04", 0),
    ("plate:0.04", 10),
    ("plate:0.04", 20),
    ("plate:0.15", 5),
    ("ellipse:12", 0),
    ("ellipse:12", 10),
]
WIDE = 3.58  # +-D: holds a reach of 3 D with the contour 2 cells in and 0.3 D clear at 64 cells


def body(spec: str, alpha: float) -> Shape:
    """A preset, or `plate:T` (a rounded plate T chord thick), at angle of attack alpha (degrees)."""
    kind, _, arg = spec.partition(":")
    shape = (
        Shape.from_points(presets.rounded_rect_points(1 / float(arg), 0.5, 512), spec)
        if kind == "plate"
        else parse_shape(spec)
    )
    return shape.rotated(-alpha)


def p_error(result, window: Window, re: float) -> tuple[float, float]:
    """P's (Cd / Cd_solver - 1, (Cl - Cl_solver) / Cd_solver) on the solver's fields sampled onto `window`
    (float32, as a dataset stores them)."""
    f = sample(result, window.cells, window.extent)
    state = torch.as_tensor(np.stack([f["u"], f["v"], f["p"]]).astype(np.float32))[None].double()
    cdl = physics.drag_lift_on(state, torch.tensor([re], dtype=torch.float64), window)[0]
    return float(cdl[0] / result.cd - 1), float((cdl[1] - result.cl) / result.cd)


def step_time(cells: int, repeats: int = 3) -> float:
    """Seconds of a forward and backward pass of the base-32 U-Net on a batch of 16 at `cells` x `cells`."""
    torch.manual_seed(0)
    net = Surrogate(Config(base=32, window=Window(cells, 2.0).to_dict())).net
    x = torch.randn(16, 5, cells, cells)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        net(x).square().mean().backward()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="three bodies at Re 10 only")
    add_out(ap, "window_choice")
    args = ap.parse_args()
    bodies = BODIES[1:4] if args.quick else BODIES
    res = (10.0,) if args.quick else (1.0, 10.0, 50.0)
    base = Window()
    rows = []
    for spec, alpha in bodies:
        shape = body(spec, alpha)
        s = base.scale(shape.points)
        candidates = {
            "scaled-64": base.scaled(s),
            "wide-64": Window(64, WIDE),
            "wide-96": Window(96, WIDE),
            "wide-128": Window(128, WIDE),
        }
        for re in res:
            r = simulate(shape, re)
            row = {"body": spec, "alpha": alpha, "re": re, "reach": float(np.abs(shape.points).max())}
            row.update(scale=s, thickness=shape.thickness, cd=r.cd, cl=r.cl)
            for name, w in candidates.items():
                row[name] = dict(zip(("cd_err", "cl_err"), p_error(r, w, re), strict=True))
            print(row, flush=True)
            rows.append(row)
    summary = {}
    for name in ("scaled-64", "wide-64", "wide-96", "wide-128"):
        e = np.abs([r[name]["cd_err"] for r in rows])
        c = np.abs([r[name]["cl_err"] for r in rows])
        summary[name] = {"cd_median": float(np.median(e)), "cd_max": float(e.max()), "cl_max": float(c.max())}
    steps = {str(n): step_time(n) for n in (64, 96, 128)}
    write_json(args.out, {"rows": rows, "summary": summary, "train_step_s_base32_batch16": steps})


if __name__ == "__main__":
    main()
