"""Fine-tuning a model, one network or each member of an ensemble, through a sequence of training stages.

Each stage is a training run of its own (its own folder, so a killed fine-tune resumes in the stage it was in
and skips the stages already complete); the last stage's folder is the member's result. An ensemble's members
are fine-tuned one after the other and assembled again into the output folder.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from surrogate import ensemble
from surrogate.model_files import is_ensemble, load_model, member_folders, saved_step
from surrogate.train import TrainConfig, train


@dataclass
class Stage:
    """One training run of a fine-tune: its name (the folder's suffix), its config and what the log calls
    it."""

    name: str
    cfg: TrainConfig
    what: str


def fine_tune(
    model_dir: Path,
    data_dir: Path,
    out: Path,
    stages: Callable[[int, dict], list[Stage]],
    log: Callable[[str], None] = lambda msg: None,
) -> Path:
    """Fine-tune every member of `model_dir` through its stages into `out` (resumable); returns `out`.

    Args:
        stages: (member number, the member's own training config as its card records it) -> its stages; a
            member's stages may depend on how it was trained (its seed, whether it was a bootstrap resample).
    """
    members = member_folders(model_dir)
    many = len(members) > 1
    outs = [out.parent / f"{out.name}-member-{k}" for k in range(len(members))] if many else [out]
    for k, (member, dest) in enumerate(zip(members, outs, strict=True)):
        own = load_model(member)[1].get("train", {})
        who = f"member {k} of {len(members)}" if many else "the model"
        plan = stages(k, own)
        init = member
        for i, stage in enumerate(plan):
            folder = dest if i == len(plan) - 1 else dest.parent / f"{dest.name}-{stage.name}"
            _run(init, folder, data_dir, stage, who, log)
            init = folder
    if many and not is_ensemble(out):
        ensemble.assemble(outs, out)
    return out


def _run(init: Path, out: Path, data_dir: Path, stage: Stage, who: str, log: Callable[[str], None]) -> None:
    """One stage, skipped when `out` already holds it complete."""
    if saved_step(out) >= stage.cfg.steps:
        return
    t0 = time.perf_counter()
    log(f"  fine-tuning {who}: {stage.what}")
    card = train(data_dir, out, replace(stage.cfg), init=init)
    v = card.get("val_metrics") or {}
    median = 100 * v.get("cd_rel_err_median", math.nan)
    log(f"    done in {time.perf_counter() - t0:.0f} s; validation Cd error median {median:.3f}%")
