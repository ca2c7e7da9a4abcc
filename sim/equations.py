"""The discrete steady Navier-Stokes equations on a staggered grid, as a sum of bilinear terms.

Finite volumes, central differences, conservative (mass-consistent) convective fluxes. Every term of the
residual is

    R[row] += coef * (w1 . q[i1]) * (w2 . q[i2])

with two-entry linear combinations of unknowns. A constant is the extra slot q[ONE] = 1, so linear terms,
Dirichlet values and boundary ghosts are the same kind of term. The residual, its exact Jacobian (the product
rule) and its transpose (for the adjoint) then follow from one small set of index arrays, with a sparsity
pattern that is fixed for a grid: the sparse factorisation's analysis is done once and reused.

Boundaries: inflow on the left (u given, v = 0), pressure outlet on the right (p = 0, zero-gradient velocity),
walls at the bottom and top (v = 0; `slip`: zero shear, `noslip`: u = 0). The body is volume penalisation,
added separately: a diagonal R += c * q on the velocity unknowns (sim.body, `Equations.body_vector`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TypeAlias

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from sim.grid import Grid

# A linear combination of unknowns: (indices into q, weights), each a list of broadcastable arrays
Linear: TypeAlias = tuple[list[ArrayLike], list[ArrayLike]]


@dataclass(frozen=True, eq=False)
class Layout:
    """Numbering of the unknowns: u on faces i = 1..nx (i = 0 is the inlet), v on faces j = 1..ny-1, p
    everywhere.

    Unknowns are interleaved cell by cell (u east face, v north face, p), which keeps the bandwidth small.
    """

    nx: int
    ny: int

    @cached_property
    def _numbering(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        nx, ny = self.nx, self.ny
        iu = -np.ones((nx + 1, ny), dtype=np.int64)
        iv = -np.ones((nx, ny + 1), dtype=np.int64)
        ip = np.zeros((nx, ny), dtype=np.int64)
        # key = (cell index) * 3 + kind; u[i, j] belongs to cell (i-1, j), v[i, j] to cell (i, j-1)
        cell = np.arange(nx * ny).reshape(nx, ny)
        keys_u = cell * 3 + 0
        keys_v = cell[:, :-1] * 3 + 1
        keys_p = cell * 3 + 2
        keys = np.concatenate([keys_u.ravel(), keys_v.ravel(), keys_p.ravel()])
        order = np.empty(len(keys), dtype=np.int64)
        order[np.argsort(keys, kind="stable")] = np.arange(len(keys))
        nu_, nv_ = keys_u.size, keys_v.size
        iu[1:, :] = order[:nu_].reshape(nx, ny)
        iv[:, 1:-1] = order[nu_ : nu_ + nv_].reshape(nx, ny - 1)
        ip[:, :] = order[nu_ + nv_ :].reshape(nx, ny)
        return iu, iv, ip, len(keys)

    @property
    def iu(self) -> np.ndarray:
        return self._numbering[0]

    @property
    def iv(self) -> np.ndarray:
        return self._numbering[1]

    @property
    def ip(self) -> np.ndarray:
        return self._numbering[2]

    @property
    def n(self) -> int:
        return self._numbering[3]

    @property
    def one(self) -> int:
        """Index of the constant slot q[ONE] = 1."""
        return self.n


class _Terms:
    """Collects bilinear terms as flat arrays."""

    def __init__(self, one: int) -> None:
        self.one = one
        self.rows: list[np.ndarray] = []
        self.coef: list[np.ndarray] = []
        self.i1: list[np.ndarray] = []
        self.w1: list[np.ndarray] = []
        self.i2: list[np.ndarray] = []
        self.w2: list[np.ndarray] = []

    def add(self, rows: ArrayLike, coef: ArrayLike, lin1: Linear, lin2: Linear | None = None) -> None:
        """R[rows] += coef * (lin1 . q) * (lin2 . q), elementwise over broadcast arrays (lin2 = 1 if
        omitted)."""
        shape = np.shape(rows)
        n = int(np.prod(shape))

        def flat(a: ArrayLike, dtype: type | None = None) -> np.ndarray:
            return np.broadcast_to(np.asarray(a, dtype=dtype), shape).ravel()

        if lin2 is None:
            lin2 = ([np.full(shape, self.one)], [np.ones(shape)])
        for (ii, ww), idx, w in ((lin1, self.i1, self.w1), (lin2, self.i2, self.w2)):
            ii = [flat(a) for a in ii]
            ww = [flat(a, float) for a in ww]
            while len(ii) < 2:
                ii.append(np.full(n, self.one))
                ww.append(np.zeros(n))
            idx.append(np.stack(ii, 1))
            w.append(np.stack(ww, 1))
        self.rows.append(flat(rows))
        self.coef.append(flat(coef, float))

    def arrays(self) -> tuple[np.ndarray, ...]:
        """rows, coef, i1, w1, i2, w2 of all terms, concatenated."""
        cat = np.concatenate
        return cat(self.rows), cat(self.coef), cat(self.i1), cat(self.w1), cat(self.i2), cat(self.w2)


@dataclass(frozen=True, eq=False)
class Equations:
    """Residual and Jacobian of the steady equations for one grid, viscosity, inflow profile and wall type."""

    grid: Grid
    nu: float
    inflow: np.ndarray  # u on the inlet faces, (ny,)
    walls: str = "slip"  # "slip" or "noslip"

    @cached_property
    def layout(self) -> Layout:
        return Layout(self.grid.nx, self.grid.ny)

    @property
    def n(self) -> int:
        return self.layout.n

    # ----- the discretisation -----
    @cached_property
    def _terms(self) -> tuple[np.ndarray, ...]:
        """rows, coef, i1, w1, i2, w2 of every residual term (_Terms.arrays): u-momentum, v-momentum, then
        continuity."""
        s = _Stencil(self.grid, self.layout, np.asarray(self.inflow, dtype=float))
        T = _Terms(self.layout.one)
        _u_momentum(T, s, self.nu, self.walls == "noslip")
        _v_momentum(T, s, self.nu)
        _continuity(T, s)
        return T.arrays()

    @cached_property
    def _pattern(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, np.ndarray]:
        """Fixed CSR pattern of the Jacobian and the slot of every (term, factor entry) in it."""
        rows, coef, i1, w1, i2, w2 = self._terms
        n, one = self.n, self.layout.one
        r = np.repeat(rows, 4)
        c = np.concatenate([i1, i2], axis=1).ravel()
        keep = c != one
        diag_keys = np.arange(n) * (n + 1)  # every diagonal (penalty needs the velocity ones)
        keys = np.concatenate([r[keep] * n + c[keep], diag_keys])
        uniq, inv = np.unique(keys, return_inverse=True)
        indptr = np.searchsorted(uniq // n, np.arange(n + 1))
        indices = (uniq % n).astype(np.int32)
        diag_slot = inv[len(inv) - n :]
        return keep, inv[: len(inv) - n], indptr.astype(np.int32), indices, len(uniq), diag_slot

    # ----- evaluation -----
    def _factors(self, q: np.ndarray) -> tuple[np.ndarray, ...]:
        rows, coef, i1, w1, i2, w2 = self._terms
        qe = np.append(q, 1.0)
        a = (w1 * qe[i1]).sum(1)
        b = (w2 * qe[i2]).sum(1)
        return rows, coef, a, b, w1, w2

    def residual(self, q: np.ndarray, penalty: np.ndarray | None = None) -> np.ndarray:
        rows, coef, a, b, _, _ = self._factors(q)
        r = np.bincount(rows, weights=coef * a * b, minlength=self.n)
        if penalty is not None:
            r += penalty * q
        return r

    def jacobian(self, q: np.ndarray, penalty: np.ndarray | None = None) -> sp.csr_matrix:
        """Exact Jacobian dR/dq on the fixed pattern (explicit zeros kept)."""
        rows, coef, a, b, w1, w2 = self._factors(q)
        keep, slot, indptr, indices, nnz, diag_slot = self._pattern
        vals = np.concatenate([(coef * b)[:, None] * w1, (coef * a)[:, None] * w2], axis=1).ravel()
        data = np.bincount(slot, weights=vals[keep], minlength=nnz)
        if penalty is not None:
            data[diag_slot] += penalty
        return sp.csr_matrix((data, indices, indptr), shape=(self.n, self.n))

    # ----- state <-> fields -----
    def uniform_state(self) -> np.ndarray:
        """Initial guess: the inflow profile everywhere, v = 0, p = 0."""
        q = np.zeros(self.n)
        q[self.layout.iu[1:, :]] = np.broadcast_to(self.inflow, (self.grid.nx, self.grid.ny))
        return q

    def fields(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """u (nx+1, ny) with the inlet, v (nx, ny+1) with the walls, p (nx, ny)."""
        L = self.layout
        u = np.empty((self.grid.nx + 1, self.grid.ny))
        u[0] = self.inflow
        u[1:] = q[L.iu[1:]]
        v = np.zeros((self.grid.nx, self.grid.ny + 1))
        v[:, 1:-1] = q[L.iv[:, 1:-1]]
        p = q[L.ip]
        return u, v, p

    def state(self, u: np.ndarray, v: np.ndarray, p: np.ndarray) -> np.ndarray:
        """The state vector of fields shaped as `fields` returns them (inlet and wall values are not
        unknowns)."""
        L = self.layout
        q = np.zeros(self.n)
        q[L.iu[1:]] = u[1:]
        q[L.iv[:, 1:-1]] = v[:, 1:-1]
        q[L.ip] = p
        return q

    def body_vector(self, c_u: np.ndarray, c_v: np.ndarray) -> np.ndarray:
        """The body's diagonal coefficients (sim.body) on the velocity unknowns, 0 on the pressure rows."""
        L = self.layout
        pen = np.zeros(self.n)
        pen[L.iu[1:]] = c_u[1:]
        pen[L.iv[:, 1:-1]] = c_v[:, 1:-1]
        return pen


