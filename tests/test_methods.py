"""The training methods' update rules (surrogate.methods) on problems with known answers (tests/toys.py)."""

import pytest
import torch
from torch import nn
from torch.func import functional_call

from surrogate import methods
from surrogate.methods import (
    METHODS,
    apply_direction,
    hig_direction,
    output_jacobian,
    physics_loss,
    sip_proxy_loss,
    sip_targets,
    sip_targets_pinv,
)
from tests import toys


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_method_names():
    assert METHODS == ("supervised", "dp", "sip", "hig")


# ------------------------------------------------------------------------------------------ DP


def test_physics_loss_gradient_is_analytic_for_a_linear_physics():
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(2, 7, dtype=torch.float64, generator=gen)
    x = torch.randn(5, 7, dtype=torch.float64, generator=gen, requires_grad=True)
    y_star = torch.randn(5, 2, dtype=torch.float64, generator=gen)
    y = x @ a.T
    loss = physics_loss(y, y_star)
    assert loss.item() == pytest.approx(0.5 * ((y - y_star) ** 2).sum().item() / 5, rel=1e-14)
    (grad,) = torch.autograd.grad(loss, x)
    torch.testing.assert_close(grad, (y.detach() - y_star) @ a / 5, rtol=1e-13, atol=1e-15)


def _nonlinear_physics(x: torch.Tensor) -> torch.Tensor:
    """y = (Cd-like, Cl-like) of a state x (B, n): m = 2, nonlinear, samples independent."""
    w = torch.linspace(0.5, 1.5, x.shape[-1], dtype=x.dtype)
    return torch.stack([torch.sin(x).sum(-1) + (x * w).pow(2).sum(-1), torch.tanh(x @ w) * x[..., 0]], dim=-1)


