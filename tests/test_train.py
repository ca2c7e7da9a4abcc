"""The training loop's update rules (surrogate.train.update) on a network small enough to check by hand: each
method's step equals its formula, computed here independently (autograd, a dense SVD, Adam's first step), and
a physics method's field term has its own optimiser, so HIG with a field weight stays stable."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from surrogate import physics
from surrogate.datasets import data as dataset
from surrogate.model import Surrogate
from surrogate.splits import Batch, make_split
from surrogate.start import new_model
from surrogate.train import TrainConfig, field_loss, update

TEST = Path(__file__).resolve().parents[1] / "data" / "datasets" / "test"
LR = 1e-3


@pytest.fixture(scope="module")
def small() -> tuple[Surrogate, Batch]:
    """A tiny fresh network (a few thousand parameters) and a batch of 6 test samples, in float64 so that the
    formulas compare to round-off."""
    d = dataset.load(TEST)
    torch.manual_seed(0)
    model = new_model(d, TrainConfig(base=4, depth=1)).double()
    split = make_split(d, None, model)
    b = split.batch(slice(0, 6), "cpu")
    return model, Batch(b.inputs.double(), b.target.double(), b.re.double(), b.y.double(), None)


def _params(model: Surrogate) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.net.parameters()])


def _grad(model: Surrogate, loss_of) -> torch.Tensor:
    """dL/dtheta by autograd, flattened in parameter order."""
    m = copy.deepcopy(model)
    grads = torch.autograd.grad(loss_of(m), list(m.net.parameters()))
    return torch.cat([g.reshape(-1) for g in grads])


def _adam_first_step(g: torch.Tensor) -> torch.Tensor:
    """Adam's first step (bias-corrected moments m = g, v = g^2): -lr g / (|g| + eps)."""
    return -LR * g / (g.abs() + 1e-8)


def _outputs(m: Surrogate, batch: Batch) -> tuple[torch.Tensor, ...]:
    """(state x, y = (Cd, Cl) / Cd*, y* / Cd*) of the batch through the network."""
    inp, _, re, y_star = batch[:4]
    scale = y_star[:, :1]
    x = m.decode(m.net(inp), inp, re)
    return x, physics.drag_lift(x, re) / scale, y_star[:, :2] / scale


def _step(model: Surrogate, method: str, batch: Batch, cfg: TrainConfig, lr: float = LR):
    """theta after one update of `method` from `model`, minus theta before."""
    m = copy.deepcopy(model)
    before = _params(m)
    update(method, m, torch.optim.Adam(m.net.parameters(), lr=lr), cfg, batch, lr)
    return _params(m) - before


def test_supervised_step_is_adams_first_step_on_the_field_loss(small):
    model, batch = small
    inp, target, re = batch[:3]
    g = _grad(model, lambda m: field_loss(m, m.net(inp), target, re))
    step = _step(model, "supervised", batch, TrainConfig(method="supervised"))
    torch.testing.assert_close(step, _adam_first_step(g), rtol=1e-6, atol=1e-12)


def test_dp_step_is_adams_first_step_on_the_physics_loss(small):
    model, batch = small

    def loss(m: Surrogate) -> torch.Tensor:
        _, y, y_star = _outputs(m, batch)
        return 0.5 * ((y - y_star) ** 2).sum() / len(y)

    step = _step(model, "dp", batch, TrainConfig(method="dp"))
    torch.testing.assert_close(step, _adam_first_step(_grad(model, loss)), rtol=1e-6, atol=1e-12)


def test_sip_step_is_adams_first_step_towards_the_damped_pseudo_inverse_target(small):
    """x~ = x + J^T (J J^T + eps lambda_max I)^-1 (-(y - y*)) per sample, J = dy/dx by dense autograd here."""
    model, batch = small
    inp, _, re, y_star = batch[:4]
    eps = 1e-6
    with torch.no_grad():
        x, y, ys = _outputs(model, batch)
    targets = []
    for b in range(len(x)):

        def p(state: torch.Tensor, b: int = b) -> torch.Tensor:
            return physics.drag_lift(state[None], re[b : b + 1])[0] / y_star[b, 0]

        jac = torch.autograd.functional.jacobian(p, x[b]).reshape(2, -1)
        gram = jac @ jac.T
        dy = -(y[b] - ys[b])
        lam = torch.linalg.eigvalsh(gram)[-1]
        dx = jac.T @ torch.linalg.solve(gram + eps * lam * torch.eye(2, dtype=gram.dtype), dy)
        targets.append(x[b] + dx.reshape(x[b].shape))
    x_tilde = torch.stack(targets)

    def proxy(m: Surrogate) -> torch.Tensor:
        xm, _, _ = _outputs(m, batch)
        return 0.5 * ((xm - x_tilde) ** 2).sum() / len(xm)

    step = _step(model, "sip", batch, TrainConfig(method="sip", sip_eps=eps))
    torch.testing.assert_close(step, _adam_first_step(_grad(model, proxy)), rtol=1e-5, atol=1e-12)


