"""The physics operator P: a flow state on the surrogate's window -> Cd, Cl, surface Cp and the pressure part
of the forces. Torch, batched over samples, differentiable in the state and in the shape's points.

The forces come from sim/forces.py (no second force implementation): the total force by the momentum balance
`forces.flux_density` over the window's contour (surrogate.window: cell-centre lines near the window's border;
nodal values, central differences, trapezoid ends), written as weight maps n ds on the grid so that a whole
batch is one sum; the pressure part by `forces.pressure_part` (the solver's split: fluid-side stress, scaled
to the total) and Cp by `forces.interp2` at the surface stations.
The contour does not depend on the shape: Cd and Cl depend on the shape through the state (the network's
input), Cp directly too. The pressure part is for reporting (a loop over the batch, not differentiated).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from geometry.errors import ShapeError
from sim import forces
from surrogate.readout import STATIONS, Readout, WindowGrid, integrals
from surrogate.window import Window, reach

OUTPUTS = ("cd", "cl", "cd_pressure", *(f"cp{k}" for k in range(STATIONS)))  # what `outputs` gives, in order


@dataclass
class Probe:
    """What P needs of a batch of shapes, fixed while the state changes (P_s: P for the shapes s)."""

    points: torch.Tensor  # (B, K, 2) outline, D = 1, centroid at the origin
    stations: torch.Tensor  # (B, M, 2) Cp stations


def contour_weights(
    window: Window, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight maps (1, n, n): outward normal times the trapezoid length element on the contour's nodes."""
    n, h = window.cells, window.h
    a, b = window.contour_index()
    k = torch.arange(n, device=device)
    along = h * ((k >= a) & (k <= b)).to(dtype) * (1 - 0.5 * ((k == a) | (k == b)).to(dtype))
    side = (k == b).to(dtype) - (k == a).to(dtype)  # +1 on the right (top) line, -1 on the left (bottom) one
    return (side[:, None] * along[None, :])[None], (along[:, None] * side[None, :])[None]


def probe(points: torch.Tensor | np.ndarray, window: Window, stations: int = STATIONS) -> Probe:
    """P_s for shapes (B, K, 2) or one shape (K, 2); differentiable in the points (through the stations)."""
    points = torch.as_tensor(points)
    if points.dim() == 2:
        points = points[None]
    for p in points.detach().cpu().numpy():
        if not window.fits(p):
            raise ShapeError(
                f"the outline reaches {reach(p):.2f} from the centroid; the window holds "
                f"{window.fit_half_width():.2f} (rescale the body first: Window.scale)"
            )
    return Probe(points, torch.stack([forces.surface_stations(p, stations) for p in points]))


def _central(f: torch.Tensor, dim: int, h: float) -> torch.Tensor:
    """Central difference along dim (1: x, 2: y) of (B, n, n), zero on the border nodes (never on a
    contour)."""
    d = (f.narrow(dim, 2, f.shape[dim] - 2) - f.narrow(dim, 0, f.shape[dim] - 2)) / (2 * h)
    return F.pad(d, (1, 1, 0, 0) if dim == 2 else (0, 0, 1, 1))


def measure(state: torch.Tensor, re: torch.Tensor, pr: Probe, window: Window) -> dict[str, torch.Tensor]:
    """P(x): state (B, 3, n, n) = u, v, p at the window's cell centres; re (B,) -> cd, cl, cd_pressure,
    cl_pressure (B,) and cp (B, M)."""
    cdl = drag_lift_on(state, re, window)
    p = state[:, 2]
    c = torch.as_tensor(window.centres(), dtype=state.dtype, device=state.device)
    cp = forces.interp2(p, c, c, pr.stations.to(state.dtype)) / 0.5
    grid = WindowGrid(c, window.h)
    re_t = torch.as_tensor(re, dtype=torch.float64).reshape(-1)
    parts = [  # the solver's split (forces.pressure_part) on the window: reporting only, not differentiable
        forces.pressure_part(  # type: ignore[call-arg]  # u, v, p unpacked from the state
            *(f.detach().double() for f in state[b]),
            pr.points[b].detach().double(),
            grid,
            1.0 / float(re_t[b]),
            float(cdl[b, 0]) / 2,
            float(cdl[b, 1]) / 2,
        )
        for b in range(state.shape[0])
    ]
    split = torch.tensor([q[:2] for q in parts], dtype=state.dtype, device=state.device).reshape(-1, 2)
    return {
        "cd": cdl[:, 0],
        "cl": cdl[:, 1],
        "cd_pressure": 2.0 * split[:, 0],
        "cl_pressure": 2.0 * split[:, 1],
        "cp": cp,
    }


