"""One training loop for the four methods (DESIGN.md section 3): they differ only in how a batch becomes an update.

- supervised: L1 between the network's normalised output and the normalised stored state, Adam.
- dp:  Adam on L = 1/2 |y - y*|^2, y = P(f(s, Re)) / Cd* = (Cd, Cl) relative to the stored drag.
- sip: Adam on the proxy 1/2 |x - stopgrad(x~)|^2, x~ = x + J_P^+ dy (surrogate.methods.sip_targets).
- hig: theta <- theta - lr V S^-1/2 U^T g from the per-sample Jacobians dy/dtheta (surrogate.methods.hig_direction).
`field_weight` adds the supervised loss to the physics methods' (0 by default: each method as DESIGN defines it).

A model folder holds `model.safetensors` (weights), `model.json` (architecture, normalisation, method, dataset hash,
step, metrics), `train_state.pt` (optimiser state, loaded with weights_only) and `metrics.jsonl`. Checkpoints are
written atomically; a killed training resumes from the last one; a NaN or exploding loss stops training with a clear
message, keeping the last good checkpoint.
"""

from __future__ import annotations

import json
import math
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from geometry.io import atomic_write_text
from surrogate import coverage, physics
from surrogate import data as dataset
from surrogate.defaults import portable
from surrogate.model import Config, Surrogate, shape_channels

FORMAT = 1
WEIGHTS, CARD, STATE, METRICS = "model.safetensors", "model.json", "train_state.pt", "metrics.jsonl"
METHODS = ("supervised", "dp", "sip", "hig")
DEFAULT_LR = {"supervised": 1e-3, "dp": 1e-4, "sip": 1e-4, "hig": 0.3}  # docs/method-comparison.md: lr sweep


class TrainingError(RuntimeError):
    """Training stopped (NaN or exploding loss): the message says where and what was kept."""


class ModelError(ValueError):
    """A model folder that cannot be used: missing, corrupt, or made for another window or format."""


@dataclass
class TrainConfig:
    method: str = "supervised"
    steps: int = 10_000
    batch: int = 32
    lr: float | None = None  # default per method (DEFAULT_LR); cosine decay to 5% over `steps`
    seed: int = 0
    bootstrap: bool = (
        False  # train on a bootstrap resample of the training split (seeded): an ensemble member
    )
    base: int = 16
    depth: int = 3
    field_weight: float = 0.0  # supervised loss added to dp/sip/hig
    focus: str | None = None  # a sample family (e.g. 'refine') that gets `focus_share` of every batch
    focus_share: float = 0.25
    residual_weight: float = 0.0  # PhiFlow Navier-Stokes residual (surrogate.residual) added to the Adam loss
    sip_eta: float = 1.0
    sip_eps: float = 1e-6
    hig_tau: float = 1e-6
    eval_every: int = 250
    checkpoint_s: float = 60.0
    device: str = "cpu"
    max_seconds: float | None = None  # stop after this much training time; the learning rate decays over it

    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.method]


# ----------------------------------------------------------------------------------------------- saving, loading


def save_model(folder: Path, model: Surrogate, card: dict) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".weights.", suffix=".tmp")
    os.fchmod(fd, 0o644)  # mkstemp makes 0600; a model folder is for sharing
    os.close(fd)
    try:
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, tmp)
        os.replace(tmp, folder / WEIGHTS)
    finally:
        Path(tmp).unlink(missing_ok=True)
    atomic_write_text(folder / CARD, json.dumps(card, indent=1, default=float) + "\n")


