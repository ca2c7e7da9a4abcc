"""`dragopt compare-methods`: a fair comparison of the four training methods on one learning problem.

The protocol (`Protocol`): one network size and split for all; two starts, a rough network (a few hundred
supervised steps from scratch) and, when given, a converged one; for each start, method and budget (the same
number of updates; separately, the same CPU time of the training process) a learning-rate sweep at that very
budget on the validation split, widened until its best rate lies strictly inside the swept range; then each
method from each start over several seeds for each budget at its rate (a sweep's run is its seed 0); HIG
also from scratch, and its truncation tau and batch size swept. Every run is a model folder under the report
folder, and every sweep result is kept, so a killed comparison continues where it stopped. The test split's
metrics of every run, the cost of an update per method, and the report (surrogate.compare_report) come last.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from geometry.io import atomic_write_text
from surrogate import compare_report, gradients
from surrogate.datasets import data as dataset
from surrogate.evaluation import metrics
from surrogate.model import Surrogate
from surrogate.model_files import METRICS, load_model, saved_step
from surrogate.paths import ROOT
from surrogate.splits import make_split
from surrogate.train import METHODS, TrainConfig, TrainingError, train

SUMMARY = (
    "cd_rel_err_median",
    "cd_rel_err_p95",
    "cd_rel_err_max",
    "cl_err_rel_cd_median",
    "cd_pressure_err_rel_cd_median",
    "cp_rms_err_median",
    "field_rel_err",
)
RATES = {
    "supervised": [3e-4, 1e-3, 3e-3],
    "dp": [1e-5, 3e-5, 1e-4],
    "sip": [1e-5, 3e-5, 1e-4],
    "hig": [0.1, 0.3, 1.0],
}
Log = Callable[[str], None]
DIVERGED = "diverged.json"  # marks a run whose loss diverged


@dataclass
class Protocol:
    """What a comparison runs; the defaults are sized for the 2-core machine (docs/method-comparison.md)."""

    base: int = 16
    batch: int = 32
    outputs: str = "all"
    pretrain_steps: int = 300  # the rough start: supervised steps from scratch
    converged: str | None = None  # a converged model folder of the same size: the second start
    methods: tuple[str, ...] = METHODS
    seeds: int = 3
    updates: int = 300  # the equal-updates budget
    cpu_seconds: float = 600.0  # the equal-CPU-time budget (the training process's CPU time)
    rates: dict[str, list[float]] = field(default_factory=lambda: {k: list(v) for k, v in RATES.items()})
    hig_taus: tuple[float, ...] = (1e-8, 1e-6, 1e-4)
    hig_batches: tuple[int, ...] = (8, 16, 32)
    eval_every: int = 50
    gradient_shapes: int = 5

    def config(self, method: str, **kw: object) -> TrainConfig:
        cfg = TrainConfig(method=method, base=self.base, batch=self.batch, outputs=self.outputs, clock="cpu")
        settings: dict = {"eval_every": self.eval_every, "checkpoint_s": 60.0, **kw}
        return replace(cfg, **settings)


def compare(data_dir: str | Path, out: str | Path, protocol: Protocol, log: Log | None = None) -> dict:
    """Run (or continue) the protocol in `out`; write metrics.json, report.md and plots; return the
    metrics."""
    say = log or (lambda text: None)
    out, p = Path(out), protocol
    out.mkdir(parents=True, exist_ok=True)
    _keep_protocol(out, p)
    rough = p.config("supervised", steps=p.pretrain_steps)
    starts = {"rough": _run(data_dir, out / "start-rough", rough, None, say)}
    if p.converged:
        starts["converged"] = Path(p.converged)
    runs: list[dict] = []
    rates: dict[tuple[str, str, str], float] = {}
    for start, folder in starts.items():
        for method in p.methods:
            for budget in ("updates", "cpu"):
                lr = rates[start, method, budget] = sweep(
                    data_dir, out, start, budget, method, folder, p, say
                )
                for seed in range(p.seeds):
                    runs.append(_main_run(data_dir, out, start, folder, method, lr, seed, budget, p, say))
    if "hig" in p.methods:  # HIG from scratch, and (from the rough start, at its rate) its tau and batch size
        lr = sweep(data_dir, out, "scratch", "updates", "hig", None, p, say)
        for seed in range(p.seeds):
            runs.append(_main_run(data_dir, out, "scratch", None, "hig", lr, seed, "updates", p, say))
        lr = rates["rough", "hig", "updates"]
        main = p.config("hig", steps=p.updates, lr=lr)
        for tau in p.hig_taus:
            for batch in p.hig_batches:
                if (tau, batch) == (main.hig_tau, main.batch):  # the main runs' own setting: their seed 0
                    row = _main_run(data_dir, out, "rough", starts["rough"], "hig", lr, 0, "updates", p, say)
                else:
                    cfg = replace(main, hig_tau=tau, batch=batch)
                    folder, diverged = _try(
                        data_dir,
                        out / "hig-sweep" / f"hig-tau{tau:g}-batch{batch}",
                        cfg,
                        starts["rough"],
                        say,
                    )
                    row = {"start": "rough", "method": "hig", "seed": 0, "budget": "updates", "lr": lr}
                    row.update(folder=str(folder.relative_to(out)), diverged=diverged)
                runs.append({**row, "tau": tau, "batch": batch})
    say("test metrics, gradient cosines and the cost of an update")
    d = dataset.load(data_dir)
    result = {"protocol": asdict(p), "runs": _measure(d, out, runs, p), "cost": _costs(d, p)}
    result["start_metrics"] = {k: _test_metrics(d, load_model(f)[0]) for k, f in starts.items()}
    atomic_write_text(out / "metrics.json", json.dumps(result, indent=1, default=float) + "\n")
    compare_report.write(out, result)
    return result


def sweep(
    data_dir: str | Path,
    out: Path,
    start: str,
    budget: str,
    method: str,
    init: Path | None,
    p: Protocol,
    say: Log,
) -> float:
    """The method's learning rate for a start and budget: the best validation Cd error (median) at the end of
    that very budget (a rate whose loss diverges counts as infinitely bad), the range widened by a factor 3 at
    the edge where the best lies until the best is strictly inside (at most 5 times; `inside` in the kept
    result out/sweeps/START/BUDGET/METHOD.json says whether it is). Each swept rate is its seed-0 run, so the
    main runs reuse the best one."""
    rates = sorted(p.rates[method])
    errors: dict[float, float] = {}
    for _ in range(6):
        for lr in rates:
            if lr not in errors:
                row = _main_run(data_dir, out, start, init, method, lr, 0, budget, p, say)
                errors[lr] = float("inf") if row["diverged"] else _validation(out / row["folder"])
        ordered = sorted(errors)
        best = min(ordered, key=lambda r: errors[r])  # ties (diverged rates): the smallest
        low, high = errors[ordered[0]], errors[ordered[-1]]
        inside = ordered[0] < best < ordered[-1] and errors[best] < min(low, high)
        if inside:
            break
        up = best == ordered[-1] or errors[ordered[-1]] <= errors[best] < errors[ordered[0]]
        rates = [ordered[-1] * 3 if up else ordered[0] / 3]
    kept = {"errors": errors, "best": best, "inside": inside}
    atomic_write_text(out / "sweeps" / start / budget / f"{method}.json", json.dumps(kept, indent=1) + "\n")
    return best


def _main_run(
    data_dir: str | Path,
    out: Path,
    start: str,
    init: Path | None,
    method: str,
    lr: float,
    seed: int,
    budget: str,
    p: Protocol,
    say: Log,
) -> dict:
    """One run of `method` from `start` at rate `lr` for the budget; its row (folder relative to `out`)."""
    if budget == "updates":
        cfg = p.config(method, steps=p.updates, lr=lr, seed=seed)
    else:
        cfg = p.config(method, steps=10**9, lr=lr, seed=seed, max_seconds=p.cpu_seconds)
    name = f"{method}-lr{lr:g}-seed{seed}-{budget}"
    done, diverged = _try(data_dir, out / "runs" / start / name, cfg, init, say)
    row = {"start": start, "method": method, "seed": seed, "budget": budget, "lr": lr}
    return {**row, "folder": str(done.relative_to(out)), "diverged": diverged}


def _try(
    data_dir: str | Path, folder: Path, cfg: TrainConfig, init: Path | None, say: Log
) -> tuple[Path, bool]:
    """A main run; (its folder, whether its loss diverged). A diverged run is marked (diverged.json) and not
    tried again: the comparison counts it as the worst result."""
    if (folder / DIVERGED).is_file():
        return folder, True
    try:
        return _run(data_dir, folder, cfg, init, say), False
    except TrainingError as exc:
        atomic_write_text(folder / DIVERGED, json.dumps({"error": str(exc)}) + "\n")
        say(f"    diverged: {exc}")
        return folder, True


def _run(data_dir: str | Path, folder: Path, cfg: TrainConfig, init: Path | None, say: Log) -> Path:
    """One training, resumed from its own checkpoint when there is one; a complete one returns at once (its
    steps or its CPU time are spent)."""
    if not _complete(folder, cfg):
        say(f"  {folder.parent.name}/{folder.name}: {cfg.method}, lr {cfg.learning_rate():g}")
        train(data_dir, folder, cfg, init=init)
    return folder


def _complete(folder: Path, cfg: TrainConfig) -> bool:
    """Whether the run in `folder` has spent its steps, or its CPU time."""
    if saved_step(folder) >= cfg.steps:
        return True
    spent = json.loads((folder / "model.json").read_text()).get("wall_s", 0) if saved_step(folder) else 0
    return bool(cfg.max_seconds and spent >= cfg.max_seconds)


def _validation(folder: Path) -> float:
    card = json.loads((folder / "model.json").read_text())
    error = float((card.get("val_metrics") or {}).get("cd_rel_err_median", np.inf))
    return error if np.isfinite(error) else float("inf")  # NaN (a diverged network) counts as the worst


def _test_metrics(d: dataset.Data, model: Surrogate) -> dict:
    m = metrics(model, make_split(d, "test", model, readouts=True), "cpu")
    return {k: m[k] for k in SUMMARY}


def _measure(d: dataset.Data, out: Path, runs: list[dict], p: Protocol) -> list[dict]:
    """Each run's test metrics, CPU time, validation curve and gradient cosine on a few test shapes."""
    rows = dataset.indices(d, "test")
    pick = rows[np.linspace(0, len(rows) - 1, p.gradient_shapes).astype(int)]
    a = d.arrays  # in window units: back to the body's D for the adjoint
    pts = [torch.as_tensor(a["points"][r] * a["scale"][r]) for r in pick]
    res = [float(a["re"][r] / a["scale"][r]) for r in pick]
    adjoint = [gradients.adjoint_gradient(q, r) for q, r in zip(pts, res, strict=True)]
    for run in runs:
        folder = out / run["folder"]
        log = [json.loads(line) for line in (folder / METRICS).read_text().splitlines() if line.strip()]
        by_step = {r["step"]: r for r in log if "val" in r}  # a resumed run logs its last steps twice
        run["curve"] = [(r["wall_s"], r["val"]["cd_rel_err_median"]) for _, r in sorted(by_step.items())]
        if run["diverged"]:
            run.update({k: float("inf") for k in SUMMARY}, updates=None, cpu_s=None, grad_cosine_median=None)
            continue
        model, card = load_model(folder)
        cos = [
            gradients.cosine(gradients.surrogate_gradient(model, q, r), a)
            for q, r, a in zip(pts, res, adjoint, strict=True)
        ]
        run.update(_test_metrics(d, model), updates=card["step"], cpu_s=card["wall_s"])
        run["grad_cosine_median"] = float(np.median(cos))
    return runs


def _costs(d: dataset.Data, p: Protocol) -> dict[str, dict]:
    """Seconds and MB of one update per method, each in a fresh process (surrogate.compare_worker); a method
    whose update fails there (e.g. out of memory) is recorded with its error."""
    shard = sorted(Path(d.folder).glob("shard-*.npz"))[0]
    window = json.dumps(d.manifest["settings"]["window"])
    out: dict[str, dict] = {}
    for method in p.methods:
        args = ["--shard", str(shard), "--method", method, "--base", str(p.base), "--batch", str(p.batch)]
        cmd = [
            sys.executable,
            "-m",
            "surrogate.compare_worker",
            *args,
            "--outputs",
            p.outputs,
            "--window",
            window,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if done.returncode:
            out[method] = {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
        else:
            out[method] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def _keep_protocol(out: Path, p: Protocol) -> None:
    """The protocol in out/protocol.json; a rerun must bring the same one."""
    path, mine = out / "protocol.json", json.loads(json.dumps(asdict(p), default=list))
    if path.is_file() and json.loads(path.read_text()) != mine:
        raise ValueError(f"{out} holds a comparison with another protocol ({path}); give another --out")
    atomic_write_text(path, json.dumps(mine, indent=1) + "\n")
