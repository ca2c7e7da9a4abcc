"""A dataset split as tensors: the network's inputs (computed once), the stored states, Re, the stored outputs
of P (Cd, Cl, the pressure part, Cp at the stations) and, when asked, the shapes' read-out maps and, for the
shape-gradient term, each cell's nearest arc position and the stored adjoint sensitivities.

Rasterising thousands of shapes costs seconds, and every model on the same window sees the same rasters
(and read-outs), so the last few splits' are kept in memory and reused by the next model (a method comparison
trains many).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from surrogate.datasets import data as dataset
from surrogate.model import Surrogate, shape_channels
from surrogate.readout import Readout, readout, with_closure
from surrogate.shape_gradient import arc_maps
from surrogate.window import Window

# rasterised shapes (read-outs, arc maps) of recent splits, by dataset, split and window
_RASTERS: dict[tuple[str, str, str | None, str], torch.Tensor] = {}
_READOUTS: dict[tuple[str, str, str | None, str], Readout] = {}
_ARCS: dict[tuple[str, str, str | None, str], torch.Tensor] = {}
_KEEP = 4


class Batch(NamedTuple):
    inputs: torch.Tensor  # (B, 5, n, n)
    target: torch.Tensor  # (B, 3, n, n) stored state
    re: torch.Tensor  # (B,)
    y: torch.Tensor  # (B, 3 + M) stored Cd, Cl, pressure part of Cd, Cp at the M stations
    readout: Readout | None  # the shapes' read-out maps (for P's outputs beyond Cd and Cl)
    arc: torch.Tensor | None = None  # (B, 4, n, n) arc maps (surrogate.shape_gradient.arc_maps)
    sensitivity: torch.Tensor | None = None  # (B, 2, M) stored dCd, dCl per station amplitude (NaN: none)


@dataclass
class Split:
    inputs: torch.Tensor  # (N, 5, n, n) network inputs
    target: torch.Tensor  # (N, 3, n, n) stored state
    re: torch.Tensor  # (N,)
    y: torch.Tensor  # (N, 3 + M) stored Cd, Cl, pressure part of Cd, Cp at the stations
    rows: np.ndarray  # positions in the dataset
    readout: Readout | None = None
    arc: torch.Tensor | None = None  # (N, 4, n, n), with `sensitivity`: for the shape-gradient term
    sensitivity: torch.Tensor | None = None  # (N, 2, M)
    scale: np.ndarray | None = None  # (N,) the window's scale s of each body (Re / s is the body's own)

    def __len__(self) -> int:
        return len(self.rows)

    def batch(self, idx: torch.Tensor | np.ndarray | slice, device: str) -> Batch:
        """The samples `idx` on `device`."""
        ro = self.readout.take(idx).to(device) if self.readout is not None else None
        inputs, target, re, y = (t[idx].to(device) for t in (self.inputs, self.target, self.re, self.y))
        arc, sens = (t[idx].to(device) if t is not None else None for t in (self.arc, self.sensitivity))
        return Batch(inputs, target, re, y, ro, arc, sens)

    def to(self, device: str) -> Split:
        """The tensors on `device` (a GPU holds a whole training set: batches are then cut there)."""
        ro = self.readout.to(device) if self.readout is not None else None
        tensors = (self.inputs, self.target, self.re, self.y)
        arc, sens = (t.to(device) if t is not None else None for t in (self.arc, self.sensitivity))
        moved = (t.to(device) for t in tensors)
        return Split(*moved, self.rows, ro, arc, sens, self.scale)  # type: ignore[call-arg]

    def take(self, pick: torch.Tensor) -> Split:
        """The samples at positions `pick` (repeats allowed: a bootstrap resample)."""
        ro = self.readout.take(pick) if self.readout is not None else None
        tensors = (self.inputs, self.target, self.re, self.y)
        arc, sens = (t[pick] if t is not None else None for t in (self.arc, self.sensitivity))
        scale = self.scale[pick.numpy()] if self.scale is not None else None
        taken = (t[pick] for t in tensors)
        return Split(*taken, self.rows[pick.numpy()], ro, arc, sens, scale)  # type: ignore[call-arg]


def make_split(
    d: dataset.Data, name: str | None, model: Surrogate, readouts: bool = False, gradients: bool = False
) -> Split:
    """The usable samples of one split (None: all) as tensors, with the network's inputs computed once.

    Args:
        readouts: also the shapes' read-out maps (P's pressure part and Cp; about 7 ms a shape, once).
        gradients: also each cell's nearest arc position and the stored sensitivities (the shape-gradient
            term and its cosine; about 10 ms a shape, once).
    """
    rows = dataset.indices(d, name)
    a = d.arrays
    re = torch.as_tensor(a["re"][rows], dtype=torch.float32)
    window = json.dumps(model.config.window, sort_keys=True)
    key = (str(d.folder), dataset.fingerprint(d.manifest), name, window)
    if key not in _RASTERS:  # the same for every model on this window
        pts = torch.as_tensor(a["points"][rows], dtype=torch.float32)
        with torch.no_grad():
            chunks = [shape_channels(pts[i : i + 256], model.window) for i in range(0, len(rows), 256)]
        _keep(_RASTERS, key, torch.cat(chunks))
    if readouts and key not in _READOUTS:
        _keep(_READOUTS, key, stored_readouts(a, rows, model.window))
    if gradients and key not in _ARCS:
        _keep(_ARCS, key, arc_maps(torch.as_tensor(a["points"][rows]), model.window))
    with torch.no_grad():
        inputs = model.assemble(_RASTERS[key], re)
    fields = torch.as_tensor(a["fields"][rows])
    ro = _READOUTS.get(key) if readouts else None
    arc = _ARCS[key] if gradients else None
    sens = torch.as_tensor(a["sensitivity"][rows]) if gradients else None
    return Split(inputs, fields, re, stored_outputs(a, rows), rows, ro, arc, sens, a["scale"][rows])


def stored_outputs(arrays: dict[str, np.ndarray], rows: np.ndarray) -> torch.Tensor:
    """The stored outputs of P of samples `rows` of a dataset's (or a shard's) arrays: (N, 3 + M) = Cd, Cl,
    the pressure part of Cd, Cp at the stations (float32)."""
    forces = np.stack([arrays[k][rows] for k in ("cd", "cl", "cd_pressure")], 1)
    return torch.as_tensor(np.concatenate([forces, arrays["cp"][rows]], 1), dtype=torch.float32)


def stored_readouts(arrays: dict[str, np.ndarray], rows: np.ndarray, window: Window) -> Readout:
    """The read-out maps of samples `rows`, each with its closure from its stored state and split."""
    states, re, cdp = (torch.as_tensor(arrays[k][rows]) for k in ("fields", "re", "cd_pressure"))
    return with_closure(readout(arrays["points"][rows], window), states, re, cdp)


def _keep(cache: dict, key: tuple, value: object) -> None:
    if len(cache) >= _KEEP:
        cache.pop(next(iter(cache)))
    cache[key] = value