def load_model(folder: str | Path, device: str = "cpu") -> tuple[Surrogate, dict]:
    """A model folder -> (model in eval mode, its card); checks both files before using them."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from surrogate import ensemble

    folder = Path(folder)
    if ensemble.is_ensemble(folder):
        raise ModelError(
            f"{folder} is an ensemble; this needs one network: give one of its members (e.g. {folder / 'member-0'})"
        )
    if not (folder / CARD).is_file() or not (folder / WEIGHTS).is_file():
        raise ModelError(
            f"{folder} is not a model folder (it needs {CARD} and {WEIGHTS}; train one with `dragopt train`)"
        )
    try:
        card = json.loads((folder / CARD).read_text())
        config = Config.from_dict(card["architecture"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ModelError(f"{folder / CARD} is not a valid model card ({exc})") from None
    if card.get("format") != FORMAT:
        raise ModelError(
            f"{folder} has model format {card.get('format')!r}; this dragopt reads format {FORMAT}"
        )
    model = Surrogate(config)
    try:
        weights = load_file(str(folder / WEIGHTS))
        model.load_state_dict(weights)
    except (SafetensorError, RuntimeError, OSError) as exc:
        raise ModelError(
            f"{folder / WEIGHTS} is corrupt or does not match its card ({' '.join(str(exc).split())[:200]})"
        ) from None
    return model.to(device).eval(), card


# ----------------------------------------------------------------------------------------------- data on tensors


_GEOMETRY: dict[tuple, torch.Tensor] = {}  # rasterised shapes of recent splits, reused by the next model


@dataclass
class Split:
    inputs: torch.Tensor  # (N, 5, n, n) network inputs
    target: torch.Tensor  # (N, 3, n, n) stored state
    re: torch.Tensor  # (N,)
    y: torch.Tensor  # (N, 2) stored Cd, Cl
    rows: np.ndarray  # positions in the dataset

    def __len__(self) -> int:
        return len(self.rows)

    def batch(self, idx, device) -> tuple[torch.Tensor, ...]:
        return tuple(t[idx].to(device) for t in (self.inputs, self.target, self.re, self.y))

    def to(self, device: str) -> Split:
        """The tensors on `device` (a GPU holds a whole training set: batches are then cut there)."""
        return Split(*(t.to(device) for t in (self.inputs, self.target, self.re, self.y)), self.rows)


def make_split(d: dataset.Data, name: str | None, model: Surrogate) -> Split:
    """The usable samples of one split (None: all) as tensors, with the network's inputs computed once."""
    rows = dataset.indices(d, name)
    a = d.arrays
    re = torch.as_tensor(a["re"][rows], dtype=torch.float32)
    key = (
        str(d.folder),
        dataset.fingerprint(d.manifest),
        name,
        json.dumps(model.config.window, sort_keys=True),
    )
    if key not in _GEOMETRY:  # the rasterised shapes: the same for every model on this window
        pts = torch.as_tensor(a["points"][rows], dtype=torch.float32)
        with torch.no_grad():
            geo = torch.cat(
                [shape_channels(pts[i : i + 256], model.window) for i in range(0, len(rows), 256)]
            )
        if len(_GEOMETRY) >= 4:
            _GEOMETRY.pop(next(iter(_GEOMETRY)))
        _GEOMETRY[key] = geo
    with torch.no_grad():
        inputs = model.assemble(_GEOMETRY[key], re)
    y = torch.as_tensor(np.stack([a["cd"][rows], a["cl"][rows]], 1), dtype=torch.float32)
    return Split(inputs, torch.as_tensor(a["fields"][rows]), re, y, rows)


def check_compatible(card: dict, manifest: dict) -> None:
    """A model and a dataset (its manifest) must share the window (the grid the network predicts on)."""
    w_model, w_data = card["architecture"].get("window"), manifest["settings"]["window"]
    if w_model != w_data:
        raise ModelError(
            f"model and dataset windows differ (model {w_model}, dataset {w_data}); use matching ones"
        )


# ----------------------------------------------------------------------------------------------- the update rules


def field_loss(model: Surrogate, out: torch.Tensor, inp, target, re) -> torch.Tensor:
    return torch.mean(torch.abs(out - model.encode(target, re)))


