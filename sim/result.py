"""The result of one simulation: coefficients, diagnostics, and the converged state behind them.

Its own module so that the solve (sim.solver) and what reads results (the split, the channel benchmark, the
adjoint, field output) share the type without importing one another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.equations import Equations
from sim.newton import NewtonResult
from sim.setups import Domain

IMMERSED = "cutlink"  # immersed-boundary method, see sim/body.py


@dataclass
class SimResult:
    """Coefficients, diagnostics, and the state kept for the adjoint and plots.

    Coefficients are per unit span on the domain's reference velocity U and length D: Cd = Fx / (0.5 U^2 D),
    Cl = Fy / (0.5 U^2 D), with the flow along +x.
    """

    cd: float
    cd_pressure: float
    cd_viscous: float
    cl: float
    cl_pressure: float
    cl_viscous: float
    split_closure: float  # (pressure + viscous stress integrals) / body force, before scaling
    cd_momentum: float  # independent check: control-volume momentum balance
    cl_momentum: float
    re: float
    converged: bool
    steps: int
    factorisations: int
    wall_s: float
    residual: float
    cells: int
    unknowns: int
    resolution: float
    setup: str
    cp: np.ndarray = field(repr=False)
    stations: np.ndarray = field(repr=False)
    # state for the adjoint, field output and plots
    domain: Domain = field(repr=False)
    equations: Equations = field(repr=False)
    q: np.ndarray = field(repr=False)
    c_u: np.ndarray = field(repr=False)  # body coefficients (sim.body)
    c_v: np.ndarray = field(repr=False)
    penalty: float = field(repr=False)
    points: np.ndarray = field(repr=False)
    immersed: str = field(repr=False, default=IMMERSED)
    newton: NewtonResult | None = field(repr=False, default=None)  # its factorisation serves the adjoint
    # how the split was measured: "surface" (this solve's fluid-side stress, scaled to the body force) or
    # "extrapolated" (sim.split.extrapolate_split; split_solves then describes both solves: resolution,
    # cells, steps, wall_s, cd, cd_pressure as one solve reports it, and the unscaled pressure_integral the
    # extrapolation used; the other fields describe this resolution's solve, except wall_s, the time of
    # both); split_note says why auto did not extrapolate where it meant to
    split: str = "surface"
    split_solves: list[dict[str, float]] = field(default_factory=list)
    split_note: str = ""

    def fields(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """u (nx+1, ny), v (nx, ny+1), p (nx, ny) on the staggered grid."""
        return self.equations.fields(self.q)

    def to_dict(self) -> dict[str, Any]:
        """The coefficients and diagnostics as JSON-ready values (the state for the adjoint is left out)."""
        keys = (
            "cd cd_pressure cd_viscous cl cl_pressure cl_viscous split_closure cd_momentum cl_momentum re "
            "converged steps factorisations wall_s residual cells unknowns resolution setup split "
            "split_solves "
            "split_note"
        ).split()
        out = {k: getattr(self, k) for k in keys}
        out["cp"] = self.cp.tolist()
        out["stations"] = self.stations.tolist()
        return out
