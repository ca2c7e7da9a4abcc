"""The training methods on the toy problems with known answers (tests/toys.py), over several seeds: the
coupled oscillators (HIG's showcase: Adam, SIP, HIG at equal CPU time) and the heat equation (SIP's showcase:
1D with nothing truncated, 2D with a long diffusion time where the inverse's truncation acts; Adam at its best
of four rates against SIP at equal updates). Reports every seed, so the spread is visible.

Usage: python benchmarks/toys.py [--seeds 3] [--seconds 5] [--out PATH]
       -> docs/benchmarks/toys.json (about 2 minutes on 2 cores)
"""

from __future__ import annotations

import argparse

import torch
from common import ROOT, add_out, write_json

RATES = (0.01, 0.03, 0.1, 0.3)


def oscillators(seed: int, seconds: float) -> dict:
    from tests import toys

    out = {}
    for method in ("adam", "sip", "hig"):
        hist = toys.train_oscillators(method, seconds, n_data=512, seed=seed, eval_every=seconds, clock="cpu")
        out[method] = {"start": hist[0][1], "loss": hist[-1][1], "cpu_s": hist[-1][0]}
    return out


def heat(seed: int, dims: int) -> dict:
    from tests import toys

    common = dict(updates=200 if dims == 1 else 100, seed=seed, dims=dims, eval_every=10**6)
    common.update(heat_steps=4 if dims == 1 else 16, n_samples=16 if dims == 1 else 8)
    sip = toys.train_heat("sip", lr=0.03, **common)
    adam = {lr: toys.train_heat("adam", lr=lr, **common)[-1][2] for lr in RATES}
    best = min(adam, key=adam.get)
    return {
        "updates": common["updates"],
        "start": sip[0][2],
        "sip": sip[-1][2],
        "adam_by_lr": adam,
        "adam_best_lr": best,
        "adam_best": adam[best],
        "ratio": adam[best] / sip[-1][2],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0, help="CPU seconds per oscillator run")
    add_out(ap, "toys")
    args = ap.parse_args()
    torch.set_num_threads(1)
    result: dict = {"seeds": args.seeds, "oscillator_seconds": args.seconds, "runs": []}
    for seed in range(args.seeds):
        row = {"seed": seed, "oscillators": oscillators(seed, args.seconds)}
        row["heat_1d"], row["heat_2d"] = heat(seed, 1), heat(seed, 2)
        o = row["oscillators"]
        print(
            f"seed {seed}: oscillators adam {o['adam']['loss']:.2e}, sip {o['sip']['loss']:.2e}, hig "
            f"{o['hig']['loss']:.2e}; heat 1D adam/sip {row['heat_1d']['ratio']:.3g}, 2D "
            f"{row['heat_2d']['ratio']:.3g}",
            flush=True,
        )
        result["runs"].append(row)
    write_json(args.out, result)


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))
    main()