def update(method: str, model: Surrogate, opt, cfg: TrainConfig, batch, lr: float, net=None) -> float:
    """One update of `method` on a batch; returns the loss it reports (the physics loss for dp/sip/hig).

    `net` is model.net, or its DistributedDataParallel wrapper when training data-parallel: then each process
    holds its share of the batch, DDP averages the gradients, and HIG gathers every process's per-sample
    Jacobians (and dL/dy) so that each computes the same half-inverse step of the whole batch."""
    from surrogate import methods

    net = model.net if net is None else net
    world = _world()
    inp, target, re, y_star = batch
    scale = y_star[:, :1]  # relative to the stored drag: every Re weighs the same
    if method == "hig":
        out = model.net(inp)
        x = model.decode(out, inp, re)
        y = physics.drag_lift(x, re) / scale
        g = (y - y_star / scale).detach() / (len(y) * world)  # dL/dy of physics_loss (a mean over the batch)
        names = [n for n, p in model.net.named_parameters() if p.requires_grad]

        def outputs(params, one_inp, one_re, one_scale):
            o = torch.func.functional_call(model.net, params, (one_inp[None],))
            st = model.decode(o, one_inp[None], one_re[None])
            return physics.drag_lift(st, one_re[None])[0] / one_scale

        jac = methods.per_sample_jacobian(model.net, outputs, (inp, re, scale[:, 0]), names)
        if world > 1:  # every process gets the whole batch's Jacobian rows and dL/dy
            jac = {n: _gather(j) for n, j in jac.items()}
            g = _gather(g)
        delta = methods.half_inverse_from_jacobian(jac, g, cfg.hig_tau)
        methods.apply_direction(model.net, delta, lr)
        if cfg.field_weight:
            opt.zero_grad()
            (cfg.field_weight * field_loss(model, net(inp), inp, target, re)).backward()
            opt.step()
        return _mean(float(methods.physics_loss(y.detach(), y_star / scale)))
    opt.zero_grad()
    out = net(inp)
    if method == "supervised":
        loss = field_loss(model, out, inp, target, re)
        if cfg.residual_weight:
            loss = loss + cfg.residual_weight * _residual_loss(model, out, inp, re)
        loss.backward()
        opt.step()
        return _mean(float(loss.detach()))
    x = model.decode(out, inp, re)
    y = physics.drag_lift(x, re) / scale
    report = methods.physics_loss(y, y_star / scale)
    if method == "dp":
        loss = report
    elif method == "sip":
        x_tilde = methods.sip_targets(x, y, y_star / scale, cfg.sip_eta, cfg.sip_eps)
        loss = methods.sip_proxy_loss(x, x_tilde)
    else:
        raise ValueError(f"unknown method {method!r}; allowed: {', '.join(METHODS)}")
    if cfg.field_weight:
        loss = loss + cfg.field_weight * field_loss(model, out, inp, target, re)
    if cfg.residual_weight:
        loss = loss + cfg.residual_weight * _residual_loss(model, out, inp, re)
    loss.backward()
    opt.step()
    return _mean(float(report.detach()))


def _world() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _rank() -> int:
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def _gather(t: torch.Tensor) -> torch.Tensor:
    """Concatenate every process's tensor along dim 0, in rank order."""
    import torch.distributed as dist

    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts)


def _all(flag: bool) -> bool:
    """Whether flag holds in every process (the processes stop together)."""
    if _world() == 1:
        return bool(flag)
    import torch.distributed as dist

    t = torch.tensor([1 if flag else 0])
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())


def _reduce(v: float, op: str) -> float:
    """v combined over the processes with torch.distributed's ReduceOp `op` (v itself in one process)."""
    if _world() == 1:
        return v
    import torch.distributed as dist

    t = torch.tensor([v], dtype=torch.float64)
    dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
    return float(t.item())


def _max(v: float) -> float:
    return _reduce(v, "MAX")


def _mean(v: float) -> float:
    """A reported loss averaged over the processes (the whole batch's), or v in one process."""
    return _reduce(v, "SUM") / _world()


