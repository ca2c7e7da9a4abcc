"""The design loop's speed, before and after, in one run on the same machine: one evaluation of the shipped
ensemble with its shape gradient, and the fixed-area optimisations of the circle at Re 1, 20 and 40 (SLSQP,
through the surrogate) with each final design simulated.

"before" is the loop as it was: each member rasterising the shape itself, one after another, weights in the
default memory order, SLSQP run to its own tight tolerance (rtol 0, up to 200 steps), OpenBLAS's threads
left free; "after" is the members on one shared rasterisation in channels-last order (surrogate.members), the
stopping rule (optim.optimise.settled, the default rtol) and OpenBLAS on one thread during the loop
(optim.optimise.one_blas_thread).

Usage: python benchmarks/inverse_speed.py [--model DIR] [--out PATH]  -> docs/benchmarks/inverse_speed.json
About 3 minutes on 2 cores; run it on an idle machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time

import torch
from common import add_out, write_json

from geometry import parse_shape
from optim import constraints as C
from optim import optimise
from optim.backends import SurrogateBackend
from optim.design import Options, run, simulated_cd
from optim.optimise import RTOL
from surrogate import model_files, physics
from surrogate.paths import DEFAULT_MODEL, portable

RES = (1.0, 20.0, 40.0)


class OneByOne(SurrogateBackend):
    """The ensemble as it was evaluated: every member rasterises the body itself, one after another."""

    def each(self, points: torch.Tensor, re: float) -> torch.Tensor:
        q, d, re_own = self.normalise(points, re)
        s = self.model.window.scale(q.detach().cpu().numpy())
        re_w = (re_own * s).reshape(1)
        out = []
        for m in self.members:
            x = m((q / s).float()[None], re_w.float()).double()
            out.append(physics.drag_lift_on(x, re_w, self.model.window)[0] * d * s)
        return torch.stack(out)


def before(folder: str) -> SurrogateBackend:
    models, card = model_files.load(folder)
    for m in models:
        for p in m.parameters():
            p.requires_grad_(False)
    return OneByOne(models[0], card, folder, members=models)


def evaluation_ms(backend: SurrogateBackend, repeats: int = 20) -> float:
    """Median wall time (ms) of Cd and Cl with d Cd / d points, NACA 0020 at Re 20."""
    p0 = torch.as_tensor(parse_shape("naca:0020").points)
    times = []
    for _ in range(repeats + 3):
        p = p0.clone().requires_grad_(True)
        t = time.perf_counter()
        cd = backend(p, 20.0)["cd"]
        torch.autograd.grad(cd, p)
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times[3:])


def optimisation(backend: SurrogateBackend, re: float, rtol: float, free_blas: bool) -> dict:
    opts = Options(re=[re], steps=200, rtol=rtol, limits=C.Limits(keep_area=True))
    limit = optimise.one_blas_thread
    if free_blas:
        optimise.one_blas_thread = contextlib.nullcontext  # type: ignore[assignment]
    t = time.perf_counter()
    try:
        res = run(parse_shape("circle"), opts, backend).result
    finally:
        optimise.one_blas_thread = limit
    wall = time.perf_counter() - t
    return {
        "re": re,
        "status": res.status,
        "steps": res.history[-1]["step"],
        "evaluations": res.evaluations,
        "wall_s": wall,
        "cd_pred": res.final.cd,
        "cd_simulated": simulated_cd(res.final.points, [re], None),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(DEFAULT_MODEL), help="ensemble folder (default: the shipped one)")
    add_out(ap, "inverse_speed")
    args = ap.parse_args()
    old, new = before(args.model), SurrogateBackend.load(args.model)
    out: dict = {
        "model": portable(args.model),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    out["evaluation_ms"] = {"before": evaluation_ms(old), "after": evaluation_ms(new)}
    print(f"one evaluation with its gradient: {out['evaluation_ms']}", flush=True)
    rows = []
    for re in RES:
        for name, backend, rtol in (("before", old, 0.0), ("after", new, RTOL)):
            row = {"mode": name, **optimisation(backend, re, rtol, free_blas=name == "before")}
            rows.append(row)
            print(
                f"Re {re:g} {name}: {row['status']} after {row['steps']} steps, {row['evaluations']} "
                f"evaluations, {row['wall_s']:.1f} s; Cd {row['cd_pred']:.5f} predicted, "
                f"{row['cd_simulated']:.5f} simulated",
                flush=True,
            )
    out["optimisations"] = rows
    write_json(args.out, out)


if __name__ == "__main__":
    main()
