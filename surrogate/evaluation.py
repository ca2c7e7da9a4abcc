"""How good a surrogate is on a dataset: per-sample predictions, then Cd, Cl and field errors overall and per
Re band, with the Navier-Stokes residuals of the predicted fields beside the solver's own (PhiFlow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from surrogate import model_files, physics, residual
from surrogate.datasets import data as dataset
from surrogate.devices import check_device
from surrogate.model import Surrogate
from surrogate.paths import portable
from surrogate.splits import Split, make_split

RE_BANDS = ((0, 3), (3, 10), (10, 1e9))


@torch.no_grad()
def predict_split(
    model: Surrogate, split: Split, device: str, batch: int = 64, members: list | None = None
) -> dict[str, np.ndarray]:
    """Cd, Cl, field error and PhiFlow residuals per sample; with the split's read-outs also the pressure part
    of Cd and Cp at the stations (P's other outputs).

    Args:
        members: an ensemble's networks: the outputs are then the members' mean (as optim.backends predicts),
            the fields their mean state.
    """
    models = members or [model]
    keys = ["cd", "cl", "field_rel_err", "mom", "div", "mom_true", "div_true"]
    keys += ["cd_pressure", "cp"] if split.readout is not None else []
    out: dict[str, list] = {k: [] for k in keys}
    for i in range(0, len(split), batch):
        b = split.batch(slice(i, i + batch), device)
        re = b.re.double()
        xs = [m.forward_inputs(b.inputs, b.re) for m in models]
        if b.readout is not None:
            ro = b.readout.to(device, torch.float64)
            y = torch.stack([physics.outputs(x.double(), re, ro, model.window) for x in xs]).mean(0)
            own = torch.stack([physics.split(x.double(), re, ro, model.window) for x in xs]).mean(0)
            out["cd_pressure"].append(own.cpu().numpy())
            out["cp"].append(y[:, 3:].cpu().numpy())
        else:
            y = torch.stack([physics.drag_lift_on(x.double(), re, model.window) for x in xs]).mean(0)
        out["cd"].append(y[:, 0].cpu().numpy())
        out["cl"].append(y[:, 1].cpu().numpy())
        x, target = torch.stack(xs).mean(0), b.target
        num = torch.linalg.vector_norm((x - target).flatten(1), dim=1)
        out["field_rel_err"].append((num / torch.linalg.vector_norm(target.flatten(1), dim=1)).cpu().numpy())
        for state, suffix in ((x, ""), (target, "_true")):  # PhiFlow on the CPU
            c = residual.consistency(state.cpu(), b.re.cpu(), b.inputs[:, 0].cpu(), model.window)
            out["mom" + suffix].append(c["momentum_rms"].cpu().numpy())
            out["div" + suffix].append(c["continuity_rms"].cpu().numpy())
    return {k: np.concatenate(v) for k, v in out.items()}


def metrics(
    model: Surrogate,
    split: Split,
    device: str,
    members: list | None = None,
    groups: np.ndarray | None = None,
    gradient_samples: int = 0,
) -> dict:
    """Cd relative error (median, p95, max), Cl error relative to Cd, field error; with the split's read-outs
    also the pressure part's error relative to Cd and Cp's RMS error; overall, per Re band (of each body's own
    Re) and, given `groups` (a label per sample, e.g. its family), per group. With `gradient_samples` and the
    split's sensitivities (make_split(gradients=True)): the cosine of the surrogate's dCd on the smooth shape
    modes against the adjoint's, on that many samples spread over the split."""
    pred = predict_split(model, split, device, members=members)
    cd_true, cl_true = split.y[:, 0].double().numpy(), split.y[:, 1].double().numpy()
    re = split.re.numpy() / (split.scale if split.scale is not None else 1.0)
    err = np.abs(pred["cd"] / cd_true - 1)
    cl_err = np.abs(pred["cl"] - cl_true)
    others = _output_errors(pred, split) if "cp" in pred else {}
    cosine = np.full(len(err), np.nan)
    if gradient_samples and split.arc is not None and split.sensitivity is not None:
        pick = _spread(split, gradient_samples)
        cosine[pick] = gradient_cosines(members or [model], split, pick, device)

    def summary(sel: np.ndarray) -> dict:
        if not sel.any():
            return {"n": 0}
        out = {
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
            **{f"{k}_median": float(np.median(v[sel])) for k, v in others.items()},
            **{f"{k}_p95": float(np.percentile(v[sel], 95)) for k, v in others.items()},
        }
        c = cosine[sel][np.isfinite(cosine[sel])]
        if len(c):
            out.update(
                gradient_cosine_n=len(c),
                gradient_cosine_median=float(np.median(c)),
                gradient_cosine_p10=float(np.percentile(c, 10)),
            )
        return out

    out = summary(np.ones(len(err), bool))
    out["bands"] = {f"{lo:g}-{hi:g}": summary((re >= lo) & (re < hi)) for lo, hi in RE_BANDS}
    if groups is not None:
        out["groups"] = {str(g): summary(groups == g) for g in sorted(set(groups.tolist()))}
    return out


def _spread(split: Split, n: int) -> np.ndarray:
    """n positions spread evenly over the split (all of them when it is smaller)."""
    return np.unique(np.linspace(0, len(split) - 1, min(n, len(split))).astype(int))


def gradient_cosines(models: list[Surrogate], split: Split, pick: np.ndarray, device: str) -> np.ndarray:
    """Per sample of `pick`: the cosine of the models' mean dCd on the smooth shape modes
    (surrogate.shape_gradient) against the stored adjoint sensitivities projected on them."""
    from surrogate import shape_gradient

    assert split.arc is not None and split.sensitivity is not None
    out = []
    for i in range(0, len(pick), 32):
        b = split.batch(torch.as_tensor(pick[i : i + 32]), device)
        assert b.arc is not None and b.sensitivity is not None
        m = b.sensitivity.shape[-1]
        g = torch.stack(
            [shape_gradient.mode_gradients(mod, b.inputs, b.re, b.arc, m)[:, 0] for mod in models]
        ).mean(0)
        out.append(shape_gradient.cosines(g.cpu(), b.sensitivity[:, 0].cpu()))
    return np.concatenate(out)


def _output_errors(pred: dict[str, np.ndarray], split: Split) -> dict[str, np.ndarray]:
    """Per sample: the pressure part's error relative to the stored Cd, and the RMS error of Cp over the
    stations."""
    y = split.y.double().numpy()
    return {
        "cd_pressure_err_rel_cd": np.abs(pred["cd_pressure"] - y[:, 2]) / y[:, 0],
        "cp_rms_err": np.sqrt(np.mean((pred["cp"] - y[:, 3:]) ** 2, 1)),
    }


def evaluate(
    model_dir: str | Path,
    data_dir: str | Path,
    split: str | None = None,
    device: str = "cpu",
    gradient_samples: int = 256,
) -> dict:
    """Metrics of a model or an ensemble (its members' mean) on a dataset, overall, per Re band and per
    family; with the dataset's adjoint sensitivities, the shape-gradient cosine on `gradient_samples` samples.

    Args:
        split: one split of the dataset; None (the default) takes all its usable samples: a held-out test set.
    """
    check_device(device)
    members, card = model_files.load(model_dir, device)
    d = dataset.load(data_dir)
    model_files.check_compatible(card, d.manifest)
    grads = bool(gradient_samples) and bool(np.isfinite(d.arrays["sensitivity"][d.ok]).all())
    tensors = make_split(d, split, members[0], readouts=True, gradients=grads)
    families = d.arrays["family"][tensors.rows]
    ensemble = members if len(members) > 1 else None
    out = metrics(members[0], tensors, device, ensemble, families, gradient_samples if grads else 0)
    out["model"], out["data"] = portable(model_dir), portable(data_dir)
    out["method"] = card["train"]["method"]
    return out