def _residual_loss(model: Surrogate, out: torch.Tensor, inp: torch.Tensor, re: torch.Tensor) -> torch.Tensor:
    from surrogate import residual

    c = residual.consistency(model.decode(out, inp, re), re, inp[:, 0], model.window)
    return torch.mean(c["momentum_rms"] ** 2 + c["continuity_rms"] ** 2)


# ----------------------------------------------------------------------------------------------- evaluation


@torch.no_grad()
def predict_split(
    model: Surrogate, split: Split, device: str, batch: int = 64, members: list | None = None
) -> dict[str, np.ndarray]:
    """Cd, Cl, field error and PhiFlow residuals per sample. With `members` (an ensemble): Cd and Cl are the
    members' mean (as optim.backends predicts), the fields their mean state."""
    from surrogate import residual

    models = members or [model]
    out: dict[str, list] = {
        k: [] for k in ("cd", "cl", "field_rel_err", "mom", "div", "mom_true", "div_true")
    }
    for i in range(0, len(split), batch):
        inp, target, re, _ = split.batch(slice(i, i + batch), device)
        xs = [m.forward_inputs(inp, re) for m in models]
        y = torch.stack([physics.drag_lift(x.double(), re.double()) for x in xs]).mean(0)
        x = torch.stack(xs).mean(0)
        out["cd"].append(y[:, 0].cpu().numpy())
        out["cl"].append(y[:, 1].cpu().numpy())
        num = torch.linalg.vector_norm((x - target).flatten(1), dim=1)
        out["field_rel_err"].append((num / torch.linalg.vector_norm(target.flatten(1), dim=1)).cpu().numpy())
        for state, suffix in ((x, ""), (target, "_true")):  # PhiFlow on the CPU
            c = residual.consistency(state.cpu(), re.cpu(), inp[:, 0].cpu(), model.window)
            out["mom" + suffix].append(c["momentum_rms"].cpu().numpy())
            out["div" + suffix].append(c["continuity_rms"].cpu().numpy())
    return {k: np.concatenate(v) for k, v in out.items()}


def metrics(model: Surrogate, split: Split, device: str, members: list | None = None) -> dict:
    """Cd relative error (median, p95, max), Cl error relative to Cd, field error; overall and per Re band."""
    pred = predict_split(model, split, device, members=members)
    cd_true, cl_true, re = (split.y[:, 0].double().numpy(), split.y[:, 1].double().numpy(), split.re.numpy())
    err = np.abs(pred["cd"] / cd_true - 1)
    cl_err = np.abs(pred["cl"] - cl_true)

    def summary(sel) -> dict:
        if not sel.any():
            return {"n": 0}
        return {
            "n": int(sel.sum()),
            "cd_rel_err_median": float(np.median(err[sel])),
            "cd_rel_err_p95": float(np.percentile(err[sel], 95)),
            "cd_rel_err_max": float(err[sel].max()),
            "cl_abs_err_median": float(np.median(cl_err[sel])),
            "cl_err_rel_cd_median": float(np.median(cl_err[sel] / cd_true[sel])),
            "field_rel_err": float(np.median(pred["field_rel_err"][sel])),
            "ns_momentum_rms": float(np.median(pred["mom"][sel])),
            "ns_continuity_rms": float(np.median(pred["div"][sel])),
            "ns_momentum_rms_solver": float(np.median(pred["mom_true"][sel])),
            "ns_continuity_rms_solver": float(np.median(pred["div_true"][sel])),
        }

    out = summary(np.ones(len(err), bool))
    out["bands"] = {
        f"{lo:g}-{hi:g}": summary((re >= lo) & (re < hi)) for lo, hi in ((0, 3), (3, 10), (10, 1e9))
    }
    return out


# ----------------------------------------------------------------------------------------------- the loop


