"""`dragopt refine` (optim.refine): the designs it adds to the data are what the full simulation gives for
them, the errors it reports are the model's against those simulations, the refined model descends from the
start, the fine-tuning batches hold the asked share of refine samples, and a killed run continues without
redoing work."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from app import cli
from optim import refine as R
from surrogate.datasets import data as dataset
from surrogate.datasets import store
from surrogate.model_files import load_model
from surrogate.train import TrainConfig, batch_positions
from tests.helpers import error_line

TEST = (
    Path(__file__).resolve().parents[1] / "data" / "datasets" / "test"
)  # committed (data/datasets/mini is not)
PLAN = dict(starts=["circle"], re=[20.0], rounds=1, trajectory=1, opt_steps=4, steps=3, polish=2, settle=2)


@pytest.fixture(scope="module")
def start(tmp_path_factory):
    """A tiny model on a copy of the test set's first shard, 256 samples (refine writes into its dataset); the
    other shard is the held-out set refine measures on."""
    root = tmp_path_factory.mktemp("refine")
    data, held = root / "data", root / "held"
    for folder, keep in ((data, "shard-00000.npz"), (held, "shard-00001.npz")):
        folder.mkdir()
        m = store.read_manifest(TEST)
        m["shards"] = {keep: m["shards"][keep]}
        shutil.copyfile(TEST / keep, folder / keep)
        store.write_manifest(folder, m)
    model = root / "model"
    args = ["train", "--data", str(data), "--method", "supervised", "--base", "8", "--steps", "20"]
    assert cli.main([*args, "--eval-every", "1000", "-q", "--out", str(model)]) == 0
    return root, data, model, held


@pytest.fixture(scope="module")
def run(start):
    """One refine run, first stopped by a kill during its fine-tuning, then continued by the same call."""
    root, data, model, held = start
    out, logs = root / "refined", []
    real = R.fine_tune

    def killed(*a, **k):
        raise KeyboardInterrupt

    R.fine_tune = killed
    try:
        with pytest.raises(KeyboardInterrupt):
            R.refine(model, data, out, held, R.Plan(**PLAN), workers=1, log=logs.append)
    finally:
        R.fine_tune = real
    first = list(logs)
    logs.clear()
    report = R.refine(model, data, out, held, R.Plan(**PLAN), workers=1, log=logs.append)
    return root, data, model, out, report, first, list(logs), held


def test_the_added_samples_are_the_full_simulation_of_the_designs(run):
    _, data, _, _, report, *_ = run
    from geometry.shape import Shape
    from sim.solver import simulate

    m = store.read_manifest(data)
    added = sorted(n for n in m["shards"] if n.startswith(f"shard-{R.FAMILY}-"))
    assert len(added) == 2  # round 0 (start model) and the final pass
    d = dataset.load(data)  # every checksum holds
    new = np.flatnonzero(d.arrays["family"] == R.FAMILY)
    assert len(new) == sum(r["samples_added"] for r in report["rounds"]) >= 2
    assert len(d) == 256 + len(new) and m["counts"]["samples"] == len(d)
    assert len(set(d.arrays["index"].tolist())) == len(d)  # sample numbers stay unique
    assert d.arrays["index"][new].min() >= R.FIRST_INDEX  # clear of the numbers `generate --n` may add
    i = new[0]
    pts, re = d.arrays["points"][i], float(d.arrays["re"][i])
    assert pts.shape == (256, 2) and np.allclose(pts.mean(0), 0, atol=0.02)
    sim = simulate(Shape.from_points(pts), re)
    assert float(d.arrays["cd"][i]) == pytest.approx(sim.cd, rel=1e-9)
    w = m["settings"]["window"]
    assert d.arrays["fields"][i].shape == (3, w["cells"], w["cells"])


def test_the_reported_errors_are_the_models_against_the_simulation(run):
    from optim.backends import SurrogateBackend

    _, data, model, out, report, *_ = run
    d = dataset.load(data)
    before = SurrogateBackend.load(model)
    errs = report["rounds"][0]["errors"]
    assert {e["what"] for e in errs} <= {"final", "along-0"} and any(e["what"] == "final" for e in errs)
    for e in errs:
        want = {k: e[k] for k in ("round", "problem", "start", "re_start", "what")}
        row = next(
            i
            for i in range(len(d))
            if d.arrays["family"][i] == R.FAMILY and json.loads(str(d.arrays["params"][i])) == want
        )
        with torch.no_grad():
            pred = float(before(torch.as_tensor(d.arrays["points"][row]), float(d.arrays["re"][row]))["cd"])
        assert e["cd_pred"] == pytest.approx(pred, rel=1e-6)
        assert e["err"] == pytest.approx(pred / float(d.arrays["cd"][row]) - 1, rel=1e-6)
    fin = [abs(e["err"]) for e in errs if e["what"] == "final"]
    assert report["before"]["designs"]["final"]["median"] == pytest.approx(float(np.median(fin)))


def test_the_refined_model_descends_from_the_start_and_is_installed_last(run):
    _, _, model, out, report, *_ = run
    refined, card = load_model(out)
    start, _ = load_model(model)
    # the focused fine-tune, then the polish and (after the last round) the settling on uniform batches
    assert card["step"] == PLAN["settle"] and card["train"]["focus"] is None
    assert card["train"]["lr"] == R.Plan().settle_lr
    focused, polished = out / "refine" / "model-1-focus", out / "refine" / "model-1-polish"
    assert load_model(polished)[1]["step"] == PLAN["polish"]
    # the cards record the folders without this machine's paths (tmp folders are outside the repository)
    assert [x["model"] for x in card["lineage"][-3:]] == [
        ".../model",
        f".../{focused.name}",
        f".../{polished.name}",
    ]
    assert card["dataset"]["folder"] == ".../data" and report["start_model"] == ".../model"
    assert load_model(focused)[1]["step"] == PLAN["steps"]
    moved = sum(
        float((a - b).detach().abs().sum())
        for a, b in zip(refined.parameters(), start.parameters(), strict=True)
    )
    assert moved > 0
    saved = json.loads((out / R.REPORT).read_text())
    assert saved["after"]["test"]["n"] == saved["before"]["test"]["n"] > 0
    assert report["rounds"][1]["model"] == ".../model-1"


def test_a_killed_run_continues_without_redoing_its_work(run):
    _, _, _, _, _, first, second, _ = run
    assert any("simulating" in line for line in first)
    # continued: round 0's designs and simulations are read back; only the final pass optimises and simulates
    assert sum("simulating" in line for line in second) == 1
    assert sum("circle at Re 20" in line for line in second) == 1


def test_another_plan_in_the_same_folder_is_refused(run):
    _, data, model, out, _, _, _, held = run
    with pytest.raises(ValueError, match="another plan"):
        R.refine(model, data, out, held, R.Plan(**{**PLAN, "steps": 4}), workers=1)


def test_focus_batches_hold_the_share_and_plain_batches_are_unchanged():
    cfg = TrainConfig(batch=32)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(batch_positions(1000, None, cfg, g1), torch.randint(1000, (32,), generator=g2))
    focus = torch.arange(990, 1000)
    cfg = TrainConfig(batch=32, focus=R.FAMILY, focus_share=0.25)
    idx = batch_positions(1000, focus, cfg, torch.Generator().manual_seed(0))
    assert len(idx) == 32 and set(idx[-8:].tolist()) <= set(range(990, 1000))


def test_bad_arguments_are_named(start, tmp_path, capsys):
    root, data, model, _ = start
    assert (
        cli.main(
            ["refine", "--model", str(model), "--data", str(tmp_path / "none"), "--out", str(tmp_path / "o")]
        )
        == 2
    )
    line = error_line(capsys)
    assert "--data" in line and "not a folder" in line
    assert cli.main(["refine", "--model", str(model), "--data", str(data), "--out", str(model)]) == 2
    assert "new folder" in error_line(capsys)
    base = ["refine", "--model", str(model), "--data", str(data), "--out", str(tmp_path / "o")]
    assert cli.main([*base, "--starts", "circle,blob"]) == 2
    assert "blob" in error_line(capsys)
    # a start the surrogate cannot take is named before any work (a NACA 0003 reaches 3.6 D from its centroid,
    # beyond the 3 D a slender body may reach shrunk onto the window)
    assert cli.main([*base, "--starts", "naca:0003"]) == 2
    line = error_line(capsys)
    assert "naca:0003" in line and "window" in line
    assert not (tmp_path / "o").exists()


def test_train_focus_on_a_family_the_data_lacks_is_named(start, tmp_path, capsys):
    _, data, _, _ = start
    argv = [
        "train",
        "--data",
        str(data),
        "--method",
        "dp",
        "--steps",
        "1",
        "--base",
        "8",
        "--out",
        str(tmp_path / "m"),
        "-q",
    ]
    assert cli.main([*argv, "--focus", "blob"]) == 2
    assert "no samples of family 'blob'" in error_line(capsys)
    assert cli.main([*argv, "--focus", "ellipse", "--focus-share", "1.5"]) == 2
    assert "between 0 and 1" in error_line(capsys)
