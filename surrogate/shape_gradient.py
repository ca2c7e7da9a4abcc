"""The surrogate's shape gradient held against the adjoint's: a training term, and the cosine that judges it.

A dataset stores, per sample, g = dC/da for C = Cd and Cl and a normal displacement of the outline
delta_n(s) = sum_k a_k hat_k(s) given at the M Cp stations (sim.adjoint.station_sensitivities; the same in
window units as in D). The surrogate's derivative along a = v is a directional derivative through the network:
a normal displacement moves each cell's signed distance as it moves the two ends of the outline's edge nearest
it (geometry.raster.nearest_outline_point: their arc positions and weights, once per shape: `arc_maps`), and
the mask with it; so the input's tangent is a gather of the displacement interpolated at those arc positions,
and the outputs' is one forward-mode pass (torch.func.jvp).

The term compares the two along random smooth directions v = w B (B: the 2k Fourier modes of
sim.adjoint.mode_matrix at the stations, w ~ N(0, I)): the expected squared difference is the squared distance
of the two gradients on the smooth modes, taken relative to the adjoint's. The cosine on those modes is the
measure of agreement (surrogate.gradients holds it against fresh adjoint solves).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from geometry.raster import nearest_outline_point
from surrogate import physics
from surrogate.model import Surrogate
from surrogate.window import Window

MODES = 8  # periods of the smooth modes: 2 x 8 of them (cos and sin)


def arc_maps(points: torch.Tensor, window: Window) -> torch.Tensor:
    """(N, 4, n, n): for each window cell, geometry.raster.nearest_outline_point's arc fractions of the two
    ends of the nearest edge, counted from the leading vertex (the first of smallest x) as the Cp stations are
    (sim.forces.surface_stations), and their weights (d sd = -(w_a dn_a + w_b dn_b))."""
    c = torch.as_tensor(window.centres(), dtype=torch.float64)
    X, Y = torch.meshgrid(c, c, indexing="ij")
    q = torch.stack([X.reshape(-1), Y.reshape(-1)], 1)
    n = window.cells
    lead = [torch.roll(p, -int(torch.argmin(p[:, 0])), 0) for p in torch.as_tensor(points)]
    return torch.stack([nearest_outline_point(p, q).reshape(4, n, n) for p in lead]).float()


def smooth_basis(stations: int, k: int = MODES) -> torch.Tensor:
    """(2k, M): cos and sin of 1..k periods at the stations (arc fractions j / M from the first point): the
    smooth modes of surrogate.gradients as station amplitudes."""
    s = torch.arange(stations, dtype=torch.float64) / stations
    phase = 2 * math.pi * torch.arange(1, k + 1, dtype=torch.float64)[:, None] * s[None, :]
    return torch.cat([torch.cos(phase), torch.sin(phase)], 0)


def input_tangent(maps: torch.Tensor, sd: torch.Tensor, v: torch.Tensor, h: float) -> torch.Tensor:
    """(B, 2, n, n): the change of the signed distance and the mask for station amplitudes v (B, M) (the
    normal displacement interpolated linearly in arc length between stations), from `arc_maps`."""
    b, m = v.shape

    def at(arc: torch.Tensor) -> torch.Tensor:  # v interpolated at arc fractions (B, n, n)
        u = arc.reshape(b, -1).double() * m
        j = torch.floor(u).long() % m
        f = u - torch.floor(u)
        return ((1 - f) * torch.gather(v, 1, j) + f * torch.gather(v, 1, (j + 1) % m)).reshape(sd.shape)

    dn = (maps[:, 2].double() * at(maps[:, 0]) + maps[:, 3].double() * at(maps[:, 1])).to(sd.dtype)
    ramp = 0.5 - sd / h  # the mask is clamp(ramp, 0, 1)
    d_mask = torch.where((ramp > 0) & (ramp < 1), dn / h, torch.zeros_like(dn))
    return torch.stack([-dn, d_mask], 1)


def directional(
    model: Surrogate, inputs: torch.Tensor, tangent: torch.Tensor, re: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(Cd and Cl (B, 2), their derivatives along the input tangent (B, 2)) of the surrogate, in window units;
    differentiable in the network's parameters."""
    full = torch.cat([tangent.to(inputs.dtype), torch.zeros_like(inputs[:, 2:])], 1)

    def drag_lift(x: torch.Tensor) -> torch.Tensor:
        state = model.decode(model.net(x), x, re)
        return physics.drag_lift_on(state, re, model.window)

    return torch.func.jvp(drag_lift, (inputs,), (full,))


def gradient_loss(
    model: Surrogate,
    inputs: torch.Tensor,
    re: torch.Tensor,
    arc: torch.Tensor,
    sensitivity: torch.Tensor,
    gen: torch.Generator,
    k: int = MODES,
) -> torch.Tensor:
    """Mean over the samples with sensitivities of |D(Cd, Cl) - D*(Cd, Cl)|^2 / |B g*_Cd|^2 along one random
    smooth direction each: in expectation, the squared distance of the surrogate's smooth-mode gradient from
    the adjoint's, relative to the adjoint's drag gradient."""
    keep = torch.isfinite(sensitivity).flatten(1).all(1)
    if not bool(keep.any()):
        return inputs.new_zeros(())
    inputs, re, arc, g = inputs[keep], re[keep], arc[keep], sensitivity[keep].double()
    basis = smooth_basis(g.shape[-1], k).to(g.device)
    w = torch.randn(len(g), basis.shape[0], generator=gen, dtype=torch.float64).to(g.device)
    v = w @ basis
    t = input_tangent(arc, inputs[:, 0], v, model.window.h)
    _, d = directional(model, inputs, t, re)
    target = torch.einsum("bm,bcm->bc", v, g)
    norm = ((g[:, 0] @ basis.T) ** 2).sum(1)
    return (((d.double() - target) ** 2).sum(1) / norm).mean()


def mode_gradients(
    model: Surrogate, inputs: torch.Tensor, re: torch.Tensor, arc: torch.Tensor, stations: int, k: int = MODES
) -> torch.Tensor:
    """(B, 2, 2k): the surrogate's dCd and dCl on each smooth mode (one forward-mode pass a mode)."""
    basis = smooth_basis(stations, k)
    out = []
    for row in basis:
        v = row[None].expand(len(inputs), -1).to(inputs.device)
        _, d = directional(model, inputs, input_tangent(arc, inputs[:, 0], v, model.window.h), re)
        out.append(d.detach())
    return torch.stack(out, -1)


def cosines(surrogate: torch.Tensor, sensitivity: torch.Tensor, k: int = MODES) -> np.ndarray:
    """Cosine between the surrogate's dCd on the smooth modes (B, 2k) and the adjoint's (B, M station
    sensitivities of Cd) projected on them."""
    basis = smooth_basis(sensitivity.shape[-1], k)
    adjoint = sensitivity.double() @ basis.T
    num = (surrogate.double() * adjoint).sum(1)
    return (num / (surrogate.double().norm(dim=1) * adjoint.norm(dim=1) + 1e-300)).numpy()
