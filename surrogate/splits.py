"""A dataset split as tensors: the network's inputs (computed once), the stored states, Re and (Cd, Cl).

Rasterising thousands of shapes costs seconds, and every model on the same window sees the same rasters, so
the last few splits' rasters are kept in memory and reused by the next model (a method comparison trains
many).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import torch

from surrogate.datasets import data as dataset
from surrogate.model import Surrogate, shape_channels

# rasterised shapes of recent splits, by dataset, split and window
_RASTERS: dict[tuple[str, str, str | None, str], torch.Tensor] = {}
_KEEP = 4


@dataclass
class Split:
    inputs: torch.Tensor  # (N, 5, n, n) network inputs
    target: torch.Tensor  # (N, 3, n, n) stored state
    re: torch.Tensor  # (N,)
    y: torch.Tensor  # (N, 2) stored Cd, Cl
    rows: np.ndarray  # positions in the dataset

    def __len__(self) -> int:
        return len(self.rows)

    def batch(self, idx: torch.Tensor | np.ndarray | slice, device: str) -> tuple[torch.Tensor, ...]:
        """(inputs, target, re, y) of the samples `idx` on `device`."""
        return tuple(t[idx].to(device) for t in (self.inputs, self.target, self.re, self.y))

    def to(self, device: str) -> Split:
        """The tensors on `device` (a GPU holds a whole training set: batches are then cut there)."""
        return Split(
            self.inputs.to(device), self.target.to(device), self.re.to(device), self.y.to(device), self.rows
        )

    def take(self, pick: torch.Tensor) -> Split:
        """The samples at positions `pick` (repeats allowed: a bootstrap resample)."""
        return Split(
            self.inputs[pick], self.target[pick], self.re[pick], self.y[pick], self.rows[pick.numpy()]
        )


def make_split(d: dataset.Data, name: str | None, model: Surrogate) -> Split:
    """The usable samples of one split (None: all) as tensors, with the network's inputs computed once."""
    rows = dataset.indices(d, name)
    a = d.arrays
    re = torch.as_tensor(a["re"][rows], dtype=torch.float32)
    window = json.dumps(model.config.window, sort_keys=True)
    key = (str(d.folder), dataset.fingerprint(d.manifest), name, window)
    if key not in _RASTERS:  # the same for every model on this window
        pts = torch.as_tensor(a["points"][rows], dtype=torch.float32)
        with torch.no_grad():
            chunks = [shape_channels(pts[i : i + 256], model.window) for i in range(0, len(rows), 256)]
        if len(_RASTERS) >= _KEEP:
            _RASTERS.pop(next(iter(_RASTERS)))
        _RASTERS[key] = torch.cat(chunks)
    with torch.no_grad():
        inputs = model.assemble(_RASTERS[key], re)
    y = torch.as_tensor(np.stack([a["cd"][rows], a["cl"][rows]], 1), dtype=torch.float32)
    return Split(inputs, torch.as_tensor(a["fields"][rows]), re, y, rows)
