"""One training loop for the four methods: they differ only in how a batch becomes an update (`update`).

- supervised: L1 between the network's normalised output and the normalised stored state, Adam.
- dp: Adam on L = 1/2 |y - y*|^2, y = P(f(s, Re)) / Cd* = (Cd, Cl) relative to the stored drag.
- sip: Adam on the proxy 1/2 |x - stopgrad(x~)|^2, x~ = x + J_P^+ dy (surrogate.methods.sip_targets).
- hig: theta <- theta - lr V S^-1/2 U^T g from the per-sample Jacobians dy/dtheta (surrogate.methods).
`field_weight` adds the supervised loss to the physics methods' (0 by default: each method as defined).

Checkpoints (surrogate.model_files) are written atomically; a killed training resumes from the last one; a NaN
or exploding loss stops training with a clear message, keeping the last good checkpoint.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from surrogate import coverage, methods, physics, shape_gradient
from surrogate import distributed as dist
from surrogate.datasets import data as dataset
from surrogate.devices import check_device
from surrogate.evaluation import metrics
from surrogate.model import Surrogate
from surrogate.model_files import CARD, METRICS, saved_step
from surrogate.readout import Readout
from surrogate.splits import Batch, Split
from surrogate.start import Start, prepare, write_checkpoint
from surrogate.train_config import DEFAULT_LR, METHODS, OUTPUT_SETS, TrainConfig, TrainingError
from surrogate.window import Window

__all__ = ["DEFAULT_LR", "METHODS", "TrainConfig", "TrainingError", "batch_positions", "train", "update"]


# ------------------------------------------------------------------------------------------- the update rules


def field_loss(model: Surrogate, out: torch.Tensor, target: torch.Tensor, re: torch.Tensor) -> torch.Tensor:
    """The supervised loss: mean L1 between the network's output and the normalised stored state."""
    return torch.mean(torch.abs(out - model.encode(target, re)))


