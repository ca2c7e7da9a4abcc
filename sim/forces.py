"""Forces on the body from a flow state. numpy fields give numpy forces (the solver, without torch); torch
tensors give differentiable tensors (the surrogate reuses them on predicted states; geometry.arrays).

- `body_force`: the total force, the momentum the immersed boundary's coefficients remove from the fluid (what
  the solver's discrete momentum balance puts on the body).
- `pressure_force`: -closed integral of p n ds over the outline (bilinear pressure at the edge midpoints). The
  viscous part of the drag is the total minus this.
- `momentum_balance`: an independent estimate of the total force, from momentum flux, pressure and viscous
  stress through a rectangle around the body, with the fields interpolated onto it (no use of the
  penalisation).
- `surface_cp`: pressure coefficient at M stations evenly spaced in arc length, starting at the leading edge.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from geometry.arrays import Array, asarray, detach, like, namespace, norm_rows, searchsorted, to_numpy
from sim.grid import Grid


class StressGrid(Protocol):
    """What the wall-stress evaluation needs of a grid: the MAC grid's node coordinates and its finest spacing
    (sim.grid.Grid, or the surrogate's uniform window)."""

    @property
    def xc(self) -> np.ndarray: ...

    @property
    def yc(self) -> np.ndarray: ...

    @property
    def xf(self) -> np.ndarray: ...

    @property
    def yf(self) -> np.ndarray: ...

    def h_min(self) -> float: ...


def interp2(values: Array, xs: Array, ys: Array, pts: Array) -> Array:
    """Bilinear interpolation of values (len(xs), len(ys)) given at the tensor-product nodes xs, ys, at pts
    (M, 2).

    Batched too: values (B, len(xs), len(ys)) and pts (B, M, 2) give (B, M) (one node set for the whole
    batch).
    """
    xp = namespace(values, pts)
    values, pts = asarray(values, xp), asarray(pts, xp)
    xs, ys = asarray(xs, xp, values.dtype), asarray(ys, xp, values.dtype)
    if values.ndim == 3:
        b, nx, ny = values.shape
        flat = values.reshape(b * nx * ny)
        offset = (xp.arange(b) * nx * ny)[:, None]
        if xp is not np:
            offset = offset.to(values.device)
        i, j, tx, ty = _bilinear_weights(xs, ys, pts.reshape(-1, 2))
        i, j, tx, ty = (t.reshape(b, -1) for t in (i, j, tx, ty))

        def at(ii, jj):
            return flat[(offset + ii * ny + jj).reshape(-1)].reshape(b, -1)

        out = at(i, j) * (1 - tx) * (1 - ty) + at(i + 1, j) * tx * (1 - ty)
        return out + at(i, j + 1) * (1 - tx) * ty + at(i + 1, j + 1) * tx * ty
    i, j, tx, ty = _bilinear_weights(xs, ys, pts)
    return (
        values[i, j] * (1 - tx) * (1 - ty)
        + values[i + 1, j] * tx * (1 - ty)
        + values[i, j + 1] * (1 - tx) * ty
        + values[i + 1, j + 1] * tx * ty
    )


def _bilinear_weights(xs: Array, ys: Array, pts: Array) -> tuple[Array, Array, Array, Array]:
    """Lower-left node indices (i, j) of the cell holding each point, and its local coordinates (tx, ty)."""
    xp = namespace(pts)
    i = xp.clip(searchsorted(xs, detach(pts[:, 0])) - 1, 0, len(xs) - 2)
    j = xp.clip(searchsorted(ys, detach(pts[:, 1])) - 1, 0, len(ys) - 2)
    tx = (pts[:, 0] - xs[i]) / (xs[i + 1] - xs[i])
    ty = (pts[:, 1] - ys[j]) / (ys[j + 1] - ys[j])
    return i, j, tx, ty


def body_force(u: Array, v: Array, c_u: Array, c_v: Array) -> tuple[Array, Array]:
    """Force on the body (Fx, Fy) = sum c * velocity: the momentum the immersed boundary (sim.body)
    removes."""
    xp = namespace(u, v, c_u, c_v)
    u, v, c_u, c_v = (asarray(a, xp) for a in (u, v, c_u, c_v))
    return xp.sum(c_u * u), xp.sum(c_v * v)


def _cell_p(p: Array, grid: StressGrid, pts: Array) -> Array:
    return interp2(p, grid.xc, grid.yc, pts)


def pressure_force(p: Array, poly: Array, grid: Grid) -> tuple[Array, Array]:
    """-closed integral of p n ds over the counter-clockwise outline (outward normal ds = (dy, -dx))."""
    return outline_pressure_force(p, poly, grid.xc, grid.yc)


def outline_pressure_force(p: Array, poly: Array, xs: Array, ys: Array) -> tuple[Array, Array]:
    """pressure_force with p given at the nodes xs, ys; batched as interp2 (p (B, nx, ny), poly (B, n, 2))."""
    xp = namespace(p, poly)
    poly = asarray(poly, xp)
    nxt = xp.roll(poly, -1, -2)
    mid = 0.5 * (poly + nxt)
    d = nxt - poly
    pm = interp2(p, xs, ys, mid)
    return -xp.sum(pm * d[..., 1], -1), xp.sum(pm * d[..., 0], -1)


def surface_stations(poly: Array, m: int) -> Array:
    """M points evenly spaced in arc length along the outline, the first at the leading edge (smallest x)."""
    xp = namespace(poly)
    poly = asarray(poly, xp)
    start = int(xp.argmin(detach(poly[:, 0])))
    ring = xp.roll(poly, -start, 0)
    ring = xp.concatenate([ring, ring[:1]])
    seg = norm_rows(ring[1:] - ring[:-1])
    s = xp.concatenate([xp.zeros_like(seg[:1]), xp.cumsum(seg, 0)])
    target = xp.arange(m, dtype=poly.dtype) / m * s[-1]
    k = xp.clip(searchsorted(detach(s), detach(target), right=True) - 1, 0, len(seg) - 1)
    t = (target - s[k]) / seg[k]
    return ring[k] + t[:, None] * (ring[k + 1] - ring[k])


def surface_cp(
    p: Array, poly: Array, grid: Grid, m: int = 64, u_ref: float = 1.0, p_ref: float = 0.0
) -> tuple[Array, Array]:
    """(stations (M, 2), Cp (M,)) with Cp = (p - p_ref) / (0.5 U^2), p_ref the outlet pressure."""
    st = surface_stations(poly, m)
    return st, (_cell_p(p, grid, st) - p_ref) / (0.5 * u_ref**2)


def momentum_balance(
    u: Array, v: Array, p: Array, grid: Grid, nu: float, box: tuple[float, float, float, float], n: int = 800
) -> tuple[Array, Array]:
    """Force on what the rectangle box = (x0, y0, x1, y1) encloses, from the fluxes through its sides:

    F_i = -closed integral of (u_i u_n + p n_i - nu (d_j u_i + d_i u_j) n_j) ds   (midpoint rule, n points a
    side).
    """
    xp = namespace(u, v, p)
    u, v, p = asarray(u, xp), asarray(v, xp), asarray(p, xp)
    xu, yu = grid.xf, grid.yc  # u nodes
    xv, yv = grid.xc, grid.yf  # v nodes
    x0, y0, x1, y1 = box
    h = 0.5 * grid.h_min()

    def U(pts: Array) -> Array:
        return interp2(u, xu, yu, pts)

    def V(pts: Array) -> Array:
        return interp2(v, xv, yv, pts)

    fx = fy = 0.0
    t = (xp.arange(n, dtype=xp.float64) + 0.5) / n
    sides = [  # (points, outward normal, length)
        (xp.stack([x0 + (x1 - x0) * t, xp.full_like(t, y0)], 1), (0.0, -1.0), x1 - x0),
        (xp.stack([x0 + (x1 - x0) * t, xp.full_like(t, y1)], 1), (0.0, 1.0), x1 - x0),
        (xp.stack([xp.full_like(t, x0), y0 + (y1 - y0) * t], 1), (-1.0, 0.0), y1 - y0),
        (xp.stack([xp.full_like(t, x1), y0 + (y1 - y0) * t], 1), (1.0, 0.0), y1 - y0),
    ]
    ex, ey = asarray([h, 0.0], xp), asarray([0.0, h], xp)
    for pts, (nx_, ny_), length in sides:
        uu, vv, pp = U(pts), V(pts), _cell_p(p, grid, pts)
        dudx = (U(pts + ex) - U(pts - ex)) / (2 * h)
        dudy = (U(pts + ey) - U(pts - ey)) / (2 * h)
        dvdx = (V(pts + ex) - V(pts - ex)) / (2 * h)
        dvdy = (V(pts + ey) - V(pts - ey)) / (2 * h)
        gx, gy = flux_density(uu, vv, pp, (dudx, dudy, dvdx, dvdy), nx_, ny_, nu)
        fx = fx + xp.sum(gx) * (length / n)
        fy = fy + xp.sum(gy) * (length / n)
    return fx, fy


def flux_density(
    u: Array,
    v: Array,
    p: Array,
    grads: tuple[Array, Array, Array, Array],
    nx: Array,
    ny: Array,
    nu: Array,
) -> tuple[Array, Array]:
    """Force density on what a contour encloses, per unit length of contour with outward normal (nx, ny):

    -(u_i u_n + p n_i - nu (d_j u_i + d_i u_j) n_j), i = x, y; grads = (du/dx, du/dy, dv/dx, dv/dy).
    Every argument broadcasts, so (nx, ny) may be weights n ds on grid nodes (the surrogate's window,
    surrogate.physics) and nu one viscosity per sample.
    """
    dudx, dudy, dvdx, dvdy = grads
    un = u * nx + v * ny
    txn = 2 * dudx * nx + (dudy + dvdx) * ny
    tyn = (dudy + dvdx) * nx + 2 * dvdy * ny
    return -(u * un + p * nx - nu * txn), -(v * un + p * ny - nu * tyn)


def surface_stress_forces(
    u: Array,
    v: Array,
    p: Array,
    poly: Array,
    grid: StressGrid,
    nu: float,
    offsets: tuple[float, float] = (1.0, 2.0),
) -> tuple[Array, Array, Array, Array]:
    """Pressure and viscous forces on the body from the stress on its outline, evaluated from the fluid side.

    At stations at most h/2 apart along the outline (_stations) the fields are sampled along the outward
    normal at offsets[0] and offsets[1] core cells (h = grid.h_min()) from the wall: the wall pressure is
    their linear extrapolation to the wall, and the wall shear nu du/dn that of the quadratic through the
    no-slip value 0 at the wall and the two samples (at a rigid no-slip wall the viscous traction nu (grad u +
    grad u^T) n is nu du/dn). Unlike `pressure_force`, whose interpolation at the outline mixes in the
    pressure inside the body (half its stencil at any resolution), this converges to the wall values:
    docs/validation.md, pressure/viscous split.

    Returns (Px, Py, Vx, Vy)."""
    xp = namespace(u, v, p, poly)
    u, v, p = asarray(u, xp), asarray(v, xp), asarray(p, xp)
    poly = asarray(poly, xp, u.dtype)
    h = grid.h_min()
    mid, n, ds = _stations(poly, 0.5 * h)
    a, b = offsets[0] * h, offsets[1] * h
    pa, pb = (interp2(p, grid.xc, grid.yc, mid + s * n) for s in (a, b))
    p_wall = pa + (pa - pb) * a / (b - a)
    ua, ub = (
        xp.stack([interp2(u, grid.xf, grid.yc, mid + s * n), interp2(v, grid.xc, grid.yf, mid + s * n)], 1)
        for s in (a, b)
    )
    dudn = (ua * b * b - ub * a * a) / (a * b * (b - a))
    pressure = -xp.sum((p_wall * ds)[:, None] * n, 0)
    viscous = nu * xp.sum(dudn * ds[:, None], 0)
    return pressure[0], pressure[1], viscous[0], viscous[1]


def _stations(poly: Array, spacing: float) -> tuple[Array, Array, Array]:
    """Midpoints, outward normals and lengths of the outline's edges, each edge cut into equal pieces no
    longer than `spacing`: a polygon of a few long edges (a rectangle given by its 4 corners) is integrated as
    finely as a smooth outline of many points (one sample per edge misses much of the stress on a rectangle
    given by its corners: docs/validation.md, pressure/viscous split)."""
    xp = namespace(poly)
    d = xp.roll(poly, -1, 0) - poly
    ds = norm_rows(d)
    pieces = np.maximum(1, np.ceil(to_numpy(detach(ds)) / spacing)).astype(np.int64)
    edge = np.repeat(np.arange(len(pieces)), pieces)
    first = np.repeat(np.cumsum(pieces) - pieces, pieces)
    t = asarray(like((np.arange(len(edge)) - first + 0.5) / pieces[edge], poly), xp, poly.dtype)
    count = asarray(like(pieces[edge].astype(float), poly), xp, poly.dtype)
    edge = like(edge, poly)
    n = xp.stack([d[:, 1], -d[:, 0]], 1) / ds[:, None]  # outward for a counter-clockwise outline
    return poly[edge] + t[:, None] * d[edge], n[edge], ds[edge] / count


# (pressure + viscous stress integrals) / body force where the scaled split is used
CLOSURE_RANGE = (0.8, 1.25)


def pressure_part(
    u: Array, v: Array, p: Array, poly: Array, grid: StressGrid, nu: float, fx: float, fy: float
) -> tuple[float, float, float]:
    """The pressure part (Px, Py) of a body force (fx, fy), and the closure.

    The fluid-side stress integrals of surface_stress_forces give the ratio, scaled by the one factor that
    makes pressure + viscous add up to the body force (the closure; their own sum closes within a few percent:
    docs/validation.md, pressure/viscous split). Where the closure is outside CLOSURE_RANGE the plain outline
    integral `pressure_force` is used. The solver and the surrogate's physics operator both split this way.

    Returns:
        (Px, Py, closure).
    """
    px, py, sx, sy = (float(f) for f in surface_stress_forces(u, v, p, poly, grid, nu))
    closure = (px + sx) / fx if fx != 0 else float("nan")
    if CLOSURE_RANGE[0] <= closure <= CLOSURE_RANGE[1]:
        return px / closure, py / closure, closure
    px, py = (float(f) for f in outline_pressure_force(p, poly, grid.xc, grid.yc))
    return px, py, closure
