"""Data-parallel training (surrogate.distributed, `dragopt train --ddp N`): two processes joined by gloo on
the CPU train to the same weights as one process on the same batches (each takes half of every batch; DDP
averages the gradients, HIG gathers the per-sample Jacobians)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from app import cli
from surrogate.model_files import WEIGHTS

TEST = str(Path(__file__).resolve().parents[1] / "data" / "datasets" / "test")


def _initial(base: int) -> dict:
    """The network train() starts from (seeded with --seed 0), rebuilt here."""
    from surrogate.model import Config, Surrogate

    torch.manual_seed(0)
    return {k: v.float() for k, v in Surrogate(Config(base=base)).state_dict().items()}


@pytest.mark.parametrize("method", ["supervised", "dp", "hig"])
def test_two_processes_train_like_one(tmp_path, method):
    common = ["train", "--data", TEST, "--method", method, "--base", "8", "--batch", "8", "--steps", "3"]
    common += ["--eval-every", "100", "-q"]
    if method == "hig":
        common += ["--lr", "0.05"]
    assert cli.main([*common, "--out", str(tmp_path / "one")]) == 0
    assert cli.main([*common, "--out", str(tmp_path / "two"), "--ddp", "2"]) == 0
    a, b = load_file(str(tmp_path / "one" / WEIGHTS)), load_file(str(tmp_path / "two" / WEIGHTS))
    init = _initial(8)
    assert a.keys() == b.keys() and set(init) >= set(a)
    moved = torch.cat([(a[k] - init[k]).flatten() for k in a])
    apart = torch.cat([(a[k] - b[k]).flatten() for k in a])
    assert moved.norm() > 1e-3  # the runs trained: the comparison is not vacuous
    # Equal up to float32 summation order: Adam normalises each weight's step, so a weight whose gradient is
    # at rounding level can step differently; measured relative to how far training moved the weights.
    assert apart.norm() < 2e-3 * moved.norm(), (method, float(apart.norm()), float(moved.norm()))
    assert float((apart.abs() > 1e-6).float().mean()) < 0.05


def test_a_batch_that_does_not_split_is_refused(tmp_path, capsys):
    args = ["train", "--data", TEST, "--method", "supervised", "--base", "8", "--batch", "7", "--steps", "1"]
    rc = cli.main([*args, "--out", str(tmp_path / "x"), "--ddp", "2", "-q"])
    assert rc == 2
    assert "multiple of the 2 processes" in capsys.readouterr().err