def update(
    method: str,
    model: Surrogate,
    opt: torch.optim.Optimizer,
    cfg: TrainConfig,
    batch: Batch,
    lr: float,
    net: torch.nn.Module | None = None,
    field_opt: torch.optim.Optimizer | None = None,
) -> float:
    """One update of `method` on a batch; returns the loss it reports (the physics loss for dp/sip/hig).

    Each loss term has its own optimiser state and rate. The physics term steps first: Adam (`opt`) on dp's
    loss or sip's proxy, or HIG's half-inverse step at rate `lr`. Then, for a physics method with
    `field_weight` or `residual_weight` above 0, the state terms (the supervised field loss and the PhiFlow
    residual) step with `field_opt`, an Adam of its own rate (`TrainConfig.field_lr`): one optimiser for both
    let the physics method's rate drive the field step (an Adam step at HIG's SGD rate diverges).

    Args:
        net: model.net, or its DistributedDataParallel wrapper when training data-parallel: each process then
            holds its share of the batch, DDP averages the gradients, and HIG gathers every process's
            per-sample Jacobians (and dL/dy) so that each computes the same half-inverse step of the whole
            batch.
        field_opt: the state terms' optimiser; needed when a physics method has a field or residual weight.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; allowed: {', '.join(METHODS)}")
    net = model.net if net is None else net
    if method == "supervised":
        opt.zero_grad()
        loss = _state_loss(model, net(batch.inputs), batch, 1.0, cfg.residual_weight)
        report = float(loss.detach())
        (loss + _gradient_term(model, cfg, batch)).backward()
        opt.step()
        return dist.global_mean(report)
    if method == "hig":
        report = _hig_step(model, cfg, batch, lr)
    else:
        opt.zero_grad()
        x = model.decode(net(batch.inputs), batch.inputs, batch.re)
        y, y_star = physics_outputs(model, x, batch, cfg.outputs)
        loss = methods.physics_loss(y, y_star)
        report = float(loss.detach())
        if method == "sip":
            loss = methods.sip_proxy_loss(x, methods.sip_targets(x, y, y_star, cfg.sip_eta, cfg.sip_eps))
        else:  # dp: the shape-gradient term beside the physics loss, on the same Adam
            loss = loss + _gradient_term(model, cfg, batch)
        loss.backward()
        opt.step()
    gradient_state_term = method in ("sip", "hig") and cfg.gradient_weight
    if cfg.field_weight or cfg.residual_weight or gradient_state_term:
        if field_opt is None:
            raise ValueError(f"{method} with a field or residual weight needs the state terms' own optimiser")
        field_opt.zero_grad()
        state = _state_loss(model, net(batch.inputs), batch, cfg.field_weight, cfg.residual_weight)
        (state + (_gradient_term(model, cfg, batch) if gradient_state_term else 0.0)).backward()
        field_opt.step()
    return dist.global_mean(report)


def physics_outputs(
    model: Surrogate, x: torch.Tensor, batch: Batch, outputs: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """(y, y*) of the physics loss, scaled so that the outputs weigh alike (physics.output_scales).

    Args:
        outputs: "drag": Cd and Cl relative to the stored drag; "all": every output of P (Cd, Cl, the pressure
            part of Cd, Cp at the stations; the batch needs the shapes' read-outs).
    """
    if outputs == "all" and batch.readout is None:
        raise ValueError(
            "the physics loss over all outputs needs the shapes' read-outs (make_split(readouts=True))"
        )
    scale = _output_scale(batch, outputs)
    y_star = batch.y[:, :2] if outputs == "drag" else batch.y
    return _outputs(model, x, batch.re, batch.readout, outputs) / scale, y_star / scale


def _outputs(
    model: Surrogate, x: torch.Tensor, re: torch.Tensor, ro: Readout | None, outputs: str
) -> torch.Tensor:
    """P's unscaled outputs of states x: (Cd, Cl), or all of them (on the read-outs `ro`)."""
    if outputs == "drag":
        return physics.drag_lift_on(x, re, model.window)
    assert ro is not None
    return physics.outputs(x, re, ro, model.window)


def _output_scale(batch: Batch, outputs: str) -> torch.Tensor:
    """Per-sample scales of the outputs: the stored drag for (Cd, Cl); physics.output_scales for all."""
    return batch.y[:, :1] if outputs == "drag" else physics.output_scales(batch.y)


def _state_loss(
    model: Surrogate, out: torch.Tensor, batch: Batch, field_weight: float, residual_weight: float
) -> torch.Tensor:
    """The losses on the predicted state: field_weight x field loss + residual_weight x PhiFlow residual."""
    loss = field_weight * field_loss(model, out, batch.target, batch.re)
    if residual_weight:
        loss = loss + residual_weight * _residual_loss(model, out, batch.inputs, batch.re)
    return loss


def _gradient_term(model: Surrogate, cfg: TrainConfig, batch: Batch) -> torch.Tensor | float:
    """gradient_weight x the shape-gradient loss (surrogate.shape_gradient) on the first `gradient_batch`
    samples of the batch, along random smooth directions drawn from the batch's own data (reproducible)."""
    if not cfg.gradient_weight:
        return 0.0
    if batch.arc is None or batch.sensitivity is None:
        raise ValueError("the shape-gradient term needs make_split(gradients=True)")
    k = cfg.gradient_batch or len(batch.re)
    gen = torch.Generator().manual_seed(int(batch.re[:k].double().sum().item() * 1e6) % 2**31)
    loss = shape_gradient.gradient_loss(
        model, batch.inputs[:k], batch.re[:k], batch.arc[:k], batch.sensitivity[:k], gen
    )
    return cfg.gradient_weight * loss


def _hig_step(model: Surrogate, cfg: TrainConfig, batch: Batch, lr: float) -> float:
    """HIG's step from the whole batch's stacked per-sample Jacobians of the scaled outputs y; returns the
    physics loss before it."""
    x = model.decode(model.net(batch.inputs), batch.inputs, batch.re)
    y, y_star = physics_outputs(model, x, batch, cfg.outputs)
    g = (y - y_star).detach() / (len(y) * dist.world_size())  # dL/dy of physics_loss (a batch mean)
    names = [n for n, p in model.net.named_parameters() if p.requires_grad]
    scale = _output_scale(batch, cfg.outputs).detach()
    ro = batch.readout.tensors() if cfg.outputs == "all" and batch.readout is not None else ()

    def outputs(params: dict[str, torch.Tensor], inp: torch.Tensor, re: torch.Tensor, *rest: torch.Tensor):
        one_scale, maps = rest[0], rest[1:]
        o = torch.func.functional_call(model.net, params, (inp[None],))
        st = model.decode(o, inp[None], re[None])
        one = Readout(*(t[None] for t in maps)) if maps else None
        return _outputs(model, st, re[None], one, cfg.outputs)[0] / one_scale

    jac = methods.per_sample_jacobian(model.net, outputs, (batch.inputs, batch.re, scale, *ro), names)
    jac = {n: dist.gather(j) for n, j in jac.items()}  # every process gets the whole batch's rows and dL/dy
    delta = methods.half_inverse_from_jacobian(jac, dist.gather(g), cfg.hig_tau)
    methods.apply_direction(model.net, delta, lr)
    return float(methods.physics_loss(y.detach(), y_star))


def _residual_loss(model: Surrogate, out: torch.Tensor, inp: torch.Tensor, re: torch.Tensor) -> torch.Tensor:
    from surrogate import residual

    c = residual.consistency(model.decode(out, inp, re), re, inp[:, 0], model.window)
    return torch.mean(c["momentum_rms"] ** 2 + c["continuity_rms"] ** 2)


# ----------------------------------------------------------------------------------------------- the loop


def train(
    data_dir: str | Path,
    out: str | Path,
    cfg: TrainConfig,
    init: str | Path | None = None,
    progress: Callable[[dict], None] | None = None,
) -> dict:
    """Train (or resume) a model in `out`; returns its card.

    Args:
        init: a model folder to start from (a fine-tune keeps its network); None starts a new network.
        progress: called with each step's record (step, loss, lr, wall_s, and val metrics when evaluated).
    """
    out, d = Path(out), _check(cfg, data_dir)
    run = prepare(d, data_dir, out, cfg, init)
    rank, world = dist.rank(), dist.world_size()
    net = _parallel(run.model, cfg, world)
    model, opt, card = run.model, run.opt, run.card
    losses: list[float] = []
    last_ck = time.perf_counter()
    now = time.process_time if cfg.clock == "cpu" else time.perf_counter
    t_start = now() - run.elapsed
    t_eval = 0.0  # evaluation time, kept out of the training clock (time budgets compare updates only)

    def clock() -> float:
        return now() - t_start - t_eval

    def out_of_time() -> bool:
        return not dist.everywhere(not (cfg.max_seconds and clock() >= cfg.max_seconds))

    step, best = run.step, card.get("val_metrics")
    writes = rank == 0  # one process writes the checkpoints, the metrics and the progress
    log = open(out / METRICS, "a") if out.exists() and writes else None  # noqa: SIM115
    try:
        while step < cfg.steps and not out_of_time():
            gen = torch.Generator().manual_seed(
                cfg.seed * 1_000_003 + step
            )  # a batch per step: resumes exactly
            idx = batch_positions(len(run.train), run.focus, cfg, gen)[rank::world]
            decay = _decay(cfg, step, clock())
            lr = cfg.learning_rate() * decay
            _set_rate(opt, lr)
            _set_rate(run.field_opt, cfg.field_lr * decay)
            try:
                batch = run.train.batch(idx, cfg.device)
                loss = update(cfg.method, model, opt, cfg, batch, lr, net, run.field_opt)
            except (
                torch.linalg.LinAlgError
            ):  # HIG's Gram matrix of a diverged network (NaN): stop as for a NaN
                loss = float("nan")
            _check_loss(loss, losses, cfg, step, out)
            losses.append(loss)
            step += 1
            rec: dict[str, Any] = {"step": step, "loss": loss, "lr": lr, "wall_s": clock()}
            last = step == cfg.steps or out_of_time()
            if not writes:
                continue
            if step % cfg.eval_every == 0 or last:
                best, seconds = _validate(model, run.val, cfg.device, now)
                t_eval += seconds
                rec["val"] = {k: best[k] for k in ("cd_rel_err_median", "cd_rel_err_p95", "field_rel_err")}
            if log is None:
                out.mkdir(parents=True, exist_ok=True)
                log = open(out / METRICS, "a")  # noqa: SIM115
            log.write(json.dumps(rec) + "\n")
            log.flush()
            if time.perf_counter() - last_ck > cfg.checkpoint_s or last:
                card.update(step=step, wall_s=clock(), val_metrics=best)
                write_checkpoint(out, model, card, step, clock(), opt, run.field_opt)
                _save_coverage(out, d, run)
                last_ck = time.perf_counter()
            if progress:
                progress({**rec, "steps": cfg.steps})
    finally:
        if log is not None:
            log.close()
    return card


def _check(cfg: TrainConfig, data_dir: str | Path) -> dataset.Data:
    """The dataset, after the method, output set and device are checked (and torch seeded)."""
    if cfg.method not in METHODS:
        raise ValueError(f"unknown method {cfg.method!r}; allowed: {', '.join(METHODS)}")
    if cfg.outputs not in OUTPUT_SETS:
        raise ValueError(f"unknown output set {cfg.outputs!r}; allowed: {', '.join(OUTPUT_SETS)}")
    if cfg.clock not in ("wall", "cpu"):
        raise ValueError(f"unknown clock {cfg.clock!r}; allowed: wall, cpu")
    check_device(cfg.device)
    torch.manual_seed(cfg.seed)
    return dataset.load(data_dir)


def _validate(model: Surrogate, val: Split, device: str, now: Callable[[], float]) -> tuple[dict, float]:
    """The validation split's metrics, and the seconds they took on the training clock `now` (kept off it)."""
    t0 = now()
    model.eval()
    m = metrics(model, val, device)
    model.train()
    return m, now() - t0


def _parallel(model: Surrogate, cfg: TrainConfig, world: int) -> torch.nn.Module:
    """model.net, wrapped for data-parallel training when there are several processes (each takes every
    world-th sample of the same batch; DDP averages the gradients)."""
    if world == 1:
        return model.net
    from torch.nn.parallel import DistributedDataParallel

    if cfg.batch % world:
        raise ValueError(f"--batch {cfg.batch} must be a multiple of the {world} processes")
    devices = [torch.cuda.current_device()] if cfg.device == "cuda" else None
    return DistributedDataParallel(model.net, device_ids=devices)


def _decay(cfg: TrainConfig, step: int, elapsed: float) -> float:
    """The rates' factor: cosine decay to 5% over the steps, or over the time budget when that ends first."""
    done = step / cfg.steps
    if cfg.max_seconds:  # one schedule for all processes
        done = dist.global_max(max(done, min(elapsed / cfg.max_seconds, 1.0)))
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * done))


