"""A dataset in memory, its train/validation/test split, normalisation statistics, and the torch Dataset.

Loading checks the manifest and every shard's sha256 and names a corrupt or missing shard. The split is by
shape: a sample's split is decided by a hash of its polygon, so the same body at several Reynolds numbers (or
added again later, e.g. by `dragopt refine`) always lands in the same split, and no shape is in two.
Normalisation statistics come from the training split only and are kept beside the manifest (`stats.json`,
tied to the shards' checksums).

Loaded samples are in window units, as the network sees them: a body that was shrunk by its scale s to fit
the window (surrogate.window) has its outline and stations divided by s, its Reynolds number and forces
multiplied and divided by s; the shards keep the solver's numbers in D (multiply back by `scale`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from geometry.io import atomic_write_text
from surrogate.datasets import store

SPLITS = {"train": (0.0, 0.8), "val": (0.8, 0.9), "test": (0.9, 1.0)}
STATS = "stats.json"


@dataclass
class Data:
    folder: Path
    manifest: dict
    arrays: dict[str, np.ndarray]  # every stored sample, failed ones included (see `ok`)

    def __len__(self) -> int:
        return len(self.arrays["index"])

    @property
    def ok(self) -> np.ndarray:
        return self.arrays["ok"]


def load(folder: str | Path, verify: bool = True) -> Data:
    """All shards of a dataset, checked against the manifest."""
    folder = Path(folder)
    if not folder.is_dir():
        raise store.DatasetError(f"dataset folder {folder} does not exist")
    manifest = store.read_manifest(folder)
    if manifest is None:
        raise store.DatasetError(
            f"{folder} has no {store.MANIFEST}: not a dataset (make one with `dragopt generate`)"
        )
    parts = []
    for name, entry in sorted(manifest["shards"].items()):
        arrays = store.read_shard(folder / name, entry["sha256"] if verify else None)
        if len(arrays.get("index", ())) != entry["count"]:
            raise store.DatasetError(
                f"shard {folder / name} holds {len(arrays['index'])} samples, manifest says {entry['count']}"
            )
        parts.append(store.complete(arrays, manifest["settings"]))
    if not parts:
        raise store.DatasetError(f"dataset {folder} holds no shards yet; run `dragopt generate` to make them")
    keys = [k for k in parts[0] if k != "settings_hash"]
    arrays = {k: np.concatenate([p[k] for p in parts]) for k in keys}
    return Data(folder, manifest, window_units(arrays))


FORCES = "cd cd_pressure cd_viscous cl cl_pressure cl_viscous cd_momentum cl_momentum".split()


def window_units(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Samples in D -> in window units (length s D): outline and stations / s, Re * s, force coefficients / s.
    Cp, the fields and the shape sensitivities are the same in either."""
    s = np.where(np.isfinite(arrays["scale"]), arrays["scale"], 1.0)
    out = dict(arrays)
    out["points"] = arrays["points"] / s[:, None, None]
    out["stations"] = (arrays["stations"] / s[:, None, None]).astype(arrays["stations"].dtype)
    out["re"] = arrays["re"] * s
    for k in FORCES:
        out[k] = arrays[k] / s
    return out


def shape_keys(points: np.ndarray) -> np.ndarray:
    """A fingerprint per polygon (rounded to 1e-9 D, so a re-saved shape keeps its key)."""
    return np.array([hashlib.sha256(np.round(p, 9).tobytes()).hexdigest() for p in points])


def split_of(points: np.ndarray) -> np.ndarray:
    """'train' | 'val' | 'test' per sample, by the hash of its shape."""
    u = np.array([int(k[:8], 16) / 16**8 for k in shape_keys(points)])
    out = np.empty(len(u), dtype=object)
    for name, (lo, hi) in SPLITS.items():
        out[(u >= lo) & (u < hi)] = name
    return out


def indices(data: Data, split: str | None) -> np.ndarray:
    """Positions of the usable (ok) samples of a split (all splits for None)."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")
    keep = data.ok.copy()
    if split is not None:
        keep &= split_of(data.arrays["points"]) == split
    return np.flatnonzero(keep)


def fingerprint(manifest: dict) -> str:
    """A hash of the shards' checksums: it changes whenever the stored samples do."""
    return hashlib.sha256(
        "".join(sorted(s["sha256"] for s in manifest["shards"].values())).encode()
    ).hexdigest()[:16]


def stats(data: Data) -> dict:
    """Normalisation statistics of the training split (computed once, then read from stats.json)."""
    path = data.folder / STATS
    fp = fingerprint(data.manifest)
    if path.exists():
        try:
            s = json.loads(path.read_text())
            if s.get("shards") == fp:
                return s
        except (OSError, json.JSONDecodeError):
            pass
    idx = indices(data, "train")
    if len(idx) == 0:
        raise store.DatasetError(f"dataset {data.folder} has no usable training samples")
    f = data.arrays["fields"][idx].astype(np.float64)
    re = data.arrays["re"][idx]
    s = {
        "shards": fp,
        "n_train": int(len(idx)),
        "field_mean": f.mean((0, 2, 3)).tolist(),  # u, v, p
        "field_std": f.std((0, 2, 3)).tolist(),
        "log_re_mean": float(np.log(re).mean()),
        "log_re_std": float(np.log(re).std()),
        "cd_mean": float(data.arrays["cd"][idx].mean()),
        "cd_std": float(data.arrays["cd"][idx].std()),
    }
    try:
        atomic_write_text(path, json.dumps(s, indent=1) + "\n")
    except OSError:
        pass  # a read-only dataset still loads; the statistics are recomputed next time
    return s


class FlowDataset(torch.utils.data.Dataset):
    """The usable samples of one split as tensors: fields (3, n, n) float32 = u, v, p on the window; re;
    points (K, 2); cd, cl, cd_pressure, cl_pressure; cp (M,) and stations (M, 2); index (the sample's
    number)."""

    def __init__(self, data: Data, split: str | None):
        self.data = data
        self.rows = indices(data, split)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        a, r = self.data.arrays, self.rows[i]
        out = {k: torch.as_tensor(a[k][r]) for k in ("fields", "points", "cp", "stations")}
        for k in ("re", "cd", "cl", "cd_pressure", "cl_pressure"):
            out[k] = torch.tensor(float(a[k][r]), dtype=torch.float64)
        out["index"] = torch.tensor(int(a["index"][r]))
        return out


def loader(
    data: Data, split: str, batch_size: int = 32, shuffle: bool | None = None, seed: int = 0
) -> torch.utils.data.DataLoader:
    """A DataLoader over one split (shuffled for training)."""
    g = torch.Generator().manual_seed(seed)
    shuffle = split == "train" if shuffle is None else shuffle
    return torch.utils.data.DataLoader(
        FlowDataset(data, split), batch_size=batch_size, shuffle=shuffle, generator=g
    )
