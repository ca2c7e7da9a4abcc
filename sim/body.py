"""The body as an immersed boundary, as diagonal coefficients c on the velocity unknowns: R += c * q.

Two parts, continuous in the outline and differentiable almost everywhere (on torch tensors, for the adjoint;
numpy points give the same coefficients without torch, geometry.arrays):
- penalisation lambda * V of the nodes inside the body, which holds them at rest;
- cut links (Shortley-Weller): a fluid node P whose viscous link to a neighbour N crosses the outline at the
  fraction theta of the link sees the wall at theta * L instead of N at L, so its viscous coupling
  nu * A / L grows to nu * A / (theta * L). Since N is held at rest, this is the extra diagonal
  nu * A / L * (1 / theta - 1) on P. theta is where the link meets the outline (exact segment intersection);
  links that pass through a feature thinner than a cell with both nodes in the fluid count too. The wall term
  is capped at lambda * V, which it reaches as the wall reaches the node, so a node entering the body changes
  nothing abruptly.

Why cut links and not a volume-fraction penalisation alone (chi = covered fraction of each control volume,
kept as `fraction_coefficients`): with a penalty strong enough to stop the flow, any control volume the body
touches is solid, so drag moves in steps as the outline crosses nodes and its shape gradient is almost zero
between them (docs/validation.md, immersed boundary). The force on the body is the momentum the coefficients
remove: F = sum c * velocity.
"""

from __future__ import annotations

import numpy as np

from geometry.arrays import (
    Array,
    amax,
    amin,
    asarray,
    detach,
    flatnonzero,
    namespace,
    pad,
    put,
    requires_grad,
    to_numpy,
)
from geometry.raster import signed_distance
from sim.grid import Grid


def _node_coefficients(
    points: Array, X: np.ndarray, Y: np.ndarray, WX: np.ndarray, WY: np.ndarray, nu: float, lam: float
) -> Array:
    """Coefficients on the nodes X x Y with control volumes WX x WY: penalty inside, cut-link terms
    outside."""
    xp = namespace(points)
    c = xp.zeros((len(X), len(Y)), dtype=xp.float64)
    pn = to_numpy(points)
    lo, hi = pn.min(0), pn.max(0)
    margin = 3.0 * max(
        WX[(X >= lo[0]) & (X <= hi[0])].max(initial=0), WY[(Y >= lo[1]) & (Y <= hi[1])].max(initial=0)
    )
    ix = np.flatnonzero((X >= lo[0] - margin) & (X <= hi[0] + margin))
    iy = np.flatnonzero((Y >= lo[1] - margin) & (Y <= hi[1] + margin))
    if len(ix) < 2 or len(iy) < 2:
        return c
    i0, i1, j0, j1 = ix[0], ix[-1] + 1, iy[0], iy[-1] + 1
    Xw, Yw = X[i0:i1], Y[j0:j1]
    gx, gy = np.meshgrid(Xw, Yw, indexing="ij")
    q = asarray(np.stack([gx.ravel(), gy.ravel()], 1), xp)
    s = signed_distance(detach(points), q)
    # only nodes within a link of the outline depend on it: differentiate just those
    if requires_grad(points):
        near = flatnonzero(abs(s) < 1.5 * margin / 3.0)
        s = put(s, near, signed_distance(points, q[near]))
    s = s.reshape(gx.shape)
    wx, wy = asarray(WX[i0:i1], xp), asarray(WY[j0:j1], xp)
    vol = wx[:, None] * wy[None, :]
    held = lam * vol  # the coefficient that holds a node at rest
    cw = xp.where(s < 0, held, xp.zeros_like(held))

    lx = asarray(np.diff(Xw), xp)[:, None]
    ea, eb = _wall_links(
        points, gx[:-1], gy[:-1], gx[1:], gy[1:], s[:-1], s[1:], nu * wy[None, :] / lx, held[:-1], held[1:]
    )
    extra = pad(ea, ((0, 1), (0, 0))) + pad(eb, ((1, 0), (0, 0)))
    ly = asarray(np.diff(Yw), xp)[None, :]
    ea, eb = _wall_links(
        points,
        gx[:, :-1],
        gy[:, :-1],
        gx[:, 1:],
        gy[:, 1:],
        s[:, :-1],
        s[:, 1:],
        nu * wx[:, None] / ly,
        held[:, :-1],
        held[:, 1:],
    )
    extra = extra + pad(ea, ((0, 0), (0, 1))) + pad(eb, ((0, 0), (1, 0)))
    return pad(cw + extra, ((i0, len(X) - i1), (j0, len(Y) - j1)))