def test_hig_step_is_the_half_inverse_of_the_dense_batch_jacobian(small):
    """-lr V S^-1/2 U^T g with J = dy/dtheta of the whole batch (B*m x n_params) from a dense SVD here."""
    model, batch = small
    m = copy.deepcopy(model)
    params = list(m.net.parameters())
    theta0 = _params(m)
    sizes = [p.numel() for p in params]

    def y_of(theta: torch.Tensor) -> torch.Tensor:
        chunks = torch.split(theta, sizes)
        named = {n: c.reshape(p.shape) for (n, p), c in zip(m.net.named_parameters(), chunks, strict=True)}
        inp, _, re, y_star = batch[:4]
        x = m.decode(torch.func.functional_call(m.net, named, (inp,)), inp, re)
        return (physics.drag_lift(x, re) / y_star[:, :1]).reshape(-1)

    jac = torch.autograd.functional.jacobian(y_of, theta0)  # (B*m, n_params)
    with torch.no_grad():
        _, y, ys = _outputs(m, batch)
    g = ((y - ys) / len(y)).reshape(-1)  # dL/dy of L = 1/2 sum |y - y*|^2 / B
    u, s, vt = torch.linalg.svd(jac, full_matrices=False)
    keep = s > 1e-6 * s[0]
    expected = -0.3 * vt[keep].T @ ((u[:, keep].T @ g) / s[keep].sqrt())
    step = _step(model, "hig", batch, TrainConfig(method="hig", hig_tau=1e-6), lr=0.3)
    torch.testing.assert_close(step, expected, rtol=1e-6, atol=1e-9 * float(expected.abs().max()))


def _losses(m: Surrogate, batch: Batch) -> tuple[float, float]:
    inp, target, re = batch[:3]
    with torch.no_grad():
        _, y, ys = _outputs(m, batch)
        return float(0.5 * ((y - ys) ** 2).sum() / len(y)), float(field_loss(m, m.net(inp), target, re))


def test_hig_with_a_field_weight_stays_finite_and_fits_the_physics_holding_the_field(small):
    """The field term steps with its own Adam (rate field_lr), not with an Adam at HIG's SGD rate, which is
    what the loop once did: that one Adam step at 0.3 wrecks the network (the field loss grows tenfold)."""
    model, batch = small
    m = copy.deepcopy(model)
    cfg = TrainConfig(method="hig", field_weight=1.0, field_lr=1e-3, hig_tau=1e-6)
    physics0, field0 = _losses(m, batch)
    opt = torch.optim.Adam(m.net.parameters(), lr=0.3)  # the rate the loop gives the method's optimiser
    field_opt = torch.optim.Adam(m.net.parameters(), lr=cfg.field_lr)
    for _ in range(10):
        loss = update("hig", m, opt, cfg, batch, 0.3, field_opt=field_opt)
        assert torch.isfinite(torch.tensor(loss))
    physics1, field1 = _losses(m, batch)
    assert torch.isfinite(_params(m)).all()
    # HIG fits the physics while the field term, on its own Adam, holds the field (on a network this small the
    # two pull apart: a field rate of 1e-2 there lowers the field and raises the physics loss)
    assert physics1 < 0.5 * physics0 and field1 < 1.1 * field0

    coupled = copy.deepcopy(model)  # the old coupling: the field step taken by an Adam at HIG's rate
    inp, target, re = batch[:3]
    adam = torch.optim.Adam(coupled.net.parameters(), lr=0.3)
    field_loss(coupled, coupled.net(inp), target, re).backward()
    adam.step()
    assert _losses(coupled, batch)[1] > 10 * field0


def test_a_physics_method_with_a_field_weight_needs_its_own_field_optimiser(small):
    model, batch = small
    m = copy.deepcopy(model)
    with pytest.raises(ValueError, match="own optimiser"):
        cfg = TrainConfig(method="dp", field_weight=1.0)
        update("dp", m, torch.optim.Adam(m.net.parameters()), cfg, batch, LR)


def test_the_shape_gradient_term_joins_the_supervised_and_dp_steps_on_the_same_adam():
    """With a gradient weight, supervised steps on field + w G and dp on physics + w G (G: the shape-gradient
    loss against the stored adjoint sensitivities, surrogate.shape_gradient), one Adam for the sum."""
    from surrogate.train import _gradient_term

    d = dataset.load(TEST)
    torch.manual_seed(0)
    model = new_model(d, TrainConfig(base=4, depth=1)).double()
    b = make_split(d, None, model, gradients=True).batch(slice(0, 4), "cpu")
    assert b.sensitivity is not None and torch.isfinite(b.sensitivity).all()
    batch = Batch(
        b.inputs.double(), b.target.double(), b.re.double(), b.y.double(), None, b.arc, b.sensitivity
    )
    cfg = TrainConfig(method="supervised", gradient_weight=0.5)
    assert float(_gradient_term(model, cfg, batch)) > 0
    inp, target, re = batch[:3]
    g = _grad(model, lambda m: field_loss(m, m.net(inp), target, re) + _gradient_term(m, cfg, batch))
    torch.testing.assert_close(
        _step(model, "supervised", batch, cfg), _adam_first_step(g), rtol=1e-6, atol=1e-12
    )

    cfg = TrainConfig(method="dp", gradient_weight=0.5)

    def loss(m: Surrogate) -> torch.Tensor:
        _, y, y_star = _outputs(m, batch)
        return 0.5 * ((y - y_star) ** 2).sum() / len(y) + _gradient_term(m, cfg, batch)

    torch.testing.assert_close(
        _step(model, "dp", batch, cfg), _adam_first_step(_grad(model, loss)), rtol=1e-6, atol=1e-12
    )
