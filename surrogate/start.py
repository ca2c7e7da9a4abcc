"""Where a training starts: its own checkpoint (a resumed run), a model to fine-tune, or a new network; and
the checkpoints it writes (surrogate.model_files' format plus the optimiser state, each written
atomically)."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from geometry.io import atomic_write
from surrogate import physics
from surrogate.datasets import data as dataset
from surrogate.devices import hardware
from surrogate.model import P_SCALE_RE, Config, Surrogate
from surrogate.model_files import (
    CARD,
    FORMAT,
    STATE,
    ModelError,
    check_compatible,
    lineage_of,
    load_model,
    save_model,
)
from surrogate.paths import portable
from surrogate.splits import Split, make_split
from surrogate.train_config import TrainConfig


@dataclass
class Start:
    """What the loop needs besides its config: the model, its card, splits and optimiser, and where it
    resumes."""

    model: Surrogate
    card: dict
    train: Split
    val: Split
    focus: torch.Tensor | None
    opt: torch.optim.Optimizer
    field_opt: (
        torch.optim.Optimizer | None
    )  # the state terms' own Adam (a physics method with a field weight)
    step: int = 0
    elapsed: float = 0.0


def prepare(
    d: dataset.Data, data_dir: str | Path, out: Path, cfg: TrainConfig, init: str | Path | None
) -> Start:
    """The model (resumed, fine-tuned from `init`, or new), its card, splits and optimiser."""
    resume = (out / STATE).is_file() and (out / CARD).is_file()
    saved: dict = {}
    if resume:
        model, saved = load_model(out, cfg.device)
        if (
            saved["train"]["method"] != cfg.method
            or saved["dataset"]["settings_hash"] != d.manifest["settings_hash"]
        ):
            raise ModelError(
                f"{out} holds a {saved['train']['method']} training "
                f"on dataset {saved['dataset']['settings_hash']}; give another --out to start a new one"
            )
    elif init is not None:
        model, start = load_model(init, cfg.device)
        check_compatible(start, d.manifest)
        saved["lineage"] = lineage_of(start, init)
    else:
        model = new_model(d, cfg)
    check_compatible({"architecture": model.config.to_dict()}, d.manifest)
    cfg.base, cfg.depth = model.config.base, model.config.depth  # a fine-tune keeps its start's network
    model.train()
    every = cfg.outputs == "all"  # the shapes' read-outs, for P's outputs beyond Cd and Cl
    grads = cfg.gradient_weight > 0  # each cell's nearest arc position and the sensitivities
    train_split = make_split(d, "train", model, every, grads)
    val_split = make_split(d, "val", model, every)
    if every:
        train_split = with_window_cp(train_split, model)
    if cfg.bootstrap:  # n draws with replacement from the n training samples, the same for every resume
        gen = torch.Generator().manual_seed(cfg.seed)
        train_split = train_split.take(torch.randint(len(train_split), (len(train_split),), generator=gen))
    focus = _focus_rows(d, train_split, cfg)
    if cfg.device != "cpu":
        train_split = train_split.to(cfg.device)
    opt = torch.optim.Adam(model.net.parameters(), cfg.learning_rate())
    state_terms = (
        cfg.method in ("sip", "hig")
        and bool(cfg.gradient_weight)
        or (cfg.method != "supervised" and bool(cfg.field_weight or cfg.residual_weight))
    )
    field_opt = torch.optim.Adam(model.net.parameters(), cfg.field_lr) if state_terms else None
    run = Start(model, {}, train_split, val_split, focus, opt, field_opt)
    if resume:
        state = torch.load(out / STATE, weights_only=True)
        _check_resume(out, state, cfg)
        if "model" in state:  # the weights that go with this optimiser state (the card's may be a step ahead)
            model.load_state_dict(state["model"])
        run.opt.load_state_dict(state["optimizer"])
        if field_opt is not None and "field_optimizer" in state:
            field_opt.load_state_dict(state["field_optimizer"])
        run.step, run.elapsed = int(state["step"]), float(state["elapsed"])
        torch.set_rng_state(state["rng"])
    run.card = {
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
        "lineage": saved.get("lineage", []),  # the trainings this one started from, oldest first
        "hardware": hardware(cfg.device),
    }
    run.card.update({k: saved[k] for k in ("init", "step", "wall_s", "val_metrics") if k in saved})  # resumed
    return run


def with_window_cp(split: Split, model: Surrogate) -> Split:
    """The split with its Cp targets read by P from the stored states: what the window resolves (for a body
    shown shrunk, coarser than the solver's surface Cp; the same to 1e-7 for the rest), so that the physics
    loss over every output can reach zero on the stored states."""
    assert split.readout is not None
    y = split.y.clone()
    with torch.no_grad():
        for i in range(0, len(split), 256):
            b = split.batch(slice(i, i + 256), "cpu")
            assert b.readout is not None
            cp = physics.outputs(
                b.target.double(), b.re.double(), b.readout.to("cpu", torch.float64), model.window
            )
            y[i : i + 256, 3:] = cp[:, 3:].float()
    return dataclasses.replace(split, y=y)


def new_model(d: dataset.Data, cfg: TrainConfig) -> Surrogate:
    """A fresh network for the dataset's window, its input and output scales from the training split."""
    arch = Config(base=cfg.base, depth=cfg.depth, window=d.manifest["settings"]["window"])
    stats = dataset.stats(d)
    arch.log_re_mean, arch.log_re_std = stats["log_re_mean"], stats["log_re_std"]
    rows = dataset.indices(d, "train")[
        :1000
    ]  # output scales: std of u - 1, v and p / (1 + 5/Re) outside bodies
    f = d.arrays["fields"][rows].astype(np.float64)
    re = d.arrays["re"][rows][:, None, None]
    arch.s_u = float(np.std(f[:, 0] - 1))
    arch.s_v = float(np.std(f[:, 1]))
    arch.s_p = float(np.std(f[:, 2] / (1 + P_SCALE_RE / re)))
    return Surrogate(arch).to(cfg.device)


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


def _check_resume(out: Path, state: dict, cfg: TrainConfig) -> None:
    """A resumed run must count time on the same clock and train the same outputs (an older state: the
    defaults)."""
    for key, default in (("clock", "wall"), ("outputs", "drag")):
        saved, asked = state.get(key, default), getattr(cfg, key)
        if saved != asked:
            raise ModelError(
                f"{out} holds a training with {key} {saved!r}, not {asked!r}; give another --out"
            )


def write_checkpoint(
    out: Path,
    model: Surrogate,
    card: dict,
    step: int,
    elapsed: float,
    opt: torch.optim.Optimizer,
    field_opt: torch.optim.Optimizer | None = None,
) -> None:
    """The weights and card (surrogate.model_files), then the training state: the weights again with the
    optimisers' states, step, time and its clock, RNG and output set (a kill between the files resumes from
    the state, whole)."""
    save_model(out, model, card)
    state = {"optimizer": opt.state_dict(), "step": step, "elapsed": elapsed, "rng": torch.get_rng_state()}
    state.update(model={k: v.detach().cpu() for k, v in model.state_dict().items()})
    state.update(clock=card["train"].get("clock", "wall"), outputs=card["train"].get("outputs", "drag"))
    if field_opt is not None:
        state["field_optimizer"] = field_opt.state_dict()
    atomic_write(out / STATE, lambda tmp: torch.save(state, tmp))
