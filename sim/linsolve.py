"""Sparse direct solves with a fixed sparsity pattern: MKL PARDISO when it installs (x86-64), else scipy's
SuperLU.

PARDISO's symbolic analysis (METIS ordering) is done once per pattern and reused for every Newton step; the
factorisation of the last Jacobian is kept for the transposed (adjoint) solve. PARDISO needs weighted matching
(on here) for the saddle-point pivots of the pressure rows.
"""

from __future__ import annotations

import glob
import os
import sys
from typing import Protocol

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from sim.errors import SimulationError


class Factorisation(Protocol):
    """A reusable sparse factorisation: factor a matrix, then solve with it (or its transpose) any number of
    times."""

    def factor(self, A: sp.csr_matrix) -> None: ...

    def solve(self, b: np.ndarray, transpose: bool = False) -> np.ndarray: ...


def _point_pypardiso_at_mkl() -> None:
    """Tell pypardiso where libmkl_rt is when the environment holds it in the usual place. Unless told,
    pypardiso asks ctypes.util.find_library and then searches the whole environment recursively, twice (once
    when the package is imported, once per solver), a large part of a fresh process's time
    (docs/validation.md, start-up)."""
    if os.environ.get("PYPARDISO_MKL_RT"):
        return
    for pattern in ("lib/libmkl_rt.so*", "lib/libmkl_rt*.dylib", "Library/bin/mkl_rt*.dll"):
        found = sorted(glob.glob(os.path.join(sys.prefix, pattern)), key=len)
        if found:
            os.environ["PYPARDISO_MKL_RT"] = found[0]
            return


try:  # pragma: no cover - depends on the platform
    _point_pypardiso_at_mkl()
    import pypardiso.pardiso_wrapper as _pw

    _PARDISO_OK = True
except Exception:  # ImportError, or the MKL library missing
    _PARDISO_OK = False


def available_backends() -> list[str]:
    """The linear solvers that work here, the preferred first."""
    return (["pardiso"] if _PARDISO_OK else []) + ["splu"]


class _Pardiso:
    """Phases 11 (analysis) once, 22 (factorise) per matrix, 33 (solve), with iparm[11] = 2 for A^T x = b."""

    def __init__(self) -> None:
        self._s = _pw.PyPardisoSolver(mtype=11)
        # pypardiso searches the whole environment for libmkl_rt (slow) unless told where it is
        os.environ.setdefault("PYPARDISO_MKL_RT", self._s.libmkl._name)
        ip = self._s.iparm
        ip[:] = 0
        ip[0] = 1  # we set the parameters ourselves
        ip[1] = 2  # METIS nested dissection
        ip[7] = 2  # iterative refinement steps
        # pivot perturbation 1e-6, not PARDISO's default 1e-13: with the default, iterative refinement
        # diverged on some benchmark cases and fell back to SuperLU; with 1e-6 it reaches round-off in 1-2
        # steps (and the solves are refined anyway; docs/validation.md, performance)
        ip[9] = 6
        ip[10] = 1  # scaling
        ip[12] = 1  # weighted matching: required for the zero diagonal of the pressure rows
        self._pattern: tuple[bytes, bytes] | None = None
        self._A: sp.csr_matrix | None = None

    def _call(self, phase: int, A: sp.csr_matrix, b: np.ndarray, transpose: bool = False) -> np.ndarray:
        self._s.iparm[11] = 2 if transpose else 0
        self._s.set_phase(phase)
        try:
            return self._s._call_pardiso(A, b)
        except _pw.PyPardisoError as exc:  # e.g. out of memory (-2), zero pivot (-4)
            raise SimulationError(f"the sparse solver PARDISO failed in phase {phase}: {exc}") from None

    def factor(self, A: sp.csr_matrix) -> None:
        """Factorise A; the symbolic analysis is redone only when its sparsity pattern changed."""
        key = (A.indptr.tobytes(), A.indices.tobytes())
        b = np.zeros((A.shape[0], 1))
        if key != self._pattern:
            self._call(11, A, b)
            self._pattern = key
        self._call(22, A, b)
        self._A = A

    def solve(self, b: np.ndarray, transpose: bool = False) -> np.ndarray:
        """x with A x = b, or A^T x = b, for the last factorised A."""
        if self._A is None:
            raise SimulationError("PARDISO solve before any factorisation")
        x = self._call(33, self._A, np.asfortranarray(b.reshape(-1, 1)), transpose)
        return x.ravel()

    def release(self) -> None:
        """Free PARDISO's memory for this handle."""
        if self._pattern is not None and self._A is not None:
            self._s.set_phase(-1)
            self._s._call_pardiso(self._A, np.zeros((self._A.shape[0], 1)))
            self._pattern = None

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:
            pass


class _SuperLU:
    """scipy's SuperLU with COLAMD ordering: the fallback where MKL is missing or PARDISO fails."""

    def __init__(self) -> None:
        self._lu: spla.SuperLU | None = None

    def factor(self, A: sp.csr_matrix) -> None:
        self._lu = spla.splu(A.tocsc(), permc_spec="COLAMD")

    def solve(self, b: np.ndarray, transpose: bool = False) -> np.ndarray:
        if self._lu is None:
            raise SimulationError("SuperLU solve before any factorisation")
        return self._lu.solve(b, trans="T" if transpose else "N")


def make_solver(backend: str = "auto") -> Factorisation:
    """A reusable factorisation object: `auto` picks PARDISO when available."""
    if backend == "auto":
        backend = available_backends()[0]
    if backend == "pardiso":
        if not _PARDISO_OK:
            raise ValueError(
                "linear solver 'pardiso' is not available here (pypardiso/MKL missing); use 'splu'"
            )
        return _Pardiso()
    if backend == "splu":
        return _SuperLU()
    raise ValueError(f"unknown linear solver {backend!r}; allowed: auto, {', '.join(available_backends())}")
