"""The physics operator's shape-dependent outputs as linear read-outs of the state on the window.

The pressure and viscous integrals on the outline (the solver's fluid-side stress,
`forces.surface_stress_forces`) and Cp at the surface stations (`forces.interp2`) are linear in u, v and p for
a fixed shape. So they are taken once per shape, by autograd through the solver's own code, as weight maps on
the window (pressure: d Px / dp; shear: d Vx / du and d Vx / dv per unit viscosity) and as each station's four
bilinear weights. Applying them to a state is then a few sums and a gather: batched, differentiable in the
state, and vmap-able (HIG's per-sample Jacobians), with no second implementation of the forces.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from sim import forces
from surrogate.window import Window

STATIONS = 64  # surface Cp stations, as the solver's


class WindowGrid:
    """The window as the collocated grid forces.surface_stress_forces samples (u, v, p all at the cell
    centres)."""

    def __init__(self, centres: torch.Tensor, h: float) -> None:
        self.xc = self.yc = self.xf = self.yf = centres.double()
        self._h = h

    def h_min(self) -> float:
        return self._h


@dataclass
class Readout:
    """Per-sample read-out maps of a batch of shapes on one window (n cells, M stations)."""

    pressure: torch.Tensor  # (B, n, n): Px = sum(pressure * p), the wall pressure force's x component
    shear_u: torch.Tensor  # (B, n, n): Vx / nu = sum(shear_u * u) + sum(shear_v * v)
    shear_v: torch.Tensor  # (B, n, n)
    cp_index: torch.Tensor  # (B, M, 4) long: flat cells of each station's bilinear stencil
    cp_weight: torch.Tensor  # (B, M, 4): their weights (p at the station = sum(weight * p[index]))
    closure: (
        torch.Tensor
    )  # (B,): the stored state's (Px + Vx) / Fx, which scales the pressure part (1: unset)

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return (self.pressure, self.shear_u, self.shear_v, self.cp_index, self.cp_weight, self.closure)

    def take(self, idx: torch.Tensor | slice | np.ndarray) -> Readout:
        """The read-outs of the samples `idx` (repeats allowed)."""
        return Readout(*(t[idx] for t in self.tensors()))

    def to(self, device: str | torch.device, dtype: torch.dtype | None = None) -> Readout:
        """On `device`; the float maps in `dtype` when given (the indices stay long)."""
        maps = [t.to(device, dtype) if dtype is not None else t.to(device) for t in self.tensors()]
        maps[3] = self.cp_index.to(device)  # indices stay long
        return Readout(*maps)


def readout(points: torch.Tensor | np.ndarray, window: Window, stations: int = STATIONS) -> Readout:
    """The read-out maps of shapes (B, K, 2) or one shape (K, 2) (D = 1, centroid at the origin), float32."""
    pts = torch.as_tensor(points, dtype=torch.float64)
    if pts.dim() == 2:
        pts = pts[None]
    rows = [_one(p, window, stations) for p in pts]
    pressure, shear_u, shear_v, index, weight = (torch.stack([r[k] for r in rows]) for k in range(5))
    return Readout(pressure, shear_u, shear_v, index, weight, torch.ones(len(rows)))


def with_closure(ro: Readout, fields: torch.Tensor, re: torch.Tensor, cd_pressure: torch.Tensor) -> Readout:
    """The read-outs with each sample's closure set from its stored state and stored split: 2 Px* / Cd_p*.

    P's pressure part, 2 Px / closure, is then linear in the state and equals the stored split (the solver's,
    on its own grid) on the stored state; a state's own split as the solver scales it is physics.split.
    """
    px, _ = integrals(fields.double(), re.double(), ro)
    cdp = cd_pressure.double()
    closure = torch.where(cdp.abs() > 1e-9, 2.0 * px / cdp.where(cdp.abs() > 1e-9, 1.0), 1.0)
    return dataclasses.replace(ro, closure=closure.float())


def integrals(state: torch.Tensor, re: torch.Tensor, ro: Readout) -> tuple[torch.Tensor, torch.Tensor]:
    """The wall pressure and viscous force integrals (Px, Vx) (B,) of states (B, 3, n, n)."""
    u, v, p = state[:, 0], state[:, 1], state[:, 2]
    nu = 1.0 / torch.as_tensor(re, dtype=state.dtype, device=state.device).reshape(-1)
    px = (ro.pressure.to(state.dtype) * p).sum((1, 2))
    vx = nu * ((ro.shear_u.to(state.dtype) * u).sum((1, 2)) + (ro.shear_v.to(state.dtype) * v).sum((1, 2)))
    return px, vx


def _one(poly: torch.Tensor, window: Window, stations: int) -> tuple[torch.Tensor, ...]:
    n = window.cells
    centres = torch.as_tensor(window.centres(), dtype=torch.float64)
    grid = WindowGrid(centres, window.h)
    u, v, p = (torch.zeros(n, n, dtype=torch.float64, requires_grad=True) for _ in range(3))
    px, _, vx, _ = forces.surface_stress_forces(u, v, p, poly, grid, 1.0)
    (w_p,) = torch.autograd.grad(px, p, retain_graph=True)
    w_u, w_v = torch.autograd.grad(vx, (u, v), allow_unused=True)
    w_u = torch.zeros_like(u) if w_u is None else w_u
    w_v = torch.zeros_like(v) if w_v is None else w_v
    st = forces.surface_stations(poly, stations)
    dense = torch.func.jacrev(lambda q: forces.interp2(q, centres, centres, st))(p.detach())  # (M, n, n)
    flat = dense.reshape(stations, -1)
    index = flat.abs().topk(4, dim=1).indices
    weight = torch.gather(flat, 1, index)
    return (w_p.float(), w_u.float(), w_v.float(), index, weight.float())
