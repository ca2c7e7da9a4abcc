"""Speed of the surrogate on CPU (2 cores) against its goals: one shape's forward (rasterised input,
network, P) at most 10 ms; forward plus backward to the shape's points at most 25 ms. Also a training
update per method.

Usage: python benchmarks/surrogate_speed.py [--base 16] [--model DIR] [--out PATH]
       -> docs/benchmarks/surrogate_speed.json
Run on a quiet machine.
"""

from __future__ import annotations

import argparse
import time

import torch
from common import ROOT, add_out, write_json

from surrogate import physics
from surrogate.datasets import data
from surrogate.model import Config, Surrogate, count_parameters


def timed(fn, repeat: int = 30) -> float:
    fn()
    fn()
    t = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t) / repeat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", type=int, default=16)
    ap.add_argument("--model", help="a trained model folder (default: an untrained network of --base)")
    ap.add_argument("--threads", type=int, default=2)
    add_out(ap, "surrogate_speed")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.model:
        from surrogate.model_files import load_model

        model, _ = load_model(args.model)
    else:
        model = Surrogate(Config(base=args.base)).eval()
    d = data.load(ROOT / "data" / "datasets" / "test")
    pts = torch.as_tensor(d.arrays["points"][:1], dtype=torch.float32)
    re = torch.tensor([10.0])

    def forward():
        with torch.no_grad():
            return physics.drag_lift(model(pts, re), re)

    def backward():
        p = pts.clone().requires_grad_(True)
        physics.drag_lift(model(p, re), re)[0, 0].backward()
        return p.grad

    row = {
        "parameters": count_parameters(model),
        "threads": args.threads,
        "forward_ms": 1000 * timed(forward),
        "forward_backward_ms": 1000 * timed(backward),
        "input_ms": 1000 * timed(lambda: model.inputs(pts, re)),
    }
    print(
        f"{row['parameters']} parameters, {args.threads} threads: "
        f"forward {row['forward_ms']:.1f} ms (goal 10), "
        f"forward + backward to the points {row['forward_backward_ms']:.1f} ms (goal 25); "
        f"input rasterisation {row['input_ms']:.1f} ms"
    )
    write_json(args.out, row)


if __name__ == "__main__":
    main()
