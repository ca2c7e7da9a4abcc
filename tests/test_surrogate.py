"""The surrogate network, its checkpoints and the training loop, on the committed test set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from app import cli
from surrogate import physics
from surrogate.model import Config, Surrogate
from surrogate.model_files import ModelError, load_model, save_model
from surrogate.train import TrainConfig, TrainingError, train

ROOT = Path(__file__).resolve().parents[1]
TEST_SET = ROOT / "data" / "datasets" / "test"
TINY = dict(base=4, depth=2, batch=4, eval_every=2, checkpoint_s=0.0)


@pytest.fixture(scope="module")
def shapes():
    from surrogate.datasets import data

    d = data.load(TEST_SET)
    return torch.as_tensor(d.arrays["points"][:3]), torch.as_tensor(d.arrays["re"][:3], dtype=torch.float32)


def test_forward_is_a_state_at_rest_inside_the_body(shapes):
    pts, re = shapes
    model = Surrogate(Config(base=4, depth=2))
    x = model(pts.float(), re)
    assert x.shape == (3, 3, 64, 64)
    inp = model.inputs(pts.float(), re)
    inside = inp[:, 1] == 1.0
    assert inside.any() and torch.all(x[:, 0][inside] == 0) and torch.all(x[:, 1][inside] == 0)
    z = model.encode(x, re)  # encode inverts decode outside the body
    torch.testing.assert_close(model.decode(z, inp, re)[:, 2], x[:, 2])


def test_surrogate_drag_is_differentiable_in_the_shape_points(shapes):
    """d Cd / d points through the rasterised input, the network and P, against central differences."""
    pts, re = shapes
    torch.manual_seed(0)
    model = Surrogate(Config(base=4, depth=2)).double()
    p0 = pts[0].double()
    direction = torch.randn_like(p0) * 1e-2

    def cd(p):
        return physics.drag_lift(model(p[None], re[:1].double()), re[:1].double())[0, 0]

    p = p0.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(cd(p), p)
    h = 1e-5
    fd = (cd(p0 + h * direction) - cd(p0 - h * direction)) / (2 * h)
    assert torch.sum(g * direction).item() == pytest.approx(fd.item(), rel=1e-4, abs=1e-9)
    assert torch.sum(g * direction).abs().item() > 0


def test_checkpoint_round_trip_and_bad_files(tmp_path, shapes):
    pts, re = shapes
    model = Surrogate(Config(base=4, depth=2))
    save_model(
        tmp_path / "m", model, {"format": 1, "architecture": model.config.to_dict(), "train": {"method": "x"}}
    )
    loaded, card = load_model(tmp_path / "m")
    torch.testing.assert_close(loaded(pts.float(), re), model.eval()(pts.float(), re))
    weights = tmp_path / "m" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])  # truncated
    with pytest.raises(ModelError, match="corrupt"):
        load_model(tmp_path / "m")
    (tmp_path / "m" / "model.json").write_text("{")
    with pytest.raises(ModelError, match="not a valid model card"):
        load_model(tmp_path / "m")
    with pytest.raises(ModelError, match="not a model folder"):
        load_model(tmp_path)


@pytest.mark.parametrize("extra", [{}, {"method": "dp", "field_weight": 1.0}], ids=["supervised", "dp+field"])
def test_a_killed_training_resumes_to_the_same_weights(tmp_path, extra):
    """Both optimisers' states are in the checkpoint (dp's and its field term's own Adam)."""
    tiny = {**TINY, **extra}
    straight = train(TEST_SET, tmp_path / "a", TrainConfig(steps=4, **tiny))

    def kill_at_two(rec):
        if rec["step"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(TEST_SET, tmp_path / "b", TrainConfig(steps=4, **tiny), progress=kill_at_two)
    assert json.loads((tmp_path / "b" / "model.json").read_text())["step"] == 2
    resumed = train(TEST_SET, tmp_path / "b", TrainConfig(steps=4, **tiny))
    assert straight["step"] == resumed["step"] == 4
    done = train(TEST_SET, tmp_path / "b", TrainConfig(steps=4, **tiny))  # nothing left to do: the saved card
    assert done["step"] == 4 and done["val_metrics"] == resumed["val_metrics"]
    a, _ = load_model(tmp_path / "a")
    b, _ = load_model(tmp_path / "b")
    for (k, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        torch.testing.assert_close(va, vb, msg=k)


def test_an_exploding_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    train(TEST_SET, tmp_path / "m", TrainConfig(steps=2, **TINY))
    before = (tmp_path / "m" / "model.safetensors").read_bytes()
    with pytest.raises(
        TrainingError, match="last good checkpoint \\(step 2\\) is kept"
    ):  # resumed, then blown up
        train(TEST_SET, tmp_path / "m", TrainConfig(steps=60, lr=1e6, **{**TINY, "checkpoint_s": 1e9}))
    assert (tmp_path / "m" / "model.safetensors").read_bytes() == before
    with pytest.raises(TrainingError, match="no checkpoint was written yet"):
        train(
            TEST_SET,
            tmp_path / "m2",
            TrainConfig(steps=60, lr=1e6, **{**TINY, "checkpoint_s": 1e9}),
            init=tmp_path / "m",
        )
    assert (tmp_path / "m" / "model.safetensors").read_bytes() == before


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--method", "adamw"], "unknown --method 'adamw'"),
        (["--method", "dp", "--steps", "0"], "--steps must be a positive whole number"),
    ],
)
def test_train_bad_arguments(tmp_path, capsys, args, fragment):
    assert cli.main(["train", "--data", str(TEST_SET), "--out", str(tmp_path / "m"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dragopt: error:") and fragment in err
    assert not (tmp_path / "m").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_a_gpu_is_a_clear_error(tmp_path, capsys):
    assert (
        cli.main(
            [
                "train",
                "--data",
                str(TEST_SET),
                "--method",
                "supervised",
                "--out",
                str(tmp_path / "m"),
                "--device",
                "cuda",
            ]
        )
        == 2
    )
    assert "no CUDA GPU" in capsys.readouterr().err


def test_evaluate_refuses_a_model_for_another_window(tmp_path, capsys):
    from surrogate.window import Window

    model = Surrogate(Config(base=4, depth=2, window=Window(cells=32).to_dict()))
    save_model(
        tmp_path / "m", model, {"format": 1, "architecture": model.config.to_dict(), "train": {"method": "x"}}
    )
    assert cli.main(["evaluate", "--model", str(tmp_path / "m"), "--data", str(TEST_SET)]) == 2
    assert "windows differ" in capsys.readouterr().err


def test_evaluate_reports_every_family_re_bands_of_the_bodys_own_re_and_gradient_cosines(tmp_path, capsys):
    from surrogate.datasets import data as dataset
    from surrogate.evaluation import evaluate
    from surrogate.start import new_model

    d = dataset.load(TEST_SET)
    model = new_model(d, TrainConfig(base=4, depth=2))
    save_model(
        tmp_path / "m", model, {"format": 1, "architecture": model.config.to_dict(), "train": {"method": "x"}}
    )
    m = evaluate(tmp_path / "m", TEST_SET, gradient_samples=12)
    assert set(m["groups"]) == set(d.arrays["family"][d.ok])
    assert sum(g["n"] for g in m["groups"].values()) == m["n"] == sum(b["n"] for b in m["bands"].values())
    own_re = d.arrays["re"][d.ok] / d.arrays["scale"][d.ok]  # the bands count each body's own Re
    assert m["bands"]["0-3"]["n"] == int((own_re < 3).sum())
    assert m["gradient_cosine_n"] == 12 and -1 <= m["gradient_cosine_p10"] <= m["gradient_cosine_median"] <= 1
    assert (
        cli.main(
            ["evaluate", "--model", str(tmp_path / "m"), "--data", str(TEST_SET), "--gradient-samples", "4"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "family airfoil" in out and "shape gradient" in out


@pytest.mark.parametrize("outputs", ["drag", "all"])
@pytest.mark.parametrize("method,lr", [("dp", 1e-2), ("sip", 1e-2), ("hig", 0.3)])
def test_each_physics_method_fits_one_batchs_outputs(method, lr, outputs):
    """Repeated dp, sip and hig updates on one batch lower its physics loss: over (Cd, Cl), or over every
    output of P (Cd, Cl, the pressure part, Cp at the 64 stations)."""
    from surrogate import methods
    from surrogate.datasets import data
    from surrogate.splits import make_split
    from surrogate.start import with_window_cp
    from surrogate.train import physics_outputs, update

    torch.manual_seed(0)
    model = Surrogate(Config(base=4, depth=2))
    d = data.load(TEST_SET)
    split = make_split(d, "test", model, readouts=outputs == "all")
    if outputs == "all":  # Cp targets as training takes them (P's reading of the stored states)
        split = with_window_cp(split, model)
    batch = split.batch(slice(0, 4), "cpu")
    cfg = TrainConfig(method=method, base=4, depth=2, outputs=outputs)
    opt = torch.optim.Adam(model.net.parameters(), lr=lr)

    def loss() -> float:
        with torch.no_grad():
            x = model.forward_inputs(batch.inputs, batch.re)
            return float(methods.physics_loss(*physics_outputs(model, x, batch, outputs)))

    before, after = loss(), []
    for _ in range(15):
        update(method, model, opt, cfg, batch, lr)
        after.append(loss())
    assert min(after) < 0.5 * before  # reached (SIP's loss on every output oscillates on its way down)


def test_adjoint_gradient_in_shape_modes_matches_finite_differences():
    """The smooth-mode gradient the comparison uses, against central differences of the full simulation."""
    from geometry import parse_shape
    from geometry.shape import Shape
    from sim.solver import simulate
    from surrogate import gradients

    p0 = torch.as_tensor(parse_shape("ellipse:1.5").points)
    g = gradients.adjoint_gradient(p0, 10.0, k=2, resolution=8)
    n, basis = gradients.normal_modes(p0, 2)
    h = 1e-5
    for j in (0, 1):  # cos and sin of one period
        a = torch.zeros(4, dtype=torch.float64)
        a[j] = h
        plus, minus = (Shape(points=(p0 + s * n * (basis @ a)[:, None]).numpy()) for s in (1, -1))
        fd = (simulate(plus, 10.0, 8).cd - simulate(minus, 10.0, 8).cd) / (2 * h)
        assert g[j] == pytest.approx(fd, rel=2e-3, abs=1e-6)


@pytest.mark.slow
def test_compare_methods_runs_the_protocol_and_resumes(tmp_path):
    """A tiny protocol: rates swept (the best strictly inside the swept range), every method over two seeds
    and both budgets, HIG from scratch and its sweep, the report with its seed spreads; a rerun trains
    nothing."""
    from surrogate.compare import Protocol, compare

    protocol = Protocol(
        base=4,
        batch=4,
        pretrain_steps=2,
        methods=("dp", "hig"),
        seeds=2,
        updates=2,
        cpu_seconds=0.3,
        rates={"dp": [1e-4, 1e-3, 1e-2], "hig": [0.03, 0.3, 3.0]},
        hig_taus=(1e-6,),
        hig_batches=(4,),
        eval_every=2,
        gradient_shapes=2,
    )
    r = compare(TEST_SET, tmp_path / "cmp", protocol)
    main = [row for row in r["runs"] if "tau" not in row]
    assert {(row["start"], row["method"], row["budget"]) for row in main} == {
        ("rough", m, b) for m in ("dp", "hig") for b in ("updates", "cpu")
    } | {("scratch", "hig", "updates")}
    for method in ("dp", "hig"):
        swept = json.loads((tmp_path / "cmp" / "sweeps" / "rough" / "updates" / f"{method}.json").read_text())
        rates = sorted(float(k) for k in swept["errors"])
        assert rates[0] < swept["best"] < rates[-1]
    assert all(row["updates"] == 2 for row in main if row["budget"] == "updates")
    report = (tmp_path / "cmp" / "report.md").read_text()
    assert "±" in report and "## Conclusion" in report and ("tie" in report or "ahead" in report)
    assert (
        "| rough | (the start) |" in report and "| rough | updates | dp | 0.0001: " in report
    )  # start and sweep
    assert (tmp_path / "cmp" / "val_vs_cpu.png").read_bytes()[:4] == b"\x89PNG"
    assert all(-1 <= row["grad_cosine_median"] <= 1 for row in r["runs"])
    logs: list[str] = []
    again = compare(TEST_SET, tmp_path / "cmp", protocol, log=logs.append)
    assert not [line for line in logs if "lr " in line]  # nothing trained again
    assert [row["cd_rel_err_median"] for row in again["runs"]] == [
        row["cd_rel_err_median"] for row in r["runs"]
    ]


def test_the_rate_sweep_widens_until_its_best_rate_is_inside(tmp_path):
    """Two rates too large for dp: the best is at the lower edge, so the range grows by factors of 3 until
    the best has a worse rate on either side."""
    from surrogate.compare import Protocol, sweep

    protocol = Protocol(base=4, batch=4, updates=3, rates={"dp": [0.3, 1.0]}, eval_every=3)
    best = sweep(TEST_SET, tmp_path, "rough", "updates", "dp", None, protocol, lambda text: None)
    kept = json.loads((tmp_path / "sweeps" / "rough" / "updates" / "dp.json").read_text())
    errors = {float(k): v for k, v in kept["errors"].items()}
    assert len(errors) > 2 and min(errors) < best < max(errors)
    assert kept["inside"]
    assert errors[best] == min(errors.values()) and errors[best] < 1.0


def test_the_reports_conclusion_calls_a_lead_within_the_seeds_spread_a_tie():
    from surrogate.compare_report import conclusion

    def runs(method: str, errors: list[float]) -> list[dict]:
        return [{"cd_rel_err_median": e, "method": method} for e in errors]

    tie = conclusion(
        {
            ("rough", "dp", "updates"): runs("dp", [0.010, 0.014]),
            ("rough", "hig", "updates"): runs("hig", [0.011, 0.015]),
        }
    )
    lead = conclusion(
        {
            ("rough", "dp", "updates"): runs("dp", [0.010, 0.0101]),
            ("rough", "hig", "updates"): runs("hig", [0.020, 0.0201]),
        }
    )
    assert "dp" in tie[0] and "a tie" in tie[0]
    assert "dp" in lead[0] and "ahead beyond the seeds' spread" in lead[0]


def _kovasznay(window, re: float) -> torch.Tensor:
    """Kovasznay's exact steady Navier-Stokes solution on the window's cells, (1, 3, n, n)."""
    import math

    lam = re / 2 - math.sqrt(re * re / 4 + 4 * math.pi**2)
    c = torch.as_tensor(window.centres())
    X, Y = torch.meshgrid(c, c, indexing="ij")
    u = 1 - torch.exp(lam * X) * torch.cos(2 * math.pi * Y)
    v = lam / (2 * math.pi) * torch.exp(lam * X) * torch.sin(2 * math.pi * Y)
    p = 0.5 * (1 - torch.exp(2 * lam * X))
    return torch.stack([u, v, p])[None]


def test_navier_stokes_residual_vanishes_on_an_exact_solution_at_second_order():
    """PhiFlow's residual of Kovasznay flow (an exact solution) falls 4x per halving of the cell size, while a
    perturbed field keeps a residual of order one."""
    from surrogate import residual
    from surrogate.window import Window

    re = 20.0
    rms = []
    for cells in (64, 128):
        w = Window(cells=cells, extent=1.0)
        x = _kovasznay(w, re)
        sdf = torch.ones(1, cells, cells)  # no body: every cell counts but the border's
        c = residual.consistency(x, torch.tensor([re]), sdf, w)
        rms.append((float(c["momentum_rms"]), float(c["continuity_rms"])))
        if cells == 64:
            bumped = x.clone()
            bumped[:, 0] += 0.1 * torch.sin(3 * torch.pi * torch.as_tensor(w.centres()))[None, :, None]
            wrong = residual.consistency(bumped, torch.tensor([re]), sdf, w)
            assert float(wrong["momentum_rms"]) > 10 * rms[0][0]
    assert 3.0 < rms[0][0] / rms[1][0] < 5.0 and 3.0 < rms[0][1] / rms[1][1] < 5.0
