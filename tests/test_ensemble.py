"""Ensembles (surrogate.ensemble): members trained on bootstrap resamples, combined behind the interface of
one model; the mean and spread against the members' own predictions, the calibration's numbers against a
direct computation, and the commands on an ensemble."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from app import cli
from geometry import parse_shape
from optim.backends import SurrogateBackend
from surrogate import ensemble, model_files

TEST = str(Path(__file__).resolve().parents[1] / "data" / "datasets" / "test")


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    root = tmp_path_factory.mktemp("ens")
    out = []
    for k in range(2):
        m = root / f"m{k}"
        args = ["train", "--data", TEST, "--method", "supervised", "--base", "8", "--steps", "30"]
        args += ["--bootstrap", "--seed", str(k), "--eval-every", "1000", "-q", "--out", str(m)]
        assert cli.main(args) == 0
        out.append(m)
    return root, out


def test_bootstrap_members_differ_and_record_it(members):
    _, (a, b) = members
    ca, cb = (json.loads((m / "model.json").read_text()) for m in (a, b))
    assert ca["train"]["bootstrap"] and cb["train"]["seed"] == 1
    p = torch.as_tensor(parse_shape("ellipse:2").points)
    ya = SurrogateBackend.load(a)(p, 10.0)["cd"]
    yb = SurrogateBackend.load(b)(p, 10.0)["cd"]
    assert abs(float(ya - yb)) > 1e-6  # different seeds and resamples: different networks


def test_ensemble_is_the_mean_of_its_members_and_reports_their_spread(members, tmp_path, capsys):
    root, (a, b) = members
    out = tmp_path / "ens"
    assert cli.main(["ensemble", str(a), str(b), "--out", str(out), "--data", TEST, "-q"]) == 0
    assert model_files.is_ensemble(out)
    backend = SurrogateBackend.load(out)
    p = torch.as_tensor(parse_shape("ellipse:2").points)
    ya, yb = (SurrogateBackend.load(m)(p, 10.0)["cd"] for m in (a, b))
    y = backend(p, 10.0)["cd"]
    assert float(y) == pytest.approx(float(ya + yb) / 2, rel=1e-6)
    assert backend.spread(p, 10.0) == pytest.approx(abs(float(ya - yb)) / np.sqrt(2), rel=1e-5)  # std, ddof 1
    cal = json.loads((out / model_files.CARD).read_text())["calibration"]
    n = json.loads((Path(TEST) / "manifest.json").read_text())["counts"]["samples"]
    assert cal["n"] == n and cal["members"] == 2 and -1 <= cal["spearman_spread_error"] <= 1
    assert len(cal["member_cd_rel_err_median"]) == 2


def test_verify_on_an_ensemble_reports_the_spread(members, tmp_path):
    _, (a, b) = members
    out = tmp_path / "ens"
    ensemble.assemble([a, b], out)
    f = tmp_path / "v.json"
    args = ["verify", "--shape", "ellipse:2", "--re", "10", "--model", str(out), "--resolution", "8"]
    assert cli.main([*args, "--json", str(f)]) == 0
    v = json.loads(f.read_text())
    assert v["cd_pred_std"] is not None and v["cd_pred_std"] > 0
    assert "cd_spread" in v["ood"]


def test_an_ensemble_needs_two_members(members, tmp_path):
    _, (a, _) = members
    with pytest.raises(ValueError, match="at least 2 members"):
        ensemble.assemble([a], tmp_path / "one")


def test_float16_members_are_half_the_size_and_predict_as_the_float32_ones(members, tmp_path):
    _, (a, b) = members
    full, half = tmp_path / "full", tmp_path / "half"
    ensemble.assemble([a, b], full)
    assert cli.main(["ensemble", str(a), str(b), "--out", str(half), "--float16", "-q"]) == 0
    size = [(f / "member-0" / "model.safetensors").stat().st_size for f in (full, half)]
    assert 0.45 < size[1] / size[0] < 0.55
    assert json.loads((half / model_files.CARD).read_text())["weights"] == "float16"
    p = torch.as_tensor(parse_shape("ellipse:2").points)
    y32, y16 = (float(SurrogateBackend.load(f)(p, 10.0)["cd"]) for f in (full, half))
    assert y16 != y32 and y16 == pytest.approx(y32, rel=2e-3)  # rounding of the weights, nothing else


def test_evaluate_an_ensemble_is_its_members_mean_and_records_in_its_card(members, tmp_path, capsys):
    _, (a, b) = members
    out = tmp_path / "ens"
    ensemble.assemble([a, b], out)
    assert cli.main(["evaluate", "--model", str(out), "--data", TEST, "--record", "-q"]) == 0
    m = json.loads((out / model_files.CARD).read_text())["test_metrics"]
    cal = ensemble.calibration(model_files.load_ensemble(out)[0], TEST)  # from each member's own predictions
    assert m["n"] == cal["n"] == json.loads((Path(TEST) / "manifest.json").read_text())["counts"]["samples"]
    assert m["cd_rel_err_median"] == pytest.approx(cal["cd_rel_err_median"], rel=1e-6)
    assert m["cd_rel_err_max"] == pytest.approx(cal["cd_rel_err_max"], rel=1e-6)


def test_the_shipped_model_is_an_ensemble_with_portable_cards():
    from surrogate.model_files import ModelError, load_model
    from surrogate.paths import DEFAULT_MODEL

    assert model_files.is_ensemble(DEFAULT_MODEL) and (DEFAULT_MODEL / "model.json").is_file()
    with pytest.raises(ModelError, match="is an ensemble"):
        load_model(DEFAULT_MODEL)  # one network is asked for: the message names a member

    def strings(x):
        if isinstance(x, dict):
            return [s for v in x.values() for s in strings(v)]
        if isinstance(x, list):
            return [s for v in x for s in strings(v)]
        return [x] if isinstance(x, str) else []

    for card in DEFAULT_MODEL.rglob("*.json"):  # shared files: no machine's absolute path in them
        assert not [s for s in strings(json.loads(card.read_text())) if s.startswith("/")], card


def test_a_fine_tune_records_its_whole_lineage_portably(tmp_path):
    """A start model whose card predates portable cards held absolute paths in its lineage; a fine-tune of it
    must not pass them on (the shipped cards held /tmp and /work paths that way)."""
    from surrogate.model_files import lineage_of

    old = {
        "lineage": [{"model": "sup: dragopt train ..."}, {"model": str(tmp_path / "w" / "model-1")}],
        "train": {},
    }
    models = [e["model"] for e in lineage_of(old, tmp_path / "start")]
    assert models == ["sup: dragopt train ...", ".../model-1", ".../start"]


def test_the_members_in_one_pass_equal_the_members_one_by_one():
    """optim.backends evaluates an ensemble's members on one shared rasterisation (surrogate.members); each
    member run on its own (its own rasterisation, default memory order) gives the same Cd, Cl and
    gradients."""
    from surrogate import physics

    folder = Path(__file__).resolve().parents[1] / "data" / "models" / "default"
    backend = SurrogateBackend.load(folder)
    alone, _ = model_files.load(folder)
    p = torch.as_tensor(parse_shape("naca:2412").points)  # reaches beyond the window: shown shrunk
    for re in (2.0, 30.0):
        x = p.clone().requires_grad_(True)
        batched = backend.each(x, re)
        (g_batched,) = torch.autograd.grad(batched[:, 0].sum() + 0.3 * batched[:, 1].sum(), x)
        y = p.clone().requires_grad_(True)
        q, d, re_own = backend.normalise(y, re)
        s = backend.model.window.scale(q.detach().numpy())
        rows = []
        for m in alone:
            state = m((q / s).float()[None], (re_own * s).reshape(1).float()).double()
            rows.append(physics.drag_lift_on(state, (re_own * s).reshape(1), m.window)[0] * d * s)
        one_by_one = torch.stack(rows)
        (g_one,) = torch.autograd.grad(one_by_one[:, 0].sum() + 0.3 * one_by_one[:, 1].sum(), y)
        assert len(alone) == 5 and s > 1
        scale = float(one_by_one.abs().max())  # float32 networks: the same up to summation order
        torch.testing.assert_close(batched, one_by_one, rtol=1e-6, atol=1e-6 * scale)
        torch.testing.assert_close(g_batched, g_one, rtol=1e-5, atol=1e-6 * float(g_one.abs().max()))


def test_a_drag_curve_over_re_in_one_pass_equals_the_points_one_by_one():
    folder = Path(__file__).resolve().parents[1] / "data" / "models" / "default"
    backend = SurrogateBackend.load(folder)
    p = parse_shape("ellipse:2").points * 1.3  # not D = 1: Re and Cd are per this outline's units
    res = np.array([1.0, 3.0, 10.0, 30.0])
    curve = backend.drag_over_re(p, res)
    one = [float(backend(torch.as_tensor(p), float(r))["cd"]) for r in res]
    np.testing.assert_allclose(curve, one, rtol=2e-6)
    assert np.all(np.diff(curve) < 0)  # drag falls with Re over 1-30
