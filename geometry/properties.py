"""Area, centroid, perimeter and thickness of a closed polygon: differentiable (torch) and plain (numpy).

Polygons are (n, 2) arrays, counter-clockwise, last point not repeated. All functions accept torch tensors
and return tensors (so gradients flow to the points); numpy input is converted to float64 tensors.
"""

from __future__ import annotations

import numpy as np

# torch is imported inside the functions: `dragopt --help` must not pay about 1 s for it


def as_tensor(points):
    """A float64 tensor of array-like input; tensors pass through untouched (their gradients kept)."""
    import torch

    return (
        points
        if isinstance(points, torch.Tensor)
        else torch.as_tensor(np.ascontiguousarray(points, dtype=float))
    )


def signed_area(points):
    """Shoelace area, positive for counter-clockwise polygons."""
    import torch

    p = as_tensor(points)
    x, y = p[:, 0], p[:, 1]
    return 0.5 * torch.sum(x * torch.roll(y, -1) - torch.roll(x, -1) * y)


def area(points):
    import torch

    return torch.abs(signed_area(points))


def centroid(points):
    """Area centroid (not the mean of the vertices, which depends on the point spacing)."""
    import torch

    p = as_tensor(points)
    x, y = p[:, 0], p[:, 1]
    xn, yn = torch.roll(x, -1), torch.roll(y, -1)
    cross = x * yn - xn * y
    a = 0.5 * torch.sum(cross)
    cx = torch.sum((x + xn) * cross) / (6.0 * a)
    cy = torch.sum((y + yn) * cross) / (6.0 * a)
    return torch.stack([cx, cy])


def perimeter(points):
    import torch

    p = as_tensor(points)
    return torch.sum(torch.linalg.norm(torch.roll(p, -1, dims=0) - p, dim=1))


def equivalent_diameter(points):
    """D = 2 sqrt(A / pi), the reference length of DESIGN.md section 1."""
    import torch

    return 2.0 * torch.sqrt(area(points) / torch.pi)


def thickness(points, n_stations: int = 400):
    """Largest extent in y of a cross-section x = const (the flow is along x): the maximum thickness.

    Edges crossing each station are intersected exactly, so the result is differentiable in the points.
    """
    import torch

    p = as_tensor(points)
    a, b = p, torch.roll(p, -1, dims=0)
    # not detached: the stations move with the ends of the chord, and the gradient must see that
    xmin, xmax = p[:, 0].min(), p[:, 0].max()
    xs = torch.linspace(0.0, 1.0, n_stations + 2, dtype=p.dtype)[1:-1] * (xmax - xmin) + xmin
    x0, x1 = a[:, 0][None, :], b[:, 0][None, :]
    s = xs[:, None]
    crosses = (x0 - s) * (x1 - s) <= 0
    dx = torch.where(torch.abs(x1 - x0) > 1e-300, x1 - x0, torch.ones_like(x0))
    t = torch.clamp((s - x0) / dx, 0.0, 1.0)
    y = a[:, 1][None, :] + t * (b[:, 1] - a[:, 1])[None, :]
    big = torch.finfo(p.dtype).max
    top = torch.where(crosses, y, torch.full_like(y, -big)).max(dim=1).values
    bottom = torch.where(crosses, y, torch.full_like(y, big)).min(dim=1).values
    return (top - bottom).max()
