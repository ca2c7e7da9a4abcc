"""The solution on a uniform grid around the body (the surrogate's grid and the plots), and as PhiFlow fields.

The solver's staggered, stretched grid is resampled bilinearly (torch, so it is differentiable in the fields).
PhiFlow needs uniform grids; `to_phiflow` wraps the resampled arrays as CenteredGrids (torch backend), the
form in which the surrogate side uses them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sim.forces import interp2
from sim.result import SimResult

SURROGATE_EXTENT = 1.27  # half-width in D, as CCHT21's 128 x 128 sampling window
SURROGATE_CELLS = 128


def uniform_centres(n: int = SURROGATE_CELLS, extent: float = SURROGATE_EXTENT) -> np.ndarray:
    """Cell-centre coordinates of n cells on [-extent, extent]."""
    return -extent + (np.arange(n) + 0.5) * (2 * extent / n)


def sample(
    result: SimResult, n: int = SURROGATE_CELLS, extent: float = SURROGATE_EXTENT
) -> dict[str, np.ndarray]:
    """u, v, p (n, n) at the cell centres of a uniform n x n grid on [-extent, extent]^2 (in D) around the
    body's centroid (indexing [x, y]; x, y are those centres in domain units); `mask` is 1 inside the body."""
    import shapely

    from geometry.properties import centroid

    g = result.domain.grid
    u, v, p = result.fields()
    cx, cy = centroid(result.points).tolist()
    offsets = result.domain.d_ref * uniform_centres(n, extent)
    x, y = cx + offsets, cy + offsets
    X, Y = np.meshgrid(x, y, indexing="ij")
    pts = torch.as_tensor(np.stack([X.ravel(), Y.ravel()], 1))
    out = {
        "x": x,
        "y": y,
        "u": interp2(u, g.xf, g.yc, pts).reshape(n, n).numpy(),
        "v": interp2(v, g.xc, g.yf, pts).reshape(n, n).numpy(),
        "p": interp2(p, g.xc, g.yc, pts).reshape(n, n).numpy(),
    }
    body = shapely.Polygon(result.points)
    out["mask"] = shapely.contains_xy(body, X, Y).astype(float)
    return out


def to_phiflow(sampled: dict[str, np.ndarray]) -> tuple[Any, Any]:
    """(velocity, pressure) as PhiFlow CenteredGrids on the torch backend, from the arrays of `sample`."""
    from phi.torch import flow

    x, y = sampled["x"], sampled["y"]
    hx, hy = x[1] - x[0], y[1] - y[0]
    box = flow.Box(x=(x[0] - hx / 2, x[-1] + hx / 2), y=(y[0] - hy / 2, y[-1] + hy / 2))
    uv = np.stack([sampled["u"], sampled["v"]], -1)
    velocity = flow.CenteredGrid(
        flow.tensor(torch.as_tensor(uv), flow.spatial("x,y"), flow.channel(vector="x,y")), bounds=box
    )
    pressure = flow.CenteredGrid(flow.tensor(torch.as_tensor(sampled["p"]), flow.spatial("x,y")), bounds=box)
    return velocity, pressure
