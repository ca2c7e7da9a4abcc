"""The steady Navier-Stokes residual of a state on the window, with PhiFlow's field operators (torch backend):
a physical-consistency measure for `dragopt evaluate` and an optional loss term
(`TrainConfig.residual_weight`).

    momentum:   (u . grad) u + grad p - nu lap u        continuity:  div u

Central differences on the window's cells (PhiFlow's spatial_gradient and laplace, zero-gradient extrapolation
at the border). Only fluid cells at least two cells from the body and from the window's border count: inside
the body the state is held at rest by the solver's penalty, not by these equations. The momentum residual is
divided by (1 + 5/Re), the scale of the pressure, so that every Re weighs alike. The stored solver states do
not make it zero (they are resampled from the solver's stretched staggered grid): their own residual is the
floor to compare with.
"""

from __future__ import annotations

from typing import Any

import torch

from surrogate.model import P_SCALE_RE
from surrogate.window import Window


def fields_residual(
    state: torch.Tensor, re: torch.Tensor, window: Window
) -> tuple[torch.Tensor, torch.Tensor]:
    """(momentum residual magnitude (B, n, n) / (1 + 5/Re), continuity residual (B, n, n))."""
    from phi.torch import flow
    from phiml.backend.torch import TORCH

    TORCH.set_default_device("GPU" if state.is_cuda else "CPU")  # PhiFlow's constants beside the state
    e = window.extent
    box = flow.Box(x=(-e, e), y=(-e, e))
    ex = flow.extrapolation.ZERO_GRADIENT

    def grid(t: torch.Tensor) -> Any:
        return flow.CenteredGrid(
            flow.tensor(t, flow.batch("b"), flow.spatial("x,y")), bounds=box, extrapolation=ex
        )

    u, v, p = grid(state[:, 0]), grid(state[:, 1]), grid(state[:, 2])
    du, dv, dp = (flow.field.spatial_gradient(f).values for f in (u, v, p))
    lu, lv = flow.field.laplace(u).values, flow.field.laplace(v).values
    re_t = torch.as_tensor(re, dtype=state.dtype, device=state.device).reshape(-1)
    nu = flow.tensor(1.0 / re_t, flow.batch("b"))
    rx = u.values * du.vector["x"] + v.values * du.vector["y"] + dp.vector["x"] - nu * lu
    ry = u.values * dv.vector["x"] + v.values * dv.vector["y"] + dp.vector["y"] - nu * lv
    div = du.vector["x"] + dv.vector["y"]
    order = ["b", "x", "y"]
    mom = torch.sqrt(rx.native(order) ** 2 + ry.native(order) ** 2) / (1.0 + P_SCALE_RE / re_t).reshape(
        -1, 1, 1
    )
    return mom, div.native(order)


def fluid_cells(sdf: torch.Tensor, window: Window, cells: int = 2) -> torch.Tensor:
    """Cells at least `cells` cells from the body (sdf (B, n, n) in D) and from the window's border."""
    keep = sdf >= cells * window.h
    keep[:, :cells], keep[:, -cells:], keep[:, :, :cells], keep[:, :, -cells:] = False, False, False, False
    return keep


def consistency(
    state: torch.Tensor, re: torch.Tensor, sdf: torch.Tensor, window: Window
) -> dict[str, torch.Tensor]:
    """RMS momentum and continuity residuals per sample over the fluid cells: (B,) each."""
    mom, div = fields_residual(state, re, window)
    keep = fluid_cells(sdf, window).to(state.dtype)
    count = keep.sum((1, 2)).clamp_min(1)
    return {
        "momentum_rms": torch.sqrt((mom**2 * keep).sum((1, 2)) / count),
        "continuity_rms": torch.sqrt((div**2 * keep).sum((1, 2)) / count),
    }