def check_device(device: str) -> None:
    """A ValueError naming the fix when CUDA is asked for on a machine without it (before any work)."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA GPU is available here; use --device cpu")


def train(
    data_dir: str | Path,
    out: str | Path,
    cfg: TrainConfig,
    init: str | Path | None = None,
    progress: Callable[[dict], None] | None = None,
) -> dict:
    """Train (or resume) a model in `out`; returns its card."""
    if cfg.method not in METHODS:
        raise ValueError(f"unknown method {cfg.method!r}; allowed: {', '.join(METHODS)}")
    check_device(cfg.device)
    out = Path(out)
    torch.manual_seed(cfg.seed)
    d = dataset.load(data_dir)
    stats = dataset.stats(d)
    resume = (out / STATE).is_file() and (out / CARD).is_file()
    saved: dict = {}
    if resume:
        model, card = load_model(out, cfg.device)
        saved = card
        if (
            card["train"]["method"] != cfg.method
            or card["dataset"]["settings_hash"] != d.manifest["settings_hash"]
        ):
            raise ModelError(
                f"{out} holds a {card['train']['method']} training on dataset {card['dataset']['settings_hash']}; "
                "give another --out to start a new one"
            )
    elif init is not None:
        model, card = load_model(init, cfg.device)
        check_compatible(card, d.manifest)
        saved["lineage"] = lineage_of(card, init)
    else:
        arch = Config(base=cfg.base, depth=cfg.depth, window=d.manifest["settings"]["window"])
        arch.log_re_mean, arch.log_re_std = stats["log_re_mean"], stats["log_re_std"]
        _set_scales(arch, d)
        model = Surrogate(arch).to(cfg.device)
    check_compatible({"architecture": model.config.to_dict()}, d.manifest)
    cfg.base, cfg.depth = model.config.base, model.config.depth  # a fine-tune keeps its start's network
    lineage = saved.get("lineage", [])
    model.train()
    train_split, val_split = make_split(d, "train", model), make_split(d, "val", model)
    if cfg.bootstrap:  # n draws with replacement from the n training samples, the same for every resume
        pick = torch.randint(
            len(train_split), (len(train_split),), generator=torch.Generator().manual_seed(cfg.seed)
        )
        train_split = Split(*(t[pick] for t in (train_split.inputs, train_split.target, train_split.re, train_split.y)),
                            train_split.rows[pick.numpy()])  # fmt: skip
    focus = _focus_rows(d, train_split, cfg)
    if cfg.device != "cpu":
        train_split = train_split.to(cfg.device)
    opt = torch.optim.Adam(model.net.parameters(), lr=cfg.learning_rate())
    step, elapsed, best = 0, 0.0, None
    if resume:
        state = torch.load(out / STATE, weights_only=True)
        opt.load_state_dict(state["optimizer"])
        step, elapsed = int(state["step"]), float(state["elapsed"])
        torch.set_rng_state(state["rng"])
    card = {
        "format": FORMAT,
        "architecture": model.config.to_dict(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "train": asdict(cfg),
        "init": portable(init) if init else None,
        "dataset": {
            "folder": portable(data_dir),
            "settings_hash": d.manifest["settings_hash"],
            "n_train": len(train_split),
            "re": d.manifest["settings"].get("re"),  # the trained range (warnings outside it)
        },
        "lineage": lineage,  # the trainings this one started from, oldest first
        "hardware": _hardware(cfg.device),
    }
    card.update(
        {k: saved[k] for k in ("init", "step", "wall_s", "val_metrics") if k in saved}
    )  # a resumed run
    losses: list[float] = []
    last_ck = time.perf_counter()
    t_start = time.perf_counter() - elapsed
    t_eval = 0.0  # evaluation time, kept out of the training clock (wall-time budgets compare updates only)

    def clock() -> float:
        return time.perf_counter() - t_start - t_eval

    rank, world = _rank(), _world()
    net = model.net
    if world > 1:  # data-parallel: each process takes every world-th sample of the same batch; DDP averages
        from torch.nn.parallel import DistributedDataParallel

        if cfg.batch % world:
            raise ValueError(f"--batch {cfg.batch} must be a multiple of the {world} processes")
        net = DistributedDataParallel(
            model.net, device_ids=[torch.cuda.current_device()] if cfg.device == "cuda" else None
        )
    writes = rank == 0  # one process writes the checkpoints, the metrics and the progress
    log = open(out / METRICS, "a") if out.exists() and writes else None  # noqa: SIM115
    try:
        while _all(step < cfg.steps and not (cfg.max_seconds and clock() >= cfg.max_seconds)):
            gen = torch.Generator().manual_seed(
                cfg.seed * 1_000_003 + step
            )  # a batch per step: resumes exactly
            idx = _batch(len(train_split), focus, cfg, gen)[rank::world]
            done = step / cfg.steps
            if cfg.max_seconds:
                done = _max(max(done, min(clock() / cfg.max_seconds, 1.0)))  # one schedule for all processes
            lr = cfg.learning_rate() * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * done)))
            for group in opt.param_groups:
                group["lr"] = lr
            try:
                loss = update(cfg.method, model, opt, cfg, train_split.batch(idx, cfg.device), lr, net)
            except (
                torch.linalg.LinAlgError
            ):  # HIG's Gram matrix of a diverged network (NaN): stop as for a NaN
                loss = float("nan")
            if not math.isfinite(loss) or (len(losses) > 50 and loss > 1e3 * float(np.median(losses[-50:]))):
                what = f"became {loss}" if not math.isfinite(loss) else f"exploded to {loss:.3g}"
                kept = (
                    f"the last good checkpoint (step {_saved_step(out)}) is kept in {out}"
                    if (out / CARD).exists()
                    else "no checkpoint was written yet (nothing was overwritten)"
                )
                raise TrainingError(
                    f"the {cfg.method} loss {what} at step {step + 1}; {kept}; try a smaller --lr"
                )
            losses.append(loss)
            step += 1
            rec = {"step": step, "loss": loss, "lr": lr, "wall_s": clock()}
            out_of_time = not _all(not (cfg.max_seconds and clock() >= cfg.max_seconds))
            last = step == cfg.steps or out_of_time
            if not writes:
                continue
            if step % cfg.eval_every == 0 or last:
                t0 = time.perf_counter()
                model.eval()
                m = metrics(model, val_split, cfg.device)
                model.train()
                t_eval += time.perf_counter() - t0
                rec["val"] = {k: m[k] for k in ("cd_rel_err_median", "cd_rel_err_p95", "field_rel_err")}
                best = m
            if log is None:
                out.mkdir(parents=True, exist_ok=True)
                log = open(out / METRICS, "a")  # noqa: SIM115
            log.write(json.dumps(rec) + "\n")
            log.flush()
            if time.perf_counter() - last_ck > cfg.checkpoint_s or last:
                card.update(step=step, wall_s=clock(), val_metrics=best)
                _checkpoint(out, model, opt, card, step, clock())
                if not (out / coverage.FILE).exists():  # the training shapes, for out-of-distribution scores
                    a = d.arrays["points"]
                    coverage.save(out, coverage.build(a[train_split.rows], a[val_split.rows]))
                last_ck = time.perf_counter()
            if progress:
                progress({**rec, "steps": cfg.steps})
    finally:
        if log is not None:
            log.close()
    return card


def _focus_rows(d: dataset.Data, split: Split, cfg: TrainConfig) -> torch.Tensor | None:
    """Positions in the training split of the focus family's samples (None: no focus)."""
    if cfg.focus is None:
        return None
    if not 0 < cfg.focus_share < 1:
        raise ValueError(f"the focus share must be between 0 and 1; got {cfg.focus_share}")
    rows = np.flatnonzero(d.arrays["family"][split.rows] == cfg.focus)
    if len(rows) == 0:
        raise ValueError(f"the training split holds no samples of family {cfg.focus!r} to focus on")
    return torch.as_tensor(rows)


