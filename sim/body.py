"""The body as an immersed boundary: volume fractions of the velocity control volumes (differentiable in the outline).

The momentum equations get a penalisation force lambda * chi * u per unit volume, which drives the velocity to
zero inside the body; chi is the fraction of each u- and v-control volume covered by the polygon, computed by
sub-sampling (geometry.raster), so it moves smoothly with the outline and the adjoint can differentiate it.
"""

from __future__ import annotations

import numpy as np
import torch

from geometry.raster import cell_fractions
from sim.grid import Grid


def velocity_fractions(points, grid: Grid, sub: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """chi_u (nx+1, ny) on the u control volumes and chi_v (nx, ny+1) on the v control volumes."""
    x0, x1 = grid.u_cv
    X0, Y0 = np.meshgrid(x0, grid.yf[:-1], indexing="ij")
    X1, Y1 = np.meshgrid(x1, grid.yf[1:], indexing="ij")
    chi_u = cell_fractions(points, X0.ravel(), X1.ravel(), Y0.ravel(), Y1.ravel(), sub).reshape(X0.shape)
    y0, y1 = grid.v_cv
    X0, Y0 = np.meshgrid(grid.xf[:-1], y0, indexing="ij")
    X1, Y1 = np.meshgrid(grid.xf[1:], y1, indexing="ij")
    chi_v = cell_fractions(points, X0.ravel(), X1.ravel(), Y0.ravel(), Y1.ravel(), sub).reshape(X0.shape)
    return chi_u, chi_v
