"""The physics-aware update rules shared by the surrogate's training loop and the toy problems.

Four methods turn a mini-batch into an update:

- ``supervised``: a field loss |x - x*| with Adam (the training loop does it).
- ``dp``: Adam on ``physics_loss(P(f(s)), y*)``, gradients by autograd through P and the network.
- ``sip``: per sample, invert the physics locally (``sip_targets``), then Adam on ``sip_proxy_loss``.
- ``hig``: the half-inverse gradient ``hig_direction`` applied with plain SGD (``apply_direction``).

Conventions: the leading dimension of every tensor is the batch B; y and y* are (B, m); a state x is (B, ...).
Samples are independent (no BatchNorm or other coupling across the batch), which both the per-sample Jacobians
of SIP (one vector-Jacobian product per output) and HIG's vmap rely on.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.func import jacrev, vmap

from surrogate.train_config import METHODS as METHODS  # the methods' names, defined once

# Relative accuracy of the float64 eigenvalues of a Gram matrix of k rows: eigenvalues below about
# k * eps64 * lambda_max are rounding noise, i.e. singular values below sqrt(k * eps64) * s_max (about 1e-7
# for k = 64) cannot be resolved through the Gram matrix, whatever tau asks for.
_GRAM_NOISE = 16.0 * torch.finfo(torch.float64).eps


def physics_loss(y: Tensor, y_star: Tensor) -> Tensor:
    """L = 1/2 sum_b |y_b - y*_b|^2 divided by B (mean over the batch). y, y_star (B, m).

    Its gradient dL/dy = (y - y*) / B is the ``g`` that ``hig_direction`` takes.
    """
    if y.shape != y_star.shape:
        raise ValueError(f"y {tuple(y.shape)} and y_star {tuple(y_star.shape)} differ in shape")
    return 0.5 * (y - y_star).pow(2).sum() / y.shape[0]


def field_loss(x: Tensor, x_star: Tensor, kind: str = "l2") -> Tensor:
    """The supervised loss: mean over the batch of 1/2 |x - x*|^2 (``l2``) or |x - x*|_1 (``l1``)."""
    d = (x - x_star).reshape(x.shape[0], -1)
    if kind == "l2":
        return 0.5 * d.pow(2).sum() / x.shape[0]
    if kind == "l1":
        return d.abs().sum() / x.shape[0]
    raise ValueError(f"field loss kind must be 'l1' or 'l2', not {kind!r}")


# ----------------------------------------------------------------------------------------------------- SIP


def output_jacobian(x: Tensor, y: Tensor) -> Tensor:
    """Per-sample Jacobian dy_b/dx_b, (B, m, n) with n = x[0].numel(), by m vector-Jacobian products.

    y (B, m) must have been computed from x with its graph kept, samples independent: the gradient of
    y[:, k].sum() with respect to x is then row k of every sample's Jacobian at once. The graph is retained
    (the caller may still backpropagate through y). An output that does not depend on x gives a zero row.
    """
    if y.dim() != 2 or y.shape[0] != x.shape[0]:
        raise ValueError(f"y must be (B, m) with B = {x.shape[0]}, got {tuple(y.shape)}")
    rows = []
    for k in range(y.shape[1]):
        (gk,) = torch.autograd.grad(y[:, k].sum(), x, retain_graph=True, allow_unused=True)
        rows.append(torch.zeros_like(x) if gk is None else gk)
    return torch.stack([r.reshape(x.shape[0], -1) for r in rows], dim=1)


def damped_pinv_step(jac: Tensor, dy: Tensor, eps: float = 1e-6) -> Tensor:
    """dx = J^T (J J^T + eps lambda_max I)^-1 dy per sample, in float64. jac (B, m, n), dy (B, m) -> (B, n).

    eps is relative to the largest eigenvalue lambda_max of each sample's J J^T (so the step does not depend
    on the units of x or y). On the range of J the step solves J dx = dy up to a relative error
    eps lambda_max / lambda_i; a component of dy outside the range of J (rank-deficient J) is dropped, and dx
    is the minimum-norm solution (it lies in the row space of J). Computed by eigh of the m x m matrix J J^T;
    eigenvalues at float64 rounding level (below 16 m eps64 lambda_max) are treated as exact zeros.
    """
    j = jac.to(torch.float64)
    w, u = torch.linalg.eigh(j @ j.transpose(1, 2))  # J J^T = U diag(w) U^T per sample, (B, m), (B, m, m)
    lam = w[:, -1:].clamp_min(0.0)
    # directions the float64 Gram matrix cannot resolve (w ~ rounding noise) are dropped rather than amplified
    # by 1 / (eps lambda_max): J^T u there is rounding noise too, and a tiny eps would blow it up
    keep = w > _GRAM_NOISE * w.shape[1] * lam
    inv = torch.where(
        keep, 1.0 / (w + eps * lam).clamp_min(torch.finfo(torch.float64).tiny), torch.zeros_like(w)
    )
    z = u @ (inv * (u.transpose(1, 2) @ dy.to(torch.float64).unsqueeze(-1)).squeeze(-1)).unsqueeze(-1)
    return (j.transpose(1, 2) @ z).squeeze(-1)


def truncated_pinv_step(jac: Tensor, dy: Tensor, rcond: float = 1e-5) -> Tensor:
    """dx = pinv(J) dy per sample (SVD; singular values below rcond * s_max dropped), float64.
    (B, m, n) -> (B, n)."""
    return (
        torch.linalg.pinv(jac.to(torch.float64), rtol=rcond) @ dy.to(torch.float64).unsqueeze(-1)
    ).squeeze(-1)


def sip_targets(x: Tensor, y: Tensor, y_star: Tensor, eta: float = 1.0, eps: float = 1e-6) -> Tensor:
    """SIP's local physics inversion, per sample: dy = -eta (y - y*), x~ = x + J^T (J J^T + eps I)^-1 dy.

    J = dy/dx (m x |x| per sample; y = P(x) was computed from x with its graph kept, samples independent)
    comes from m vector-Jacobian products (``output_jacobian``; the graph is retained). The Tikhonov term is
    relative: eps times the largest eigenvalue of each sample's J J^T. With eta = 1 and a linear P the step
    lands on y* exactly (on the range of J). Returns x~ detached, same shape and dtype as x.
    """
    jac = output_jacobian(x, y)
    dy = -eta * (y - y_star).detach()
    dx = damped_pinv_step(jac, dy, eps)
    return (x.detach() + dx.reshape(x.shape).to(x.dtype)).detach()


def sip_targets_pinv(x: Tensor, y: Tensor, y_star: Tensor, eta: float = 1.0, rcond: float = 1e-5) -> Tensor:
    """As ``sip_targets`` but with the truncated pseudo-inverse (Gauss-Newton, PBDL's pinv with rcond)."""
    jac = output_jacobian(x, y)
    dx = truncated_pinv_step(jac, -eta * (y - y_star).detach(), rcond)
    return (x.detach() + dx.reshape(x.shape).to(x.dtype)).detach()


def sip_proxy_loss(x: Tensor, x_tilde: Tensor) -> Tensor:
    """1/2 |x - stopgrad(x~)|^2, mean over the batch. Its gradient w.r.t. x is (x - x~) / B."""
    if x.shape != x_tilde.shape:
        raise ValueError(f"x {tuple(x.shape)} and x_tilde {tuple(x_tilde.shape)} differ in shape")
    return 0.5 * (x - x_tilde.detach()).pow(2).sum() / x.shape[0]


# ----------------------------------------------------------------------------------------------------- HIG


def trainable(model: torch.nn.Module, names: list[str] | None = None) -> dict[str, Tensor]:
    """The parameters HIG updates: those named (all that require grad by default), detached, in model
    order."""
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    if names is None:
        return {n: p.detach() for n, p in params.items()}
    unknown = [n for n in names if n not in params]
    if unknown:
        raise KeyError(f"no trainable parameter named {unknown} (have {list(params)})")
    return {n: params[n].detach() for n in params if n in set(names)}


def per_sample_jacobian(
    model: torch.nn.Module,
    outputs: Callable,
    inputs: Tensor | tuple,
    names: list[str] | None = None,
    chunk_size: int | None = None,
) -> dict[str, Tensor]:
    """J = dy/dtheta for every sample of the batch: {name: (B, m, *param.shape)}, by vmap(jacrev) over dim 0.

    ``outputs(params, *one_sample_inputs) -> y (m,)`` evaluates ONE sample (torch.func.functional_call
    inside); ``params`` holds every parameter, the ones not in ``names`` as frozen constants. ``chunk_size``
    is vmap's: it bounds the samples differentiated at once (the activations' memory), not the size of J.
    """
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    free = trainable(model, names)
    frozen = {n: p.detach() for n, p in model.named_parameters() if n not in free}

    def one(p: dict[str, Tensor], *sample: Tensor) -> Tensor:
        return outputs({**frozen, **p}, *sample)

    jac = vmap(jacrev(one), in_dims=(None, *([0] * len(inputs))), chunk_size=chunk_size)(free, *inputs)
    return {n: j.detach() for n, j in jac.items()}


def half_inverse_from_jacobian(jac: dict[str, Tensor], g: Tensor, tau: float = 1e-10) -> dict[str, Tensor]:
    """delta = V S^(-1/2) U^T g for J = U S V^T, through the Gram matrix: delta = J^T U S^(-3/2) U^T g.

    jac {name: (B, m, *shape)} (rows = the B*m outputs, sample-major as g.reshape(-1)), g (B, m). The Gram
    matrix J J^T = U S^2 U^T (B*m x B*m) is accumulated block by block in float64 and diagonalised with eigh;
    singular values s < tau * s_max are truncated (their inverse set to 0), and so are those the float64 Gram
    matrix cannot resolve (s below about sqrt(16 B m eps64) s_max, ~1e-7: rounding noise, whose S^(-3/2) would
    blow up). Each parameter's block of J is cast to float64 one at a time, so the extra memory is one block,
    not J.
    """
    k = g.numel()
    rows = {n: j.reshape(k, -1) for n, j in jac.items()}
    ref = next(iter(rows.values()))
    gram = torch.zeros(k, k, dtype=torch.float64, device=ref.device)
    for r in rows.values():
        r64 = r.to(torch.float64)
        gram += r64 @ r64.T
    w, u = torch.linalg.eigh(gram)
    w_max = w[-1].clamp_min(0.0)
    floor = max(tau * tau, _GRAM_NOISE * k) * w_max
    keep = w > floor
    s = w.clamp_min(0.0).sqrt()
    inv = torch.zeros_like(s)
    inv[keep] = s[keep].pow(-1.5)
    coef = u @ (inv * (u.T @ g.reshape(k).to(torch.float64)))  # U S^(-3/2) U^T g, (B*m,)
    return {
        n: (r.to(torch.float64).T @ coef).reshape(jac[n].shape[2:]).to(jac[n].dtype) for n, r in rows.items()
    }


def hig_direction(
    model: torch.nn.Module,
    outputs: Callable,
    inputs: Tensor | tuple,
    g: Tensor,
    tau: float = 1e-10,
    names: list[str] | None = None,
) -> dict[str, Tensor]:
    """Half-inverse gradient of the mini-batch; the caller applies theta <- theta - lr * delta.

    outputs(params: dict[str, Tensor], *one_sample_inputs) -> y (m,) for ONE sample
    (torch.func.functional_call inside it); ``inputs`` is a tensor or tuple of tensors batched along dim 0
    (vmap maps over it); g (B, m) = dL/dy (for ``physics_loss``, (y - y*) / B). The per-sample Jacobians
    J = dy/dtheta are stacked to (B*m, n_params); with the Gram matrix J J^T = U S^2 U^T (eigh, float64),
    delta = V S^(-1/2) U^T g = J^T U S^(-3/2) U^T g, singular values s < tau * s_max truncated (see
    ``half_inverse_from_jacobian``). Returns {name: delta} for the parameters in ``names`` (default: every
    parameter that requires grad).

    Memory: J holds B * m * n_params floats (B = 32, m = 2 and 1e6 parameters: 256 MB in float32), plus the
    activations of vmap(jacrev) for B*m backward passes at once; restrict ``names`` to a subset of layers
    (e.g. the decoder's last blocks) to shrink n_params, or call ``per_sample_jacobian`` with a
    ``chunk_size``.
    """
    jac = per_sample_jacobian(model, outputs, inputs, names)
    b = next(iter(jac.values())).shape[:2]
    if tuple(g.shape) != tuple(b):
        raise ValueError(f"g must be (B, m) = {tuple(b)}, got {tuple(g.shape)}")
    return half_inverse_from_jacobian(jac, g.detach(), tau)


def apply_direction(model: torch.nn.Module, delta: dict[str, Tensor], lr: float) -> None:
    """theta <- theta - lr * delta for every parameter named in delta (in place, no autograd)."""
    params = dict(model.named_parameters())
    with torch.no_grad():
        for n, d in delta.items():
            params[n].sub_(d.to(params[n].dtype), alpha=lr)