class _Stencil:
    """References to the unknowns by grid index, as (index into q, weight) pairs, and linear combinations of
    them: inlet u faces are constants (the inflow), wall v faces are zero."""

    def __init__(self, grid: Grid, layout: Layout, inflow: np.ndarray) -> None:
        self.grid = grid
        self.layout = layout
        self.inflow = inflow  # u on the inlet faces, (ny,)

    def U(self, i, j):  # reference to u[i, j] (inlet faces are constants)
        i, j = np.broadcast_arrays(i, j)
        inlet = i == 0
        return np.where(inlet, self.layout.one, self.layout.iu[i, j]), np.where(inlet, self.inflow[j], 1.0)

    def V(self, i, j):  # reference to v[i, j] (wall faces are zero)
        ny = self.grid.ny
        i, j = np.broadcast_arrays(i, j)
        wall = (j == 0) | (j == ny)
        return np.where(wall, self.layout.one, self.layout.iv[i, np.clip(j, 0, ny)]), np.where(wall, 0.0, 1.0)

    def P(self, i, j):
        return self.layout.ip[i, j], np.ones(np.broadcast(i, j).shape)

    @staticmethod
    def lin(*refs_weights):  # lin((ref, c), (ref, c)) -> ([idx...], [w...])
        return [r[0] for r, _ in refs_weights], [r[1] * c for r, c in refs_weights]


