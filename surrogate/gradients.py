"""How well the surrogate's shape gradient agrees with the full simulation's adjoint.

Both gradients are taken with respect to the same smooth shape parameters: K Fourier modes of a displacement
of the outline along its normals, points(a) = p0 + n0 sum_k a_k phi_k(s), s the arc-length fraction. The
solver's adjoint gradient on raw polygon points carries a sub-cell wiggle (docs/validation.md) that no smooth
surrogate should reproduce; projected on smooth modes it is the design-relevant gradient.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from surrogate import physics
from surrogate.model import Surrogate


def normal_modes(points: torch.Tensor, k: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """(normals (K, 2) outward unit, basis (K, 2k)): cos and sin of 1..k periods along the outline."""
    p = points.double()
    t = torch.roll(p, -1, 0) - torch.roll(p, 1, 0)
    n = torch.stack([t[:, 1], -t[:, 0]], 1)
    n = n / torch.linalg.norm(n, dim=1, keepdim=True)
    seg = torch.linalg.norm(torch.roll(p, -1, 0) - p, dim=1)
    s = torch.cat([seg.new_zeros(1), torch.cumsum(seg, 0)[:-1]]) / seg.sum()
    j = torch.arange(1, k + 1, dtype=p.dtype)
    basis = torch.cat([torch.cos(2 * math.pi * s[:, None] * j), torch.sin(2 * math.pi * s[:, None] * j)], 1)
    return n, basis


def surrogate_gradient(model: Surrogate, points: torch.Tensor, re: float, k: int = 8) -> np.ndarray:
    """dCd/d(modes) of the surrogate for a normalised shape (D = 1) at Re, shown on the window as it is
    trained (shrunk by the window's scale s, at Re s; Cd = s times the window's)."""
    s = model.window.scale(points.detach().numpy())
    n, basis = normal_modes(points, k)
    a = torch.zeros(basis.shape[1], dtype=torch.float64, requires_grad=True)
    pts = points.double() + n * (basis @ a)[:, None]
    r = torch.tensor([float(re) * s])
    cd = s * physics.drag_lift_on(model((pts / s).float()[None], r), r, model.window)[0, 0]
    (g,) = torch.autograd.grad(cd, a)
    return g.numpy()


def adjoint_gradient(
    points: torch.Tensor, re: float, k: int = 8, resolution: float | None = None
) -> np.ndarray:
    from geometry.shape import Shape
    from sim import adjoint
    from sim.setups import DEFAULT_RESOLUTION
    from sim.solver import simulate

    shape = Shape.from_points(points.double().numpy())
    if not np.allclose(shape.points, points.double().numpy(), atol=1e-12):
        raise ValueError("adjoint_gradient needs a normalised shape (D = 1, centroid at the origin)")
    result = simulate(shape, re, resolution or DEFAULT_RESOLUTION)
    n, basis = normal_modes(torch.as_tensor(shape.points), k)
    a = torch.zeros(basis.shape[1], dtype=torch.float64, requires_grad=True)
    pts = torch.as_tensor(shape.points) + n * (basis @ a)[:, None]
    return adjoint.gradient(result, pts, a).numpy()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-300))


def agreement(model: Surrogate, points: list[torch.Tensor], re: list[float], k: int = 8) -> dict:
    """Cosines between the surrogate's and the adjoint's dCd/d(shape modes), one per shape, and their
    median."""
    cos = [
        cosine(surrogate_gradient(model, p, r, k), adjoint_gradient(p, r, k))
        for p, r in zip(points, re, strict=True)
    ]
    return {"cosines": cos, "cosine_median": float(np.median(cos)), "modes": 2 * k}