def _batch(n: int, focus: torch.Tensor | None, cfg: TrainConfig, gen: torch.Generator) -> torch.Tensor:
    """A step's sample positions: uniform, or with round(share * batch) of them drawn from the focus rows (so
    that a few hundred new samples among thousands are seen every step, as `dragopt refine` needs)."""
    if focus is None:
        return torch.randint(n, (cfg.batch,), generator=gen)
    k = max(1, round(cfg.focus_share * cfg.batch))
    rest = torch.randint(n, (cfg.batch - k,), generator=gen)
    return torch.cat([rest, focus[torch.randint(len(focus), (k,), generator=gen)]])


def evaluate(
    model_dir: str | Path, data_dir: str | Path, split: str | None = None, device: str = "cpu"
) -> dict:
    """Metrics of a model or an ensemble (its members' mean) on a dataset (all its usable samples by default: a
    held-out test set)."""
    from surrogate import ensemble

    check_device(device)
    if ensemble.is_ensemble(model_dir):
        members, card = ensemble.load(model_dir, device)
        model = members[0]
    else:
        (model, card), members = load_model(model_dir, device), None
    d = dataset.load(data_dir)
    check_compatible(card, d.manifest)
    out = metrics(model, make_split(d, split, model), device, members)
    out["model"], out["data"] = portable(model_dir), portable(data_dir)
    out["method"] = card["train"]["method"]
    return out