def _u_momentum(T: _Terms, s: _Stencil, nu: float, noslip: bool) -> None:
    """u-momentum on the faces i = 1..nx, j = 0..ny-1: fluxes through the east, west, north and south faces
    of each u control volume."""
    g, U, V, P, lin = s.grid, s.U, s.V, s.P, s.lin
    nx, ny, iu = g.nx, g.ny, s.layout.iu
    dx, dy, xc, yc = g.dx, g.dy, g.xc, g.yc
    i, j = np.meshgrid(np.arange(1, nx + 1), np.arange(ny), indexing="ij")
    row = iu[i, j]
    last = i == nx
    hx = np.where(last, 0.5 * dx[nx - 1], xc[np.minimum(i, nx - 1)] - xc[i - 1])
    dyj = dy[j]
    # east face (cell centre i, or the outlet boundary)
    ie, je, re = i[~last], j[~last], row[~last]
    ue = lin((U(ie, je), 1.0), (U(ie + 1, je), 1.0))
    T.add(re, 0.25 * dy[je], ue, ue)
    T.add(re, dy[je], lin((P(ie, je), 1.0)))
    T.add(re, -nu * dy[je] / dx[ie], lin((U(ie + 1, je), 1.0), (U(ie, je), -1.0)))
    io, jo, ro = i[last], j[last], row[last]
    T.add(ro, dy[jo], lin((U(io, jo), 1.0)), lin((U(io, jo), 1.0)))  # outflow momentum; p = 0, no shear
    # west face (cell centre i-1)
    uw = lin((U(i - 1, j), 1.0), (U(i, j), 1.0))
    T.add(row, -0.25 * dyj, uw, uw)
    T.add(row, -dyj, lin((P(i - 1, j), 1.0)))
    T.add(row, nu * dyj / dx[i - 1], lin((U(i, j), 1.0), (U(i - 1, j), -1.0)))
    # north and south faces: mass flux from the halves of the neighbouring cells' v fluxes
    half_e = np.where(last, 0.0, 0.5 * dx[np.minimum(i, nx - 1)])
    half_w = 0.5 * dx[i - 1]
    ie_c = np.minimum(i, nx - 1)
    for side in (+1, -1):
        inner = (j < ny - 1) if side > 0 else (j > 0)
        ii, jj, rr, hh = i[inner], j[inner], row[inner], hx[inner]
        jf = jj + 1 if side > 0 else jj  # v row of the face
        jn = jj + side  # neighbour u row
        mass = lin((V(ii - 1, jf), half_w[inner]), (V(ie_c[inner], jf), half_e[inner]))
        # linear interpolation of u to the face y = yf[jf]
        wn = np.abs(g.yf[jf] - yc[jj]) / np.abs(yc[jn] - yc[jj])
        adv = lin((U(ii, jj), 1.0 - wn), (U(ii, jn), wn))
        T.add(rr, float(side), mass, adv)
        T.add(rr, -nu * hh / np.abs(yc[jn] - yc[jj]), lin((U(ii, jn), 1.0), (U(ii, jj), -1.0)))
        if noslip:
            wall = ~inner
            T.add(row[wall], nu * hx[wall] / (0.5 * dyj[wall]), lin((U(i[wall], j[wall]), 1.0)))