def _wall_links(
    points: Array,
    ax: np.ndarray,
    ay: np.ndarray,
    bx: np.ndarray,
    by: np.ndarray,
    sa: Array,
    sb: Array,
    coeff: Array,
    cap_a: Array,
    cap_b: Array,
) -> tuple[Array, Array]:
    """Extra diagonals (on a, on b) from the links a -> b that meet the outline.

    A fluid node whose link meets the wall at the fraction theta of the link gets nu A / L * (1 / theta - 1).
    theta is where the link first meets the outline from that node's side, by exact segment intersection:
    smooth in the outline (a signed-distance interpolation has kinks on the medial axis of thin features).
    Links with one node inside (cut links) and links that pass through a feature thinner than the link with
    both nodes in the fluid (a sharp trailing edge) are both handled; for the latter the direct coupling of
    the two nodes is kept, which is right where they move alike (flow along a thin trailing edge) and all a
    diagonal body model can do.
    """
    xp = namespace(points, sa)
    zero = xp.zeros_like(sa)
    length = asarray(np.hypot(bx - ax, by - ay), xp, sa.dtype)
    fluid_a, fluid_b = sa > 0, sb > 0
    cut = fluid_a != fluid_b
    through = fluid_a & fluid_b & (sa < length) & (sb < length)
    cand = flatnonzero(cut | through)
    if len(cand) == 0:
        return zero, zero
    a = asarray(np.stack([ax.ravel(), ay.ravel()], 1), xp, sa.dtype)[cand]
    d = asarray(np.stack([(bx - ax).ravel(), (by - ay).ravel()], 1), xp, sa.dtype)[cand]
    p = points
    e = xp.roll(points, -1, 0) - p

    def cross(u: Array, v: Array) -> Array:
        return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]

    den = cross(d[:, None, :], e[None, :, :])  # (K, E)
    ap = p[None, :, :] - a[:, None, :]
    ok_den = abs(den) > 1e-14
    den = xp.where(ok_den, den, xp.ones_like(den))
    t = cross(ap, e[None, :, :]) / den  # position along the link
    w = cross(ap, d[:, None, :]) / den  # position along the edge
    hit = ok_den & (t >= 0) & (t <= 1) & (w >= 0) & (w < 1)
    t_first = amin(xp.where(hit, t, xp.full_like(t, 2.0)), 1)
    t_last = amax(xp.where(hit, t, xp.full_like(t, -1.0)), 1)
    found = hit.any(1)
    fa, fb = fluid_a.flatten()[cand], fluid_b.flatten()[cand]
    sa_c, sb_c = sa.flatten()[cand], sb.flatten()[cand]
    # a cut link whose crossing was missed (the outline through a node, to round-off): signed-distance
    # estimate
    lin = sa_c / xp.where(sa_c != sb_c, sa_c - sb_c, xp.ones_like(sa_c))
    th_a = xp.clip(xp.where(found, t_first, lin), 1e-12, None)
    th_b = xp.clip(xp.where(found, 1 - t_last, 1 - lin), 1e-12, None)
    keep_a = fa & (found | ~fb)  # a in the fluid: a cut link, or a through link that was confirmed
    keep_b = fb & (found | ~fa)
    c = xp.broadcast_to(coeff, sa.shape).flatten()[cand]
    # capped at the coefficient of a node held at rest: as the wall reaches a fluid node (theta -> 0) its wall
    # term grows continuously into the penalty it gets once inside, so drag does not jump when the outline
    # crosses a node
    add_a = xp.where(keep_a, xp.minimum(c * (1 / th_a - 1), cap_a.flatten()[cand]), xp.zeros_like(c))
    add_b = xp.where(keep_b, xp.minimum(c * (1 / th_b - 1), cap_b.flatten()[cand]), xp.zeros_like(c))
    ea = put(zero.flatten(), cand, add_a).reshape(sa.shape)
    eb = put(zero.flatten(), cand, add_b).reshape(sa.shape)
    return ea, eb


def body_coefficients(points: Array, grid: Grid, nu: float, lam: float) -> tuple[Array, Array]:
    """c_u (nx+1, ny) on the u nodes and c_v (nx, ny+1) on the v nodes, differentiable in `points` (n, 2) when
    it is a tensor (numpy points give numpy coefficients, without torch)."""
    points = asarray(points, namespace(points))
    x0, x1 = grid.u_cv
    y0, y1 = grid.v_cv
    c_u = _node_coefficients(points, grid.xf, grid.yc, x1 - x0, grid.dy, nu, lam)
    c_v = _node_coefficients(points, grid.xc, grid.yf, grid.dx, y1 - y0, nu, lam)
    return c_u, c_v


def fraction_coefficients(points: Array, grid: Grid, lam: float, sub: int = 8) -> tuple[Array, Array]:
    """The plain volume-fraction penalisation lambda * V * (covered fraction of the control volume), kept for
    the comparison in docs/validation.md."""
    import torch

    from geometry.properties import as_tensor
    from geometry.raster import cell_fractions

    points = as_tensor(points)
    out = []
    for (x0, x1), (y0, y1) in (
        (grid.u_cv, (grid.yf[:-1], grid.yf[1:])),
        ((grid.xf[:-1], grid.xf[1:]), grid.v_cv),
    ):
        X0, Y0 = np.meshgrid(x0, y0, indexing="ij")
        X1, Y1 = np.meshgrid(x1, y1, indexing="ij")
        chi = cell_fractions(points, X0.ravel(), X1.ravel(), Y0.ravel(), Y1.ravel(), sub).reshape(X0.shape)
        out.append(lam * torch.as_tensor((X1 - X0) * (Y1 - Y0)) * chi)
    return out[0], out[1]


def coefficients(
    points: Array, grid: Grid, nu: float, lam: float, method: str = "cutlink"
) -> tuple[Array, Array]:
    """Dispatch on the immersed-boundary method: `cutlink` (default) or `fraction`."""
    if method == "cutlink":
        return body_coefficients(points, grid, nu, lam)
    if method == "fraction":
        return fraction_coefficients(points, grid, lam)
    raise ValueError(f"unknown immersed-boundary method {method!r}; allowed: cutlink, fraction")
