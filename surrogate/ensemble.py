"""An ensemble of K surrogates (different seeds and bootstrap resamples; `dragopt train --bootstrap --seed k`)
behind the interface of one: the mean drag and its spread.

`assemble` makes an ensemble folder (the format is in surrogate.model_files: a `model.json` that lists the
members, the members as network folders, the first member's `coverage.npz`); `calibration` measures how well
the spread predicts the actual error on a dataset.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from geometry.io import atomic_write_bytes
from surrogate import model_files
from surrogate.model_files import CARD, ENSEMBLE_FORMAT, WEIGHTS, lineage_of, load_model


def assemble(members: Sequence[str | Path], out: str | Path, float16: bool = False) -> dict:
    """Copy member model folders into `out` as member-0, ... and write its card, model.json (atomically,
    last).

    Args:
        float16: store the members' weights in half precision (half the size; they load as float32; the
            accuracy cost is measured in docs/surrogate.md).
    """
    out = Path(out)
    if len(members) < 2:
        raise ValueError(f"an ensemble needs at least 2 members; got {len(members)}")
    cards = [load_model(m)[1] for m in members]  # each checked before anything is copied
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for k, m in enumerate(members):
        name = f"member-{k}"
        (out / name).mkdir(exist_ok=True)
        _copy_weights(Path(m) / WEIGHTS, out / name / WEIGHTS, float16)
        atomic_write_bytes(out / name / CARD, (Path(m) / CARD).read_bytes())
        names.append(name)
    if (Path(members[0]) / "coverage.npz").is_file():
        shutil.copyfile(Path(members[0]) / "coverage.npz", out / "coverage.npz")
    first = cards[0]
    card = {
        "format": ENSEMBLE_FORMAT,
        "members": names,
        "architecture": first["architecture"],
        "dataset": first.get("dataset"),
        "train": {
            **first.get("train", {}),
            "method": f"ensemble of {len(names)}: {first.get('train', {}).get('method')}",
        },
        "lineage": lineage_of(first, members[0]),  # member 0's, for the card's "trained as"
        "member_cards": [
            {k: c.get(k) for k in ("train", "step", "wall_s", "hardware", "lineage", "test_metrics")}
            for c in cards
        ],
        "parameters": sum(int(c.get("parameters", 0)) for c in cards),
        "total_train_s": sum(float(c.get("total_train_s", c.get("wall_s", 0)) or 0) for c in cards),
        "hardware": first.get("hardware"),
        "weights": "float16" if float16 else "float32",
    }
    model_files.write_card(out, card)
    return card


def _copy_weights(src: Path, dst: Path, float16: bool) -> None:
    """A member's weights, atomically; as float16 when asked (integer buffers kept as they are)."""
    if not float16:
        atomic_write_bytes(dst, src.read_bytes())
        return
    from safetensors.torch import load_file, save

    w = load_file(str(src))
    atomic_write_bytes(dst, save({k: v.half() if v.is_floating_point() else v for k, v in w.items()}))


def calibration(models: list, data_dir: str | Path, threshold: float = 0.03) -> dict:
    """How well the spread of the members' Cd predicts the ensemble mean's actual Cd error on a dataset:
    Spearman rank correlation of spread and error, and the share of cases with error above `threshold` that
    the spread flags (spread above its own 90th percentile over the dataset, i.e. flagging one case in ten).

    `spread_flag`, the out-of-distribution warning's threshold, is the 99th percentile: one test case in a
    hundred. At the 90th the warning fired on ordinary optimised designs whose drag was right
    (docs/design-notes.md)."""
    from scipy.stats import spearmanr

    from surrogate.datasets import data as dataset
    from surrogate.evaluation import predict_split
    from surrogate.splits import make_split

    d = dataset.load(data_dir)
    per_model = []
    for m in models:
        split = make_split(d, None, m)
        per_model.append(predict_split(m, split, "cpu")["cd"])
    cds = np.stack(per_model)  # (K, N)
    true = split.y[:, 0].double().numpy()
    mean, std = cds.mean(0), cds.std(0, ddof=1)
    err = np.abs(mean / true - 1)
    rel = std / np.abs(mean)
    flag = rel > np.percentile(rel, 90)
    big = err > threshold
    return {
        "n": int(len(err)),
        "members": len(models),
        "cd_rel_err_median": float(np.median(err)),
        "cd_rel_err_p95": float(np.percentile(err, 95)),
        "cd_rel_err_max": float(err.max()),
        "member_cd_rel_err_median": [float(np.median(np.abs(c / true - 1))) for c in cds],
        "spread_rel_median": float(np.median(rel)),
        "spearman_spread_error": float(spearmanr(rel, err).statistic),
        "errors_above_threshold": int(big.sum()),
        "threshold": threshold,
        "share_flagged_of_those": float(flag[big].mean()) if big.any() else None,
        "share_flagged_of_top_decile_errors": float(flag[err >= np.percentile(err, 90)].mean()),
        "spread_flag": float(np.percentile(rel, 99)),
        "spread_flag_percentile": 99,
    }


def record_calibration(folder: str | Path, cal: dict) -> None:
    """Store a calibration in the ensemble's card: its spread_flag is then the out-of-distribution
    threshold."""
    model_files.record_metrics(folder, "calibration", cal)