def test_dp_gradient_through_physics_and_network_matches_finite_differences():
    torch.manual_seed(2)
    net = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4)).double()
    inputs = torch.randn(6, 3, dtype=torch.float64)
    y_star = torch.randn(6, 2, dtype=torch.float64)

    def loss_of(params):
        return physics_loss(_nonlinear_physics(functional_call(net, params, (inputs,))), y_star)

    params = {n: p.detach().clone() for n, p in net.named_parameters()}
    loss = physics_loss(_nonlinear_physics(net(inputs)), y_star)
    grads = dict(zip(params, torch.autograd.grad(loss, list(net.parameters())), strict=True))
    h = 1e-6
    for name, p in params.items():
        fd = torch.zeros_like(p)
        for i in range(p.numel()):
            step = torch.zeros(p.numel(), dtype=p.dtype)
            step[i] = h
            plus = {**params, name: p + step.view_as(p)}
            minus = {**params, name: p - step.view_as(p)}
            fd.view(-1)[i] = (loss_of(plus) - loss_of(minus)) / (2 * h)
        torch.testing.assert_close(grads[name], fd, rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------------------------------ SIP


def _rank_deficient_batch(b=4, m=3, n=5, rank=2, seed=3):
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(b, m, rank, dtype=torch.float64, generator=gen) @ torch.randn(
        b, rank, n, dtype=torch.float64, generator=gen
    )
    x = torch.randn(b, 1, n, dtype=torch.float64, generator=gen, requires_grad=True)
    y_star = torch.randn(b, m, dtype=torch.float64, generator=gen)
    y_star = y_star + 2.0 * torch.linalg.svd(a).U[:, :, -1]  # a part outside the range of J
    return a, x, y_star


def _range_projection(a: torch.Tensor, v: torch.Tensor, rank: int) -> torch.Tensor:
    u = torch.linalg.svd(a).U[..., :rank]
    return (u @ (u.transpose(1, 2) @ v.unsqueeze(-1))).squeeze(-1)


def test_sip_step_solves_j_dx_eq_dy_on_the_range_of_a_rank_deficient_j():
    a, x, y_star = _rank_deficient_batch()
    y = torch.einsum("bmn,bn->bm", a, x.reshape(4, 5))
    torch.testing.assert_close(output_jacobian(x, y), a)  # m VJPs give each sample's own Jacobian
    eta = 0.7
    dy = -eta * (y - y_star).detach()
    expected = _range_projection(a, dy, 2)
    assert (dy - expected).norm() > 0.2 * dy.norm()  # dy has a part J cannot reach
    lam = torch.linalg.eigvalsh(a @ a.transpose(1, 2))  # (B, 3), the smallest one is 0
    spread = (lam[:, -1] / lam[:, 1]).max().item()
    for eps in (1e-6, 1e-12):
        # on the range of J the relative error is eps lambda_max / lambda_i (the Tikhonov term)
        tol = 2 * eps * spread * dy.abs().max().item() + 1e-12
        x_tilde = sip_targets(x, y, y_star, eta=eta, eps=eps)
        assert x_tilde.shape == x.shape and not x_tilde.requires_grad
        dx = (x_tilde - x.detach()).reshape(4, 5)
        torch.testing.assert_close(torch.einsum("bmn,bn->bm", a, dx), expected, rtol=tol, atol=tol)
        # the minimum-norm step: dx lies in the row space of J (nothing along its null space)
        null = torch.linalg.svd(a).Vh[:, 2:, :]
        assert (null @ dx.unsqueeze(-1)).abs().max() < tol
    x_pinv = sip_targets_pinv(x, y, y_star, eta=eta, rcond=1e-8)
    dx = (x_pinv - x.detach()).reshape(4, 5)
    torch.testing.assert_close(torch.einsum("bmn,bn->bm", a, dx), expected, rtol=1e-12, atol=1e-12)


def test_sip_lands_on_the_target_for_a_full_rank_linear_physics_and_proxy_gradient():
    gen = torch.Generator().manual_seed(4)
    a = torch.randn(3, 2, 6, dtype=torch.float64, generator=gen)
    x = torch.randn(3, 2, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    y_star = torch.randn(3, 2, dtype=torch.float64, generator=gen)
    y = torch.einsum("bmn,bn->bm", a, x.reshape(3, 6))
    x_tilde = sip_targets(x, y, y_star, eta=1.0, eps=1e-14)
    torch.testing.assert_close(torch.einsum("bmn,bn->bm", a, x_tilde.reshape(3, 6)), y_star)
    loss = sip_proxy_loss(x, x_tilde)
    (grad,) = torch.autograd.grad(loss, x)
    torch.testing.assert_close(grad, (x - x_tilde).detach() / 3)


# ------------------------------------------------------------------------------------------ HIG


class _TinyNet(nn.Module):
    """A vmap-safe stand-in for the surrogate: a conv on a 1D 'grid' plus a scalar input, two outputs."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(1, 2, 3)
        self.head = nn.Linear(2 * 4 + 1, 2)

    def forward(self, grid, re):
        h = torch.tanh(self.conv(grid)).flatten(1)
        return self.head(torch.cat([h, re], dim=1))


def _tiny_setup():
    torch.manual_seed(5)
    net = _TinyNet().double()
    grid = torch.randn(3, 1, 6, dtype=torch.float64)
    re = torch.rand(3, 1, dtype=torch.float64)
    grid[2] = grid[0] + 1e-4 * torch.randn(
        1, 6, dtype=torch.float64
    )  # a near-duplicate: tiny singular values
    re[2] = re[0]

    def physics(out):
        return torch.stack([out[..., 0] + 0.3 * out[..., 1] ** 2, torch.sin(out[..., 1])], dim=-1)

    def outputs(params, g1, r1):
        return physics(functional_call(net, params, (g1[None], r1[None])))[0]

    return net, (grid, re), physics, outputs


def _explicit_jacobian(net, names, inputs, physics):
    y = physics(net(*inputs))
    params = [p for n, p in net.named_parameters() if n in names]
    rows = []
    for b in range(y.shape[0]):
        for k in range(y.shape[1]):
            gs = torch.autograd.grad(y[b, k], params, retain_graph=True)
            rows.append(torch.cat([gr.flatten() for gr in gs]))
    return torch.stack(rows), y.detach()


def _dense_half_inverse(jac, g, tau):
    u, s, vh = torch.linalg.svd(jac, full_matrices=False)
    keep = s >= tau * s[0]
    inv = torch.where(keep, s.clamp_min(1e-300).rsqrt(), torch.zeros_like(s))
    return vh.T @ (inv * (u.T @ g.reshape(-1)))


@pytest.mark.parametrize("names", [None, ["head.weight", "conv.bias"]])
def test_hig_direction_equals_dense_svd_with_truncation(names):
    net, inputs, physics, outputs = _tiny_setup()
    chosen = [n for n, _ in net.named_parameters() if names is None or n in names]
    jac, y = _explicit_jacobian(net, chosen, inputs, physics)
    s = torch.linalg.svdvals(jac)
    rel = s / s[0]
    # the near-duplicate sample puts 2 singular values far below the other 4: put tau in that gap
    assert rel[3] > 1e-3 and rel[4] < 1e-3 and rel[5] < 1e-3
    tau = 1e-3
    g = torch.randn(3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    delta = hig_direction(net, outputs, inputs, g, tau=tau, names=names)
    assert list(delta) == chosen
    flat = torch.cat([delta[n].flatten() for n in chosen])
    dense = _dense_half_inverse(jac, g, tau)
    torch.testing.assert_close(flat, dense, rtol=1e-8, atol=1e-10)
    # truncation is active: without it the two tiny singular values dominate the step
    untruncated = _dense_half_inverse(jac, g, 1e-12)
    assert (untruncated - dense).norm() > 3 * dense.norm()
    no_trunc = hig_direction(net, outputs, inputs, g, tau=1e-12, names=names)
    # (the Gram route resolves s_i only to ~eps64 (s_max / s_i)^2: here s_i ~ 1e-5 s_max, so ~1e-6 relative)
    no_trunc = torch.cat([no_trunc[n].flatten() for n in chosen])
    torch.testing.assert_close(no_trunc, untruncated, rtol=1e-4, atol=1e-4 * untruncated.abs().max().item())
    for n, p in net.named_parameters():  # hig_direction does not touch the model
        torch.testing.assert_close(p.detach(), before[n], rtol=0, atol=0)
    apply_direction(net, delta, lr=0.5)
    for n, p in net.named_parameters():
        expected = before[n] - 0.5 * delta[n] if n in delta else before[n]
        torch.testing.assert_close(p.detach(), expected, rtol=0, atol=1e-15)


def test_hig_gram_route_drops_what_float64_cannot_resolve():
    # exact duplicates: the Gram matrix's zero eigenvalues come out as +-1e-16 noise; they must be dropped
    # even at tau = 1e-10 (their S^(-3/2) would otherwise blow the step up), as the SVD of J drops exact zeros
    net, (grid, re), physics, outputs = _tiny_setup()
    grid[2], re[2] = grid[0], re[0]
    jac, y = _explicit_jacobian(net, [n for n, _ in net.named_parameters()], (grid, re), physics)
    g = torch.randn(3, 2, dtype=torch.float64)
    delta = hig_direction(net, outputs, (grid, re), g, tau=1e-10)
    flat = torch.cat([d.flatten() for d in delta.values()])
    torch.testing.assert_close(flat, _dense_half_inverse(jac, g, 1e-6), rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------------------------------ toys


def test_oscillator_physics_fast_form_equals_rk4():
    gen = torch.Generator().manual_seed(6)
    x0 = torch.rand(5, 4, dtype=torch.float64, generator=gen)
    u = torch.randn(5, toys.NT, dtype=torch.float64, generator=gen)
    torch.testing.assert_close(toys.oscillators_fast(x0, u), toys.oscillators(x0, u), rtol=1e-12, atol=1e-12)


def test_oscillators_hig_beats_adam_by_100x_at_equal_wall_clock():
    seconds = 5.0
    # CPU time of this (single-threaded) process: the wall clock of an idle machine, robust to a busy one
    hig = toys.train_oscillators("hig", seconds, n_data=512, seed=0, eval_every=seconds, clock="cpu")
    adam = toys.train_oscillators("adam", seconds, n_data=512, seed=0, eval_every=seconds, clock="cpu")
    assert hig[0][1] == pytest.approx(adam[0][1])  # the same start
    assert hig[-1][0] >= seconds and adam[-1][0] >= seconds
    ratio = adam[-1][1] / hig[-1][1]
    print(
        f"oscillators {seconds} s: start {hig[0][1]:.3g}, adam {adam[-1][1]:.3g}, hig {hig[-1][1]:.3g},"
        f" x{ratio:.0f}"
    )
    assert hig[-1][1] < 1e-5
    assert ratio >= 100


def test_oscillators_sip_trains():
    hist = toys.train_oscillators("sip", 1.0, n_data=512, seed=0, eval_every=1.0, clock="cpu")
    assert hist[-1][1] < 1e-2 * hist[0][1]


def test_heat_sip_beats_adam_for_the_same_updates():
    sip = toys.train_heat("sip", updates=200, lr=0.03, eval_every=200)
    adam_best = min(
        toys.train_heat("adam", updates=200, lr=lr, eval_every=200)[-1][2] for lr in (0.01, 0.03, 0.1, 0.3)
    )
    print(f"heat 200 updates: start {sip[0][2]:.3g}, adam (best lr) {adam_best:.3g}, sip {sip[-1][2]:.3g}")
    assert sip[-1][2] < 1e-9
    assert adam_best > 1e4 * sip[-1][2]


def test_heat_sip_beats_adam_when_a_network_predicts_x():
    sip = toys.train_heat("sip", updates=800, lr=0.003, n_samples=64, model="net", eval_every=800)
    adam = min(
        toys.train_heat("adam", updates=800, lr=lr, n_samples=64, model="net", eval_every=800)[-1][2]
        for lr in (0.003, 0.03)
    )
    print(f"heat, network, 800 updates: adam (best lr) {adam:.3g}, sip {sip[-1][2]:.3g}")
    assert adam > 20 * sip[-1][2]


def test_heat_2d_long_diffusion_truncation_acts_and_sip_still_fits_better_on_every_seed():
    """2D, 16 implicit steps: the highest frequencies are damped to 2e-20, so the inverse's truncation (rcond
    1e-6) keeps only a few percent of the modes. SIP's target is then far from the truth (the lost modes
    cannot be recovered by anyone), yet it fits the physics, and SIP ends far below Adam at its best rate on
    each of three seeds (measured 25-60 times: less than in 1D, where nothing is truncated)."""
    n = toys.HEAT_N // 2
    mult = toys.heat_multiplier(n, steps=16, dims=2)
    x_star, y_star = toys.heat_problem(8, n, seed=0, dims=2, steps=16)
    kept = float((mult > 1e-6 * mult.max()).double().mean())
    target = toys.heat_inverse(y_star, mult, 1e-6)
    assert 0.01 < kept < 0.5
    assert float((target - x_star).norm() / x_star.norm()) > 0.5
    assert float((toys.heat(target, mult) - y_star).norm() / y_star.norm()) < 1e-5
    common = dict(updates=100, dims=2, heat_steps=16, n_samples=8, eval_every=100)
    ratios = []
    for seed in range(3):
        sip = toys.train_heat("sip", lr=0.03, seed=seed, **common)[-1][2]
        rates = (0.01, 0.03, 0.1, 0.3)
        adam = min(toys.train_heat("adam", lr=lr, seed=seed, **common)[-1][2] for lr in rates)
        ratios.append(adam / sip)
    print(f"heat 2D, 100 updates, adam (best lr) / sip per seed: {[f'{r:.3g}' for r in ratios]}")
    assert min(ratios) > 10


def test_heat_generic_sip_targets_equal_the_deconvolution():
    fast = toys.train_heat("sip", updates=15, lr=0.03, eval_every=5)
    generic = toys.train_heat("sip-jac", updates=15, lr=0.03, eval_every=5)
    # Tikhonov eps = rcond^2 = 1e-12 vs the smallest squared multiplier 2.3e-8: 4e-5 relative at most
    for (_, _, a), (_, _, b) in zip(fast, generic, strict=True):
        assert b == pytest.approx(a, rel=1e-4)


def test_unknown_names_and_bad_shapes_are_refused():
    net, inputs, _, outputs = _tiny_setup()
    with pytest.raises(KeyError, match="nope"):
        hig_direction(net, outputs, inputs, torch.zeros(3, 2, dtype=torch.float64), names=["nope"])
    with pytest.raises(ValueError, match="g must be"):
        hig_direction(net, outputs, inputs, torch.zeros(3, 3, dtype=torch.float64))
    with pytest.raises(ValueError):
        physics_loss(torch.zeros(2, 2), torch.zeros(2, 3))
    with pytest.raises(ValueError):
        toys.train_oscillators("lbfgs", 0.1)
    assert methods.field_loss(torch.ones(2, 3), torch.zeros(2, 3), "l1").item() == pytest.approx(3.0)
