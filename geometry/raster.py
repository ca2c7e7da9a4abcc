"""Differentiable rasterisation of a polygon: signed distance and volume fraction of axis-aligned cells.

The signed distance takes numpy arrays (the full simulation's body) or torch tensors (gradients: the adjoint,
the surrogate's input); see geometry.arrays. The rest is torch.

The volume fraction of a cell is the mean over sub x sub sample points of a linear ramp of the signed distance
of width one sample spacing measured along the outline's normal n (sqrt((nx dx)^2 + (ny dy)^2) for samples dx
apart in x and dy apart in y, so non-square cells of a stretched grid are handled too): exact for a straight
edge along a grid line, and differentiable in the polygon points. Only cells that the outline passes near are
sub-sampled, so the cost scales with the perimeter, not the grid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from geometry.arrays import Array, asarray, like, namespace, to_numpy

if TYPE_CHECKING:
    import torch


def nearest_vector(poly: Array, q: Array, chunk: int | None = None) -> Array:
    """Vector from the nearest point of the closed polyline (n, 2) to each query point (Q, 2): shape (Q, 2).

    `chunk` query points are handled at a time; by default the (chunk, n, 2) temporaries hold about 2**21
    pairs, whatever the number of points."""
    xp = namespace(poly, q)
    poly, q = asarray(poly, xp), asarray(q, xp)
    a = poly
    if chunk is None:
        chunk = max(1, 2**21 // max(len(poly), 1))
    ab = xp.roll(poly, -1, 0) - a
    ab2 = (ab * ab).sum(1)
    out = []
    for s in range(0, q.shape[0], chunk):
        qq = q[s : s + chunk]
        aq = qq[:, None, :] - a[None, :, :]
        t = xp.clip((aq * ab[None]).sum(-1) / ab2[None], 0.0, 1.0)
        v = aq - t[..., None] * ab[None]
        j = (v * v).sum(-1).argmin(1)
        out.append(v[xp.arange(qq.shape[0]), j])
    return xp.concatenate(out) if out else xp.zeros_like(q[:0])


def segment_distance(poly: Array, q: Array, chunk: int | None = None) -> Array:
    """Unsigned distance from each query point (Q, 2) to the closed polyline (n, 2)."""
    v = nearest_vector(poly, q, chunk)
    return namespace(v).sqrt((v * v).sum(1) + 1e-300)


def inside(poly: Array, q: Array) -> Array:
    """Boolean mask of query points strictly inside the polygon (no gradient needed: the sign is piecewise
    constant)."""
    import shapely

    qn = to_numpy(q)
    return like(shapely.contains_xy(shapely.Polygon(to_numpy(poly)), qn[:, 0], qn[:, 1]), poly, q)


def signed_distance(poly: Array, q: Array) -> Array:
    """Signed distance, negative inside the body."""
    d = segment_distance(poly, q)
    return namespace(d).where(inside(poly, q), -d, d)


def cell_fractions(poly: Array, x0: Array, x1: Array, y0: Array, y1: Array, sub: int = 8) -> torch.Tensor:
    """Volume fraction of the rectangles [x0, x1] x [y0, y1] (array-likes of equal length) covered by the
    polygon."""
    import torch

    poly = poly if isinstance(poly, torch.Tensor) else torch.as_tensor(np.asarray(poly), dtype=torch.float64)
    dt = poly.dtype
    x0, x1, y0, y1 = (torch.as_tensor(np.asarray(v), dtype=dt) for v in (x0, x1, y0, y1))
    frac = torch.zeros(x0.shape[0], dtype=dt)
    pn = poly.detach()
    lo, hi = pn.min(0).values, pn.max(0).values
    near = (x1 >= lo[0]) & (x0 <= hi[0]) & (y1 >= lo[1]) & (y0 <= hi[1])
    idx = torch.nonzero(near).flatten()
    if idx.numel() == 0:
        return frac
    cx, cy = 0.5 * (x0[idx] + x1[idx]), 0.5 * (y0[idx] + y1[idx])
    wx, wy = x1[idx] - x0[idx], y1[idx] - y0[idx]
    centre = torch.stack([cx, cy], 1)
    sd = signed_distance(pn, centre)
    half_diag = 0.5 * torch.sqrt(wx**2 + wy**2)
    full = sd < -half_diag * 1.01
    frac[idx[full]] = 1.0
    cut = torch.nonzero(sd.abs() <= half_diag * 1.01).flatten()
    if cut.numel() == 0:
        return frac
    s = (torch.arange(sub, dtype=dt) + 0.5) / sub - 0.5  # sample offsets in [-0.5, 0.5]
    sx = cx[cut][:, None, None] + wx[cut][:, None, None] * s[None, :, None]
    sy = cy[cut][:, None, None] + wy[cut][:, None, None] * s[None, None, :]
    sx, sy = torch.broadcast_tensors(sx, sy)
    q = torch.stack([sx.reshape(-1), sy.reshape(-1)], 1)
    dx = (wx[cut] / sub)[:, None].expand(-1, sub * sub).reshape(-1)
    dy = (wy[cut] / sub)[:, None].expand(-1, sub * sub).reshape(-1)
    v = nearest_vector(poly, q)
    sign = torch.where(inside(poly, q), -1.0, 1.0).to(dt)
    # d / spacing with d = |v| and spacing = sqrt((nx dx)^2 + (ny dy)^2), n = v / |v|, written so that it is
    # smooth (and 0) where a sample lies on the outline (v = 0)
    v2 = (v * v).sum(1)
    h = torch.clamp(
        0.5 - sign * v2 / torch.sqrt((v[:, 0] * dx) ** 2 + (v[:, 1] * dy) ** 2 + 1e-300), 0.0, 1.0
    )
    frac = frac.index_put((idx[cut],), h.reshape(-1, sub * sub).mean(1))
    return frac


def grid_fractions(poly: Array, xf: ArrayLike, yf: ArrayLike, sub: int = 8) -> torch.Tensor:
    """Volume fraction of every cell of a (possibly stretched) grid with face coordinates xf, yf: shape
    (nx, ny)."""
    x, y = np.asarray(xf), np.asarray(yf)
    X0, Y0 = np.meshgrid(x[:-1], y[:-1], indexing="ij")
    X1, Y1 = np.meshgrid(x[1:], y[1:], indexing="ij")
    f = cell_fractions(poly, X0.ravel(), X1.ravel(), Y0.ravel(), Y1.ravel(), sub)
    return f.reshape(len(x) - 1, len(y) - 1)


def signed_distance_fast(poly: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """signed_distance for many query points and a finely sampled outline (the surrogate's input, every design
    step).

    The nearest vertex is found without gradient (torch.cdist), then the exact distance to the two edges
    meeting there is taken with gradient: exact whenever the nearest point of the outline lies on an edge next
    to the nearest vertex, which holds for outlines sampled finer than the distance to them (256 points on a
    body of D = 1 and a grid of D/16: everywhere outside the body's first cell). Much faster than
    signed_distance (docs/validation.md, measurements behind the code).
    """
    import torch

    with torch.no_grad():
        k = torch.cdist(q.detach().float(), poly.detach().float()).argmin(1)
    n = poly.shape[0]

    def squared_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:  # to the edges a -> b
        pa, pb = poly[a], poly[b]
        ab = pb - pa
        t = torch.clamp(((q - pa) * ab).sum(1) / (ab * ab).sum(1), 0.0, 1.0)
        v = q - pa - t[:, None] * ab
        return (v * v).sum(1)

    best = torch.minimum(squared_distance((k - 1) % n, k), squared_distance(k, (k + 1) % n))
    d = torch.sqrt(best + 1e-300 if best.dtype == torch.float64 else best + 1e-30)
    return torch.where(inside(poly, q), -d, d)


def nearest_outline_point(poly: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """How a normal displacement of a counter-clockwise outline moves the signed distance of each query
    point. Returns (4, Q): the arc-length fractions in [0, 1) (from the first point) of the ends a and b of
    the edge holding the outline point nearest it, and weights w_a, w_b such that
    d sd = -(w_a dn_a + w_b dn_b) when each vertex i moves by dn_i along its outward normal n_i (its
    neighbours' chord turned clockwise). At the nearest point a + t (b - a): w = ((1 - t) e . n_a, t e . n_b),
    e the unit vector from it towards the query point (away from the body inside), so (1 - t, t) on a smooth
    stretch and less in the fan behind a corner. Exact for the polygon's signed distance (found as
    signed_distance_fast finds it); no gradient.
    """
    import torch

    with torch.no_grad():
        p, q = poly.detach().double(), q.detach().double()
        k = torch.cdist(q, p).argmin(1)
        n = p.shape[0]
        edge = torch.roll(p, -1, 0) - p
        seg = torch.linalg.norm(edge, dim=1)
        arc = torch.cat([seg.new_zeros(1), torch.cumsum(seg, 0)[:-1]]) / seg.sum()
        chord = torch.roll(p, -1, 0) - torch.roll(p, 1, 0)
        normal = torch.stack([chord[:, 1], -chord[:, 0]], 1)
        normal = normal / torch.linalg.norm(normal, dim=1, keepdim=True)

        def along(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            """(squared distance, t, unit vector to q) for the edge a -> a + 1."""
            t = torch.clamp(((q - p[a]) * edge[a]).sum(1) / (seg[a] ** 2), 0.0, 1.0)
            v = q - p[a] - t[:, None] * edge[a]
            d2 = (v * v).sum(1)
            return d2, t, v / torch.sqrt(d2 + 1e-300)[:, None]

        d0, t0, e0 = along((k - 1) % n)
        d1, t1, e1 = along(k)
        first = d0 < d1
        a = torch.where(first, (k - 1) % n, k)
        b = (a + 1) % n
        t = torch.where(first, t0, t1)
        e = torch.where(first[:, None], e0, e1)
        e = torch.where(inside(p, q)[:, None], -e, e)  # the outward direction: from the body to q
        w_a = (1 - t) * (e * normal[a]).sum(1)
        w_b = t * (e * normal[b]).sum(1)
        return torch.stack([arc[a], arc[b], w_a, w_b])
