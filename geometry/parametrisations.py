"""Differentiable shape parametrisations (torch): parameters -> polygon points, counter-clockwise.

- closed uniform cubic B-spline through n control points (C2-smooth, local control),
- Fourier radius r(phi) = a0 + sum_k a_k cos(k phi) + b_k sin(k phi).
"""

from __future__ import annotations

import math

import torch

# Uniform cubic B-spline basis: point(t) = [t^3, t^2, t, 1] @ M @ [P_{i-1}, P_i, P_{i+1}, P_{i+2}]
_BSPLINE = (
    torch.tensor(
        [[-1.0, 3.0, -3.0, 1.0], [3.0, -6.0, 3.0, 0.0], [-3.0, 0.0, 3.0, 0.0], [1.0, 4.0, 1.0, 0.0]],
        dtype=torch.float64,
    )
    / 6.0
)


def bspline_points(control: torch.Tensor, per_segment: int = 16) -> torch.Tensor:
    """Closed cubic B-spline of (n, 2) control points, sampled `per_segment` times per segment:
    (n*per_segment, 2)."""
    n = control.shape[0]
    t = torch.arange(per_segment, dtype=control.dtype) / per_segment
    powers = torch.stack([t**3, t**2, t, torch.ones_like(t)], dim=1)  # (s, 4)
    weights = powers @ _BSPLINE.to(control.dtype)  # (s, 4)
    idx = (torch.arange(n)[:, None] + torch.arange(-1, 3)[None, :]) % n  # (n, 4)
    segs = control[idx]  # (n, 4, 2)
    pts = torch.einsum("sk,nkd->nsd", weights, segs)
    return pts.reshape(-1, 2)


def circle_control_points(n: int, radius: float = 0.5) -> torch.Tensor:
    """Control points whose B-spline is close to a circle of the given radius (scaled for the spline's
    shrinkage)."""
    phi = 2 * math.pi * torch.arange(n, dtype=torch.float64) / n
    shrink = (4 + 2 * math.cos(2 * math.pi / n)) / 6  # the spline of a regular n-gon at its control points
    r = radius / shrink
    return torch.stack([r * torch.cos(phi), r * torch.sin(phi)], dim=1)


def fourier_points(a0: torch.Tensor, a: torch.Tensor, b: torch.Tensor, n_points: int = 256) -> torch.Tensor:
    """Star-shaped outline r(phi) sampled at n_points angles."""
    phi = 2 * math.pi * torch.arange(n_points, dtype=a.dtype) / n_points
    k = torch.arange(1, a.shape[0] + 1, dtype=a.dtype)
    r = a0 + torch.cos(phi[:, None] * k) @ a + torch.sin(phi[:, None] * k) @ b
    return torch.stack([r * torch.cos(phi), r * torch.sin(phi)], dim=1)
