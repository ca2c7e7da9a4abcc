"""How well conditioned is the learning problem? Singular values of the physics operator's Jacobian per
sample (dy/dx: the scaled outputs of P against the state) and of the joint network-physics Jacobian of a batch
(dy/dtheta: batch x outputs rows), for P's two output sets (drag: Cd, Cl; all: Cd, Cl, the pressure part and
Cp at 64 stations), at a rough network (a few hundred supervised steps) and at a converged one. This is the
evidence SIP and HIG are built for: an ill-conditioned physics or joint Jacobian.

Usage: python benchmarks/conditioning.py [--model DIR] [--data DIR] [--samples B]
                                         [--rough-steps N | --rough DIR] [--plot PNG] [--out JSON]
       -> docs/benchmarks/conditioning.json and docs/method-comparison/spectra.png (minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from common import ROOT, add_out, write_json

from surrogate.datasets import data as dataset
from surrogate.model import Surrogate
from surrogate.model_files import load_model
from surrogate.splits import Batch, make_split
from surrogate.train import TrainConfig, physics_outputs, train


def p_spectra(model: Surrogate, batch: Batch, outputs: str) -> list[list[float]]:
    """Per sample, the singular values of d y / d x at the network's predicted state (y scaled as trained)."""
    with torch.no_grad():
        x0 = model.forward_inputs(batch.inputs, batch.re).double()
    out = []
    for b in range(len(x0)):
        one = Batch(*(t[b : b + 1].double() for t in batch[:4]), _take(batch, b))

        def y(state: torch.Tensor, one: Batch = one) -> torch.Tensor:
            return physics_outputs(model, state[None], one, outputs)[0][0]

        jac = torch.autograd.functional.jacobian(y, x0[b]).reshape(-1, x0[b].numel())
        out.append(torch.linalg.svdvals(jac).tolist())
    return out


def joint_spectrum(model: Surrogate, batch: Batch, outputs: str) -> list[float]:
    """Singular values of d y / d theta for the whole batch (batch x outputs rows), from its Gram matrix
    accumulated one row (one vector-Jacobian product) at a time."""
    params = [p for p in model.net.parameters() if p.requires_grad]
    x = model.decode(model.net(batch.inputs), batch.inputs, batch.re)
    y, _ = physics_outputs(model, x, batch, outputs)
    flat = y.reshape(-1)
    rows = []
    for k in range(len(flat)):
        grads = torch.autograd.grad(flat[k], params, retain_graph=k < len(flat) - 1, allow_unused=True)
        rows.append(
            torch.cat(
                [
                    (g if g is not None else torch.zeros_like(p)).reshape(-1)
                    for g, p in zip(grads, params, strict=True)
                ]
            )
        )
    jac = torch.stack(rows).double()
    gram = jac @ jac.T
    return torch.linalg.eigvalsh(gram).clamp_min(0).sqrt().flip(0).tolist()


def _take(batch: Batch, b: int):
    return batch.readout.take(slice(b, b + 1)).to("cpu", torch.float64) if batch.readout is not None else None


def summary(values: list[float]) -> dict:
    s = np.asarray(values)
    s = s[s > 0]
    return {"max": float(s.max()), "min": float(s.min()), "condition": float(s.max() / s.min()), "n": len(s)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=ROOT / "data" / "models" / "default" / "member-0")
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "datasets" / "test")
    ap.add_argument("--samples", type=int, default=4, help="samples in the batch of the joint Jacobian")
    ap.add_argument("--rough-steps", type=int, default=300, help="supervised steps of the rough network")
    ap.add_argument(
        "--rough", type=Path, help="a rough model folder instead of training one (e.g. a comparison's)"
    )
    ap.add_argument("--plot", type=Path, default=ROOT / "docs" / "method-comparison" / "spectra.png")
    add_out(ap, "conditioning")
    args = ap.parse_args()
    converged, _ = load_model(args.model)
    base, depth = converged.config.base, converged.config.depth
    if args.rough:
        rough, _ = load_model(args.rough)
    else:
        with tempfile.TemporaryDirectory() as tmp:  # the rough start: the same network, a few hundred steps
            cfg = TrainConfig(
                method="supervised", steps=args.rough_steps, base=base, depth=depth, eval_every=10**9
            )
            train(args.data, Path(tmp) / "rough", cfg)
            rough, _ = load_model(Path(tmp) / "rough")
    d = dataset.load(args.data)
    result: dict = {
        "model": str(args.model.resolve().relative_to(ROOT)),
        "samples": args.samples,
        "starts": {},
    }
    if args.rough:
        result["rough"] = str(args.rough.resolve().relative_to(ROOT))
    for name, model in (("rough", rough), ("converged", converged)):
        split = make_split(d, "test", model, readouts=True)
        pick = np.linspace(0, len(split) - 1, args.samples).astype(int)
        batch = split.batch(torch.as_tensor(pick), "cpu")
        entry = {}
        for outputs in ("drag", "all"):
            per_sample = p_spectra(model, batch, outputs)
            joint = joint_spectrum(model, batch, outputs)
            entry[outputs] = {
                "p_spectra": per_sample,
                "p_condition": [summary(s)["condition"] for s in per_sample],
                "joint_spectrum": joint,
                "joint": summary(joint),
            }
            print(
                f"{name}, {outputs}: P condition {np.median(entry[outputs]['p_condition']):.3g} (median), "
                f"joint {entry[outputs]['joint']['condition']:.3g} over {len(joint)} rows",
                flush=True,
            )
        result["starts"][name] = entry
    write_json(args.out, result)
    _plot(result, args.plot)


def _plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for (name, entry), style in zip(result["starts"].items(), ("--", "-"), strict=True):
        for outputs, colour in (("drag", "tab:blue"), ("all", "tab:red")):
            e = entry[outputs]
            for k, s in enumerate(e["p_spectra"]):
                s = np.asarray(s) / s[0]
                label = f"{name}, {outputs}" if k == 0 else None
                axes[0].semilogy(np.arange(1, len(s) + 1), s, style, color=colour, alpha=0.6, label=label)
            j = np.asarray(e["joint_spectrum"]) / e["joint_spectrum"][0]
            axes[1].semilogy(np.arange(1, len(j) + 1), j, style, color=colour, label=f"{name}, {outputs}")
    axes[0].set_title("P's Jacobian dy/dx, per sample (s / s_max)")
    axes[1].set_title(f"joint Jacobian dy/dtheta, batch of {result['samples']} (s / s_max)")
    for ax in axes:
        ax.set_xlabel("index")
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path.resolve().relative_to(ROOT)}")


if __name__ == "__main__":
    main()
