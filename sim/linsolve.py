"""Sparse direct solves with a fixed sparsity pattern: MKL PARDISO when it installs (x86-64), scipy's SuperLU else.

PARDISO's symbolic analysis (METIS ordering) is done once per pattern and reused for every Newton step; the
factorisation of the last Jacobian is kept for the transposed (adjoint) solve. PARDISO needs weighted matching
(on here) for the saddle-point pivots of the pressure rows.
"""

from __future__ import annotations

import glob
import os
import sys

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from sim.errors import SimulationError


def _point_pypardiso_at_mkl() -> None:
    """Tell pypardiso where libmkl_rt is when the environment holds it in the usual place. Unless told, pypardiso
    asks ctypes.util.find_library and then searches the whole environment recursively, twice (once when the
    package is imported, once per solver): about 1 s of a 2-3 s solve in a fresh process."""
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
    return (["pardiso"] if _PARDISO_OK else []) + ["splu"]


class _Pardiso:
    """Phases 11 (analysis) once, 22 (factorise) per matrix, 33 (solve), with iparm[11] = 2 for A^T x = b."""

    def __init__(self):
        self._s = _pw.PyPardisoSolver(mtype=11)
        # pypardiso searches the whole environment for libmkl_rt (about 0.5 s) unless told where it is
        os.environ.setdefault("PYPARDISO_MKL_RT", self._s.libmkl._name)
        ip = self._s.iparm
        ip[:] = 0
        ip[0] = 1  # we set the parameters ourselves
        ip[1] = 2  # METIS nested dissection
        ip[7] = 2  # iterative refinement steps
        # pivot perturbation 1e-6: with PARDISO's default 1e-13 the perturbed pivots left 3 of 27 benchmark cases
        # (and 2 of 4 Schaefer-Turek resolutions) with a diverging iterative refinement and a SuperLU fallback;
        # with 1e-6 refinement reaches round-off in 1-2 steps in all of them (and the solves are refined anyway)
        ip[9] = 6
        ip[10] = 1  # scaling
        ip[12] = 1  # weighted matching: required for the zero diagonal of the pressure rows
        self._pattern = None
        self._A = None

    def _call(self, phase: int, A, b, transpose: bool = False):
        self._s.iparm[11] = 2 if transpose else 0
        self._s.set_phase(phase)
        try:
            return self._s._call_pardiso(A, b)
        except _pw.PyPardisoError as exc:  # e.g. out of memory (-2), zero pivot (-4)
            raise SimulationError(f"the sparse solver PARDISO failed in phase {phase}: {exc}") from None

    def factor(self, A: sp.csr_matrix) -> None:
        key = (A.indptr.tobytes(), A.indices.tobytes())
        b = np.zeros((A.shape[0], 1))
        if key != self._pattern:
            self._call(11, A, b)
            self._pattern = key
        self._call(22, A, b)
        self._A = A

    def solve(self, b: np.ndarray, transpose: bool = False) -> np.ndarray:
        x = self._call(33, self._A, np.asfortranarray(b.reshape(-1, 1)), transpose)
        return x.ravel()

    def release(self) -> None:
        if self._pattern is not None:
            self._s.set_phase(-1)
            self._s._call_pardiso(self._A, np.zeros((self._A.shape[0], 1)))
            self._pattern = None

    def __del__(self):
        try:
            self.release()
        except Exception:
            pass


class _SuperLU:
    def __init__(self):
        self._lu = None

    def factor(self, A: sp.csr_matrix) -> None:
        self._lu = spla.splu(A.tocsc(), permc_spec="COLAMD")

    def solve(self, b: np.ndarray, transpose: bool = False) -> np.ndarray:
        return self._lu.solve(b, trans="T" if transpose else "N")


def make_solver(backend: str = "auto"):
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