def _set_scales(arch: Config, d: dataset.Data) -> None:
    """Output scales from the training split: std of u - 1, v and p / (1 + 5/Re) outside the bodies."""
    from surrogate.model import P_SCALE_RE

    rows = dataset.indices(d, "train")[:1000]
    f = d.arrays["fields"][rows].astype(np.float64)
    re = d.arrays["re"][rows][:, None, None]
    arch.s_u = float(np.std(f[:, 0] - 1))
    arch.s_v = float(np.std(f[:, 1]))
    arch.s_p = float(np.std(f[:, 2] / (1 + P_SCALE_RE / re)))


def _checkpoint(out: Path, model: Surrogate, opt, card: dict, step: int, elapsed: float) -> None:
    save_model(out, model, card)
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".state.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(
            {"optimizer": opt.state_dict(), "step": step, "elapsed": elapsed, "rng": torch.get_rng_state()},
            tmp,
        )
        os.replace(tmp, out / STATE)
    finally:
        Path(tmp).unlink(missing_ok=True)


def lineage_of(card: dict, folder) -> list[dict]:
    """The start model's own lineage plus one record of it: what a fine-tuned model was built from."""
    t = card.get("train", {})
    inherited = [{**e, "model": portable(e["model"])} if "model" in e else e for e in card.get("lineage", [])]
    return [
        *inherited,  # cards written before they were portable held absolute paths
        {
            "model": portable(folder),
            "method": t.get("method"),
            "steps": card.get("step"),
            "batch": t.get("batch"),
            "lr": t.get("lr"),
            "field_weight": t.get("field_weight"),
            "wall_s": card.get("wall_s"),
            "hardware": card.get("hardware"),
            "dataset": card.get("dataset", {}).get("settings_hash"),
        },
    ]


def record_metrics(model_dir: str | Path, key: str, metrics_: dict) -> None:
    """Store metrics in a model's card (one network's or an ensemble's model.json; atomically), e.g. its test-set
    metrics."""
    path = Path(model_dir) / CARD
    card = json.loads(path.read_text())
    card[key] = metrics_
    atomic_write_text(path, json.dumps(card, indent=1, default=float) + "\n")


def _hardware(device: str) -> str:
    cpu = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(torch.device(device))} ({cpu})"
    return f"{cpu}, cpu"


def _saved_step(out: Path) -> int:
    try:
        return int(json.loads((out / CARD).read_text()).get("step", 0))
    except (OSError, ValueError):
        return 0