def _v_momentum(T: _Terms, s: _Stencil, nu: float) -> None:
    """v-momentum on the faces i = 0..nx-1, j = 1..ny-1: fluxes through the north, south, east and west faces
    of each v control volume."""
    g, U, V, P, lin = s.grid, s.U, s.V, s.P, s.lin
    nx, ny, iv = g.nx, g.ny, s.layout.iv
    dx, dy, xc, yc = g.dx, g.dy, g.xc, g.yc
    i, j = np.meshgrid(np.arange(nx), np.arange(1, ny), indexing="ij")
    row = iv[i, j]
    hy = yc[j] - yc[j - 1]
    dxi = dx[i]
    vn = lin((V(i, j), 1.0), (V(i, j + 1), 1.0))
    T.add(row, 0.25 * dxi, vn, vn)
    T.add(row, dxi, lin((P(i, j), 1.0)))
    T.add(row, -nu * dxi / dy[j], lin((V(i, j + 1), 1.0), (V(i, j), -1.0)))
    vs = lin((V(i, j - 1), 1.0), (V(i, j), 1.0))
    T.add(row, -0.25 * dxi, vs, vs)
    T.add(row, -dxi, lin((P(i, j - 1), 1.0)))
    T.add(row, nu * dxi / dy[j - 1], lin((V(i, j), 1.0), (V(i, j - 1), -1.0)))
    # east face x = xf[i+1]
    mass_e = lin((U(i + 1, j - 1), 0.5 * dy[j - 1]), (U(i + 1, j), 0.5 * dy[j]))
    out = i == nx - 1
    ii, jj, rr = i[~out], j[~out], row[~out]
    we = dx[ii] / (dx[ii] + dx[ii + 1])
    me = lin((U(ii + 1, jj - 1), 0.5 * dy[jj - 1]), (U(ii + 1, jj), 0.5 * dy[jj]))
    T.add(rr, 1.0, me, lin((V(ii, jj), 1.0 - we), (V(ii + 1, jj), we)))
    T.add(rr, -nu * hy[~out] / (xc[ii + 1] - xc[ii]), lin((V(ii + 1, jj), 1.0), (V(ii, jj), -1.0)))
    mo = ([a[out] for a in mass_e[0]], [a[out] for a in mass_e[1]])
    T.add(row[out], 1.0, mo, lin((V(i[out], j[out]), 1.0)))  # outlet: zero-gradient v, no shear
    # west face x = xf[i]
    inl = i == 0
    ii, jj, rr = i[~inl], j[~inl], row[~inl]
    ww = dx[ii - 1] / (dx[ii - 1] + dx[ii])
    mw = lin((U(ii, jj - 1), 0.5 * dy[jj - 1]), (U(ii, jj), 0.5 * dy[jj]))
    T.add(rr, -1.0, mw, lin((V(ii - 1, jj), 1.0 - ww), (V(ii, jj), ww)))
    T.add(rr, nu * hy[~inl] / (xc[ii] - xc[ii - 1]), lin((V(ii, jj), 1.0), (V(ii - 1, jj), -1.0)))
    # inlet: v = 0 there, so no convective flux; shear over the half cell
    T.add(row[inl], nu * hy[inl] / (0.5 * dx[0]), lin((V(i[inl], j[inl]), 1.0)))


def _continuity(T: _Terms, s: _Stencil) -> None:
    """Continuity in every cell: the net volume flux out of it."""
    g, U, V, lin = s.grid, s.U, s.V, s.lin
    nx, ny, ip, dx, dy = g.nx, g.ny, s.layout.ip, g.dx, g.dy
    i, j = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    row = ip[i, j]
    T.add(row, dy[j], lin((U(i + 1, j), 1.0), (U(i, j), -1.0)))
    T.add(row, dx[i], lin((V(i, j + 1), 1.0), (V(i, j), -1.0)))
