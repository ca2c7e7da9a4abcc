"""How well each model's shape gradient agrees with the full simulation's adjoint (the surrogate's goal:
cosine 0.95, docs/surrogate.md): dCd/d(16 normal modes) of 12 bodies spread over data/datasets/test, the
surrogate's against the adjoint's. For an ensemble the gradient is the members' mean (that of its mean drag,
which the optimiser follows).

Usage: python benchmarks/gradient_cosine.py MODEL [MODEL ...] [--out PATH]
       -> docs/benchmarks/gradient_cosine.json (about a minute)
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from common import ROOT, add_out, write_json

from surrogate import gradients, model_files
from surrogate.datasets import data as dataset
from surrogate.model_files import load_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", metavar="MODEL")
    ap.add_argument("--shapes", type=int, default=12)
    add_out(ap, "gradient_cosine")
    args = ap.parse_args()
    d = dataset.load(ROOT / "data" / "datasets" / "test")
    rows = dataset.indices(d, None)
    pick = rows[np.linspace(0, len(rows) - 1, args.shapes).astype(int)]
    a = d.arrays  # in window units: back to the body's D for the adjoint
    pts = [torch.as_tensor(a["points"][r] * a["scale"][r]) for r in pick]
    res = [float(a["re"][r] / a["scale"][r]) for r in pick]
    adjoint = [gradients.adjoint_gradient(p, r) for p, r in zip(pts, res, strict=True)]
    out = {"shapes": args.shapes, "modes": 16, "models": {}}
    for folder in args.models:
        ms = [load_model(f)[0] for f in model_files.member_folders(folder)]
        cos = [
            gradients.cosine(np.mean([gradients.surrogate_gradient(m, p, r) for m in ms], 0), a)
            for p, r, a in zip(pts, res, adjoint, strict=True)
        ]
        out["models"][folder] = {
            "median": float(np.median(cos)),
            "min": min(cos),
            "max": max(cos),
            "cosines": cos,
        }
        print(f"{folder}: cosine median {np.median(cos):.3f} ({min(cos):.2f} to {max(cos):.2f})")
    write_json(args.out, out)


if __name__ == "__main__":
    main()