def _set_rate(opt: torch.optim.Optimizer | None, lr: float) -> None:
    for group in opt.param_groups if opt is not None else ():
        group["lr"] = lr


def _check_loss(loss: float, losses: list[float], cfg: TrainConfig, step: int, out: Path) -> None:
    """TrainingError when the loss is not finite or exploded (a thousand times the recent median)."""
    if math.isfinite(loss) and not (len(losses) > 50 and loss > 1e3 * float(np.median(losses[-50:]))):
        return
    what = f"became {loss}" if not math.isfinite(loss) else f"exploded to {loss:.3g}"
    kept = (
        f"the last good checkpoint (step {saved_step(out)}) is kept in {out}"
        if (out / CARD).exists()
        else "no checkpoint was written yet (nothing was overwritten)"
    )
    raise TrainingError(f"the {cfg.method} loss {what} at step {step + 1}; {kept}; try a smaller --lr")


def batch_positions(
    n: int, focus: torch.Tensor | None, cfg: TrainConfig, gen: torch.Generator
) -> torch.Tensor:
    """A step's sample positions: uniform, or with round(share * batch) of them drawn from the focus rows (so
    that a few hundred new samples among thousands are seen every step, as `dragopt refine` needs)."""
    if focus is None:
        return torch.randint(n, (cfg.batch,), generator=gen)
    k = max(1, round(cfg.focus_share * cfg.batch))
    rest = torch.randint(n, (cfg.batch - k,), generator=gen)
    return torch.cat([rest, focus[torch.randint(len(focus), (k,), generator=gen)]])


def _save_coverage(out: Path, d: dataset.Data, run: Start) -> None:
    """The training shapes, for out-of-distribution scores (once per folder)."""
    if not (out / coverage.FILE).exists():
        a = d.arrays["points"]
        fit = Window.from_dict(d.manifest["settings"]["window"]).fit_half_width()
        coverage.save(out, coverage.build(a[run.train.rows], a[run.val.rows], fit))
