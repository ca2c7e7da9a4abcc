"""`dragopt compare-methods`: the four methods on one learning problem, side by side.

Same network, same split, same supervised pre-training; then each method fine-tunes from it for the same
number of updates and, separately, for the same training time. Each method keeps its own learning rate
(DEFAULT_LR, the settings that worked on our problems: one setting for all would be unfair, as the PBDL book
notes). Every run is a model folder under the report folder, so a killed comparison resumes where it stopped.
The report: a table of the test split's Cd error (median, p95, max), Cl error, field error, the cosine of
dCd/dshape against the solver's adjoint on a few test shapes, time and peak memory per update; loss curves
against updates and against time; and the plain conclusion the numbers give.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from geometry.io import atomic_write_text
from surrogate import gradients
from surrogate.datasets import data as dataset
from surrogate.evaluation import metrics
from surrogate.model_files import METRICS, load_model
from surrogate.paths import ROOT
from surrogate.splits import make_split
from surrogate.train import METHODS, TrainConfig, train

SUMMARY = ("cd_rel_err_median", "cd_rel_err_p95", "cd_rel_err_max", "cl_abs_err_median", "field_rel_err")


def measure_update(data_dir: str, method: str, base: int, batch: int, updates: int = 5) -> dict:
    """Time and memory of one update, in a fresh process that reads only one shard
    (surrogate.compare_worker)."""
    shard = sorted(Path(data_dir).glob("shard-*.npz"))[0]
    args = ["--shard", str(shard), "--method", method, "--base", str(base), "--batch", str(batch)]
    cmd = [sys.executable, "-m", "surrogate.compare_worker", *args, "--updates", str(updates)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _curve(folder: Path) -> list[dict]:
    path = folder / METRICS
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def compare(
    data_dir: str | Path,
    out: str | Path,
    pretrain_steps: int = 2000,
    updates: int = 300,
    seconds: float = 120.0,
    base: int = 16,
    batch: int = 32,
    gradient_shapes: int = 5,
    methods: tuple[str, ...] = METHODS,
    progress: Callable[[dict], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Run (or resume) the comparison in `out`; `log(text)` hears which run starts, `progress` every
    update."""
    log = log or (lambda text: None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    common = TrainConfig(base=base, batch=batch, eval_every=max(updates // 4, 1), checkpoint_s=60.0)
    pre = out / "pretrained"
    log(f"supervised pre-training, {pretrain_steps} steps")
    train(
        data_dir,
        pre,
        replace(common, method="supervised", steps=pretrain_steps, eval_every=500),
        progress=progress,
    )
    d = dataset.load(data_dir)
    runs = {}
    for method in methods:
        for budget in ("updates", "time"):
            cfg = replace(common, method=method, steps=updates if budget == "updates" else 10**9)
            if budget == "time":
                cfg = replace(cfg, max_seconds=seconds, eval_every=10**9)
            folder = out / f"{method}-{budget}"
            log(
                f"{method}: {updates} updates"
                if budget == "updates"
                else f"{method}: {seconds:g} s of training"
            )
            card = train(
                data_dir,
                folder,
                cfg,
                init=None if (folder / "train_state.pt").exists() else pre,
                progress=progress,
            )
            runs[(method, budget)] = (folder, card)
    rows = _test_rows(d, runs, gradient_shapes, log)
    pre_model, pre_card = load_model(pre)
    pm = metrics(pre_model, make_split(d, "test", pre_model), "cpu")
    cost = {m: measure_update(str(data_dir), m, base, batch) for m in methods}
    result = {
        "pretrained": {k: pm[k] for k in SUMMARY},
        "pretrain_steps": pretrain_steps,
        "updates": updates,
        "seconds": seconds,
        "base": base,
        "batch": batch,
        "rows": rows,
        "cost": cost,
        "dataset": d.manifest["settings_hash"],
    }
    atomic_write_text(out / "metrics.json", json.dumps(result, indent=1) + "\n")
    _plots(out, runs)
    _report(out, result)
    return result


def _test_rows(d: dataset.Data, runs: dict, gradient_shapes: int, log: Callable[[str], None]) -> list[dict]:
    """Each run's test metrics and the cosine of its shape gradient against the adjoint's on a few test
    shapes."""
    rows = []
    test_rows = dataset.indices(d, "test")
    pick = test_rows[np.linspace(0, len(test_rows) - 1, gradient_shapes).astype(int)]
    pts = [torch.as_tensor(d.arrays["points"][r]) for r in pick]
    res = [float(d.arrays["re"][r]) for r in pick]
    log(f"adjoint gradients of {gradient_shapes} test shapes, test metrics, cost per update")
    adj = [gradients.adjoint_gradient(p, r) for p, r in zip(pts, res, strict=True)]
    for (method, budget), (folder, card) in runs.items():
        model, _ = load_model(folder)
        m = metrics(model, make_split(d, "test", model), "cpu")
        cos = [
            gradients.cosine(gradients.surrogate_gradient(model, p, r), a)
            for p, r, a in zip(pts, res, adj, strict=True)
        ]
        rows.append(
            {
                "method": method,
                "budget": budget,
                "updates": card["step"],
                "train_s": card["wall_s"],
                **{k: m[k] for k in SUMMARY},
                "grad_cosine_median": float(np.median(cos)),
                "grad_cosines": cos,
            }
        )
    return rows


def _plots(out: Path, runs: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for budget, x_key, label, name in (
        ("updates", "step", "updates", "loss_vs_updates.png"),
        ("time", "wall_s", "training time (s)", "loss_vs_time.png"),
    ):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for (method, b), (folder, _) in runs.items():
            if b != budget:
                continue
            curve = _curve(folder)
            if method == "supervised":  # its loss is the field loss: plot the physics loss of the others only
                continue
            xs = [r[x_key] - curve[0][x_key] + (1 if x_key == "step" else 0) for r in curve]
            ax.plot(xs, [r["loss"] for r in curve], label=method)
        ax.set_xlabel(label)
        ax.set_ylabel("physics loss 1/2 |y/Cd* - y*/Cd*|^2 (training batches)")
        ax.set_yscale("log")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)


def _report(out: Path, r: dict) -> None:
    pct = lambda v: f"{100 * v:.2f}%"  # noqa: E731
    lines = [
        "# Method comparison",
        "",
        f"Dataset {r['dataset']}; U-Net base {r['base']}; batch {r['batch']}; supervised pre-training "
        f"{r['pretrain_steps']} steps, then each method for {r['updates']} updates and, separately, "
        f"{r['seconds']:g} s of training time. Test split of the dataset.",
        "",
        f"Pre-trained start: Cd error median {pct(r['pretrained']['cd_rel_err_median'])}, "
        f"p95 {pct(r['pretrained']['cd_rel_err_p95'])}, field error {pct(r['pretrained']['field_rel_err'])}.",
        "",
        (
            "| method | budget | updates | Cd err median | p95 | max | Cl err median | field err | "
            "grad cosine | s/update | update MB |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        c = r["cost"][row["method"]]
        lines.append(
            f"| {row['method']} | {row['budget']} | {row['updates']} | {pct(row['cd_rel_err_median'])} | "
            f"{pct(row['cd_rel_err_p95'])} | {pct(row['cd_rel_err_max'])} | {row['cl_abs_err_median']:.2e} | "
            f"{pct(row['field_rel_err'])} | {row['grad_cosine_median']:.3f} | {c['update_s']:.3f} | "
            f"{c['update_mb']:.0f} |"
        )
    best = {
        b: min((x for x in r["rows"] if x["budget"] == b), key=lambda x: x["cd_rel_err_median"])
        for b in ("updates", "time")
    }
    lines += [
        "",
        "![loss against updates](loss_vs_updates.png) ![loss against time](loss_vs_time.png)",
        "",
        "## Conclusion",
        "",
        f"At equal updates the lowest test Cd error (median) is {best['updates']['method']}'s "
        f"({pct(best['updates']['cd_rel_err_median'])}); at equal training time {best['time']['method']}'s "
        f"({pct(best['time']['cd_rel_err_median'])}), against {pct(r['pretrained']['cd_rel_err_median'])} "
        "for the pre-trained start. These numbers are for the budget above; "
        "see docs/method-comparison.md for what they mean.",
    ]
    atomic_write_text(out / "report.md", "\n".join(lines) + "\n")
