"""Problems with known answers for the training methods, trained with surrogate.methods; both come from the
Physics-Based Deep Learning (PBDL) book, and docs/design-notes.md ("Training methods") has the results.

1. ``train_oscillators``: the PBDL HIG notebook's control of two coupled linear oscillators. Published
   outcome for one wall-clock budget: HIG reaches a loss about four orders of magnitude below Adam's; SIP does
   not beat Adam on this linear problem at short budgets.
2. ``train_heat``: SIP's showcase, a 1D periodic heat equation (backward Euler steps) as the physics; plain
   gradients vanish for the high frequencies it damps, the local inverse (deconvolution) restores them.

The trainers call the same functions (``physics_loss``, ``sip_targets_pinv``/``sip_proxy_loss``,
``hig_direction``, ``apply_direction``) that train the surrogate.
"""

from __future__ import annotations

import copy
import functools
import math
import time

import torch
from torch import Tensor, nn
from torch.func import functional_call

from surrogate.methods import (
    apply_direction,
    hig_direction,
    physics_loss,
    sip_proxy_loss,
    sip_targets,
    sip_targets_pinv,
)

# ---------------------------------------------------------------------------------------- coupled oscillators

NT = 24
DT = 0.5
_LAPLACE = torch.tensor([[-1.0, 1.0], [1.0, -1.0]])
_CONTROL = torch.tensor([0.0, 1.0])

OSC_SETTINGS = {  # the PBDL book's tuned settings per method
    "adam": {"batch": 256, "lr": 1e-3},
    "sip": {"batch": 256, "lr": 1e-3, "rcond": 1e-5},
    "hig": {"batch": 32, "lr": 1.0, "tau": 1e-10},
}


def _osc_rhs(s: Tensor, u: Tensor) -> Tensor:
    """d/dt (x, v) = (v, -x + 0.2 L x + c u) for state s (B, 4) = (x1, x2, v1, v2) and control u (B,)."""
    lap = _LAPLACE.to(s)
    x, v = s[:, :2], s[:, 2:]
    return torch.cat([v, -x + 0.2 * x @ lap.T + u[:, None] * _CONTROL.to(s)], dim=1)


def oscillators(x0: Tensor, u: Tensor, dt: float = DT) -> Tensor:
    """The physics P: NT RK4 steps from x0 (B, 4) with the control u (B, NT), constant within a step."""
    s = x0
    for t in range(u.shape[1]):
        ut = u[:, t]
        k1 = _osc_rhs(s, ut)
        k2 = _osc_rhs(s + 0.5 * dt * k1, ut)
        k3 = _osc_rhs(s + 0.5 * dt * k2, ut)
        k4 = _osc_rhs(s + dt * k3, ut)
        s = s + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return s


@functools.cache
def _oscillator_maps() -> tuple[Tensor, Tensor]:
    """P is linear: P(x0, u) = x0 Phi^T + u G^T; Phi (4, 4), G (4, NT) by RK4 of unit vectors in float64."""
    eye = torch.eye(4, dtype=torch.float64)
    phi = oscillators(eye, torch.zeros(4, NT, dtype=torch.float64)).T
    g = oscillators(torch.zeros(NT, 4, dtype=torch.float64), torch.eye(NT, dtype=torch.float64)).T
    return phi, g


def oscillators_fast(x0: Tensor, u: Tensor) -> Tensor:
    """``oscillators`` evaluated as its exact matrices (two products instead of 96 right-hand sides): the same
    P to rounding, which the trainers use so that an update's time is the method's, not Python's loop
    overhead."""
    phi, g = _oscillator_maps()
    return x0 @ phi.T.to(x0) + u @ g.T.to(u)