def drag_lift(state: torch.Tensor, re: torch.Tensor) -> torch.Tensor:
    """(B, 2): Cd and Cl of states on the default window, the part of P the trainers use (no shape needed: the
    contour is fixed)."""
    return drag_lift_on(state, re, Window())


def drag_lift_on(state: torch.Tensor, re: torch.Tensor, window: Window) -> torch.Tensor:
    u, v, p = state[:, 0], state[:, 1], state[:, 2]
    nu = (1.0 / torch.as_tensor(re, dtype=state.dtype, device=state.device)).reshape(-1, 1, 1)
    h = window.h
    grads = (_central(u, 1, h), _central(u, 2, h), _central(v, 1, h), _central(v, 2, h))
    wnx, wny = contour_weights(window, state.dtype, state.device)
    gx, gy = forces.flux_density(u, v, p, grads, wnx, wny, nu)
    return 2.0 * torch.stack([gx.sum((1, 2)), gy.sum((1, 2))], 1)


def outputs(state: torch.Tensor, re: torch.Tensor, ro: Readout, window: Window) -> torch.Tensor:
    """All of P(x), differentiable in the state: (B, 3 + M) = Cd, Cl, the pressure part of Cd, and Cp at the
    M stations (`OUTPUTS`).

    The pressure part is the wall pressure integral scaled by the stored sample's closure (`ro.closure`,
    readout.with_closure): linear in the state, and the stored split on the stored state. A prediction's
    own split, as the solver reports it, is `split`.
    """
    cdl = drag_lift_on(state, re, window)
    px, _ = integrals(state, re, ro)
    cd_pressure = 2.0 * px / ro.closure.to(state.dtype)
    b, m = ro.cp_index.shape[:2]
    at = torch.gather(state[:, 2].reshape(b, -1), 1, ro.cp_index.reshape(b, -1)).reshape(b, m, 4)
    cp = (at * ro.cp_weight.to(state.dtype)).sum(-1) / 0.5
    return torch.cat([cdl, cd_pressure[:, None], cp], 1)


def split(state: torch.Tensor, re: torch.Tensor, ro: Readout, window: Window) -> torch.Tensor:
    """The pressure part of Cd (B,) as the solver splits a state: its own wall integrals scaled to its own
    body force, Cd Px / (Px + Vx) (forces.pressure_part, without its fallback)."""
    px, vx = integrals(state, re, ro)
    return drag_lift_on(state, re, window)[:, 0] * px / (px + vx)


def output_scales(y_star: torch.Tensor) -> torch.Tensor:
    """Per-sample scales (B, 3 + M) that make the outputs weigh alike in the physics loss.

    Cd, Cl and the pressure part are taken relative to the sample's drag Cd* (so every Re weighs the same:
    Cd spans 1 to 30); each Cp relative to the RMS of the sample's Cp* times sqrt(M), so that the whole
    distribution's relative RMS error weighs as much as one force coefficient's relative error. The loss then
    reads four alike terms: drag, lift, the split and the pressure distribution.
    """
    b, m = y_star.shape[0], y_star.shape[1] - 3
    cd = y_star[:, :1].abs()
    cp = y_star[:, 3:].pow(2).mean(1, keepdim=True).sqrt() * m**0.5
    return torch.cat([cd.expand(b, 3), cp.expand(b, m)], 1)