def oscillator_net(seed: int = 0) -> nn.Module:
    """Dense 4 -> 20 -> 20 -> 20 -> 24, tanh, linear output; Glorot-uniform weights, zero biases (Keras')."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    sizes = [4, 20, 20, 20, NT]
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        lin = nn.Linear(a, b)
        nn.init.xavier_uniform_(lin.weight)
        nn.init.zeros_(lin.bias)
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def oscillator_loss(net: nn.Module, data: Tensor) -> float:
    """The reported loss: |y - y*|^2 per data point (the network controls from x0 = y* back to y*)."""
    with torch.no_grad():
        y = oscillators_fast(data, net(data))
        return float((y - data).pow(2).sum(dim=1).mean())


def _hig_outputs(net: nn.Module):
    def outputs(params: dict[str, Tensor], target: Tensor) -> Tensor:
        t = target[None]
        return oscillators_fast(t, functional_call(net, params, (t,)))[0]

    return outputs


def train_oscillators(
    method: str,
    seconds: float,
    n_data: int = 4096,
    seed: int = 0,
    eval_every: float = 0.25,
    max_updates: int | None = None,
    clock: str = "wall",
) -> list[tuple[float, float]]:
    """Train the oscillator controller with ``method`` ("adam", "sip" or "hig") for ``seconds`` of training.

    Data: n_data states uniform in [0, 1)^4 (X = Y), epochs of shuffled mini-batches (the last partial batch
    dropped). Returns [(wall_s, loss)], the loss of ``oscillator_loss`` on all the data, first at 0 s, then
    about every ``eval_every`` seconds and at the end; ``wall_s`` counts training only (evaluation is off the
    clock). ``clock="cpu"`` measures the process's CPU time instead of wall time: the same on an idle machine
    with one thread, but not inflated by other jobs on a shared one (the tests use it).
    Settings per method are OSC_SETTINGS (the book's): Adam batch 256 lr 1e-3; SIP batch 256, Adam lr 1e-3 on
    the proxy loss with Gauss-Newton targets (pinv, rcond 1e-5, eta 1); HIG batch 32, SGD lr 1, tau 1e-10,
    with g = dL/dy of the loss averaged over the batch, L = mean_b |y_b - y*_b|^2 (g = 2 (y - y*) / B). With
    the batch sum instead (g 32 times larger) HIG at lr 1 diverges within 10 updates; the mean reproduces the
    book's HIG curve (1.0 -> 1e-4 in about 100 updates).
    """
    if method not in OSC_SETTINGS:
        raise ValueError(f"method must be one of {tuple(OSC_SETTINGS)}, not {method!r}")
    if clock not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu', not {clock!r}")
    now = time.perf_counter if clock == "wall" else time.process_time
    cfg = OSC_SETTINGS[method]
    gen = torch.Generator().manual_seed(seed)
    data = torch.rand(n_data, 4, generator=gen)
    net = oscillator_net(seed)
    batch = min(cfg["batch"], n_data)

    def make_step(net: nn.Module):
        if method == "hig":
            outputs = _hig_outputs(net)

            def step(target: Tensor) -> None:
                y = oscillators_fast(target, net(target)).detach()
                g = 2.0 * (y - target) / target.shape[0]  # dL/dy of L = mean_b |y_b - y*_b|^2
                apply_direction(net, hig_direction(net, outputs, target, g, tau=cfg["tau"]), cfg["lr"])

            return step
        opt = torch.optim.Adam(net.parameters(), lr=cfg["lr"])

        def step(target: Tensor) -> None:
            u = net(target)
            if method == "adam":
                loss = physics_loss(oscillators_fast(target, u), target)
            else:
                ud = u.detach().requires_grad_(True)
                u_tilde = sip_targets_pinv(ud, oscillators_fast(target, ud), target, 1.0, cfg["rcond"])
                loss = sip_proxy_loss(u, u_tilde)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return step

    make_step(copy.deepcopy(net))(data[:batch])  # warm-up off the clock (torch.func's first call takes ~1 s)
    step = make_step(net)

    history = [(0.0, oscillator_loss(net, data))]
    wall, next_eval, updates = 0.0, eval_every, 0
    while wall < seconds and (max_updates is None or updates < max_updates):
        perm = torch.randperm(n_data, generator=gen)
        for i in range(0, n_data - batch + 1, batch):
            t0 = now()
            step(data[perm[i : i + batch]])
            wall += now() - t0
            updates += 1
            if wall >= next_eval:
                history.append((wall, oscillator_loss(net, data)))
                next_eval = wall + eval_every
            if wall >= seconds or (max_updates is not None and updates >= max_updates):
                break
    if history[-1][0] != wall:
        history.append((wall, oscillator_loss(net, data)))
    return history


# ---------------------------------------------------------------------------------------------- heat equation

HEAT_N = 64


def heat_multiplier(
    n: int = HEAT_N, alpha: float = 2.0, steps: int = 4, dims: int = 1, dtype: torch.dtype = torch.float64
) -> Tensor:
    """Fourier multiplier of ``steps`` backward-Euler steps of u_t = nu laplace(u) on a periodic grid of n
    cells a side, in ``dims`` dimensions.

    One step solves (I - alpha D2) u_new = u with D2 the 3-point Laplacian (per dimension) times dx^2,
    alpha = nu dt / dx^2; its symbol is 1 / (1 + 4 alpha sum_d sin^2(pi k_d / n)). Returns the multiplier
    for torch.fft.rfftn's frequencies: (n//2+1,) in 1D, (n, n//2+1) in 2D. With alpha = 2 and 4 steps in 1D
    the highest frequency is damped to 9^-4 = 1.5e-4, the lowest nonzero to 0.93; with 16 steps in 2D (a
    long diffusion time) the highest to 17^-16 = 2e-20, far below any truncation.
    """
    last = torch.sin(math.pi * torch.arange(n // 2 + 1, dtype=dtype) / n) ** 2
    if dims == 1:
        total = last
    elif dims == 2:
        total = (torch.sin(math.pi * torch.arange(n, dtype=dtype) / n) ** 2)[:, None] + last[None, :]
    else:
        raise ValueError(f"dims must be 1 or 2, not {dims!r}")
    return (1.0 + 4.0 * alpha * total) ** (-steps)


def _axes(mult: Tensor) -> tuple[int, ...]:
    return tuple(range(-mult.dim(), 0))


def heat(x: Tensor, mult: Tensor) -> Tensor:
    """The physics P: y = heat steps of x (B, n) or (B, n, n), by FFT (exactly the implicit solve on a
    periodic grid)."""
    axes = _axes(mult)
    spectrum = torch.fft.rfftn(x, dim=axes) * mult.to(x.dtype)
    return torch.fft.irfftn(spectrum, s=x.shape[-mult.dim() :], dim=axes)


def heat_inverse(dy: Tensor, mult: Tensor, rcond: float = 1e-6) -> Tensor:
    """The local inverse: deconvolution of the heat steps, frequencies damped below rcond * max truncated."""
    inv = torch.where(mult > rcond * mult.max(), 1.0 / mult, torch.zeros_like(mult))
    axes = _axes(mult)
    spectrum = torch.fft.rfftn(dy, dim=axes) * inv.to(dy.dtype)
    return torch.fft.irfftn(spectrum, s=dy.shape[-mult.dim() :], dim=axes)


def heat_problem(
    n_samples: int = 16, n: int = HEAT_N, seed: int = 0, dims: int = 1, steps: int = 4
) -> tuple[Tensor, Tensor]:
    """Ground truth x* (random, every frequency present, amplitude ~ 1/sqrt(1 + |k|)) and y* = P(x*)."""
    gen = torch.Generator().manual_seed(seed)
    mult = heat_multiplier(n, steps=steps, dims=dims)
    freq = torch.arange(n // 2 + 1, dtype=torch.float64)
    if dims == 2:
        full = torch.minimum(torch.arange(n), n - torch.arange(n)).double()
        freq = torch.sqrt(full[:, None] ** 2 + freq[None, :] ** 2)
    amp = 1.0 / torch.sqrt(1.0 + freq)
    shape = (n_samples, *mult.shape)
    coef = torch.complex(
        torch.randn(shape, generator=gen, dtype=torch.float64),
        torch.randn(shape, generator=gen, dtype=torch.float64),
    )
    size = (n,) * dims
    x_star = torch.fft.irfftn(coef * amp, s=size, dim=_axes(mult)) * math.sqrt(n**dims)
    return x_star, heat(x_star, mult)


def heat_net(n: int = HEAT_N, hidden: int = 128, seed: int = 0) -> nn.Module:
    """y* (n,) -> x (n,): dense n -> hidden -> n with tanh, plus a linear skip, float64."""
    torch.manual_seed(seed)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = nn.Sequential(nn.Linear(n, hidden), nn.Tanh(), nn.Linear(hidden, n))
            self.skip = nn.Linear(n, n, bias=False)

        def forward(self, y: Tensor) -> Tensor:
            return self.inner(y) + self.skip(y)

    return Net().double()


def train_heat(
    method: str,
    updates: int = 300,
    n_samples: int = 16,
    lr: float = 0.03,
    seed: int = 0,
    rcond: float = 1e-6,
    eval_every: int = 10,
    model: str = "params",
    dims: int = 1,
    heat_steps: int = 4,
) -> list[tuple[int, float, float]]:
    """Recover the initial states x of the heat problem from y* = P(x*) with ``method``:

    - ``"adam"``: DP, Adam on physics_loss(P(x), y*);
    - ``"sip"``: Adam on sip_proxy_loss(x, x~) with x~ = x + P^-1 dy, dy = -(P(x) - y*), the inverse a
      truncated deconvolution (``heat_inverse``, frequencies damped below ``rcond`` dropped);
    - ``"sip-jac"``: the same with the generic ``sip_targets`` (J = dP/dx by n vector-Jacobian products,
      Tikhonov eps = rcond^2 relative to the largest eigenvalue of J J^T, i.e. singular values ~ rcond).

    ``model="params"``: x optimised directly (one free vector per sample, x = 0 at the start);
    ``model="net"``: x = f(y*) by ``heat_net`` (the network learns the inverse problem). The same Adam
    learning rate for all. Returns [(updates, wall_s, loss)] every ``eval_every`` updates and at the end,
    loss = physics_loss (1/2 |P(x) - y*|^2 per sample) on the whole set (a full batch per update), wall_s
    training time only.
    """
    if method not in ("adam", "sip", "sip-jac"):
        raise ValueError(f"method must be 'adam', 'sip' or 'sip-jac', not {method!r}")
    if model not in ("params", "net"):
        raise ValueError(f"model must be 'params' or 'net', not {model!r}")
    if model == "net" and dims != 1:
        raise ValueError("the heat network (heat_net) is 1D; use model='params' in 2D")
    n = HEAT_N if dims == 1 else HEAT_N // 2
    x_star, y_star = heat_problem(n_samples, n, seed=seed, dims=dims, steps=heat_steps)
    mult = heat_multiplier(n, steps=heat_steps, dims=dims)
    if model == "params":
        x_free = torch.zeros_like(x_star, requires_grad=True)
        params = [x_free]

        def predict() -> Tensor:
            return x_free

    else:
        net = heat_net(x_star.shape[1], seed=seed)
        params = list(net.parameters())

        def predict() -> Tensor:
            return net(y_star)

    opt = torch.optim.Adam(params, lr=lr)

    def current() -> float:
        with torch.no_grad():
            return float(physics_loss(heat(predict(), mult), y_star))

    history = [(0, 0.0, current())]
    wall = 0.0
    for step in range(1, updates + 1):
        t0 = time.perf_counter()
        x = predict()
        if method == "adam":
            loss = physics_loss(heat(x, mult), y_star)
        elif method == "sip":
            with torch.no_grad():
                x_tilde = x + heat_inverse(y_star - heat(x, mult), mult, rcond)
            loss = sip_proxy_loss(x, x_tilde)
        else:
            xd = x.detach().requires_grad_(True)
            loss = sip_proxy_loss(x, sip_targets(xd, heat(xd, mult), y_star, eta=1.0, eps=rcond**2))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        wall += time.perf_counter() - t0
        if step % eval_every == 0 or step == updates:
            history.append((step, wall, current()))
    return history
