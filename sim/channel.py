"""The Schaefer-Turek (DFG 2D-1) channel benchmark: a cylinder in a confined channel at Re 20, against the
FEATFLOW reference values of drag, lift and pressure difference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim import forces, setups
from sim.result import SimResult
from sim.solver import run_case


@dataclass
class ChannelResult:
    """The Schaefer-Turek benchmark's solve and its pressure difference dp (benchmark units)."""

    sim: SimResult
    dp: float

    def to_dict(self) -> dict[str, Any]:
        """Cd, Cl and dp beside the FEATFLOW reference values and their errors, and the solve's
        diagnostics."""
        st = setups.SCHAEFER_TUREK
        ref = setups.SCHAEFER_TUREK_REFERENCE
        out: dict[str, Any] = {"cd": self.sim.cd, "cl": self.sim.cl, "dp": self.dp, **ref}
        out["cd_rel_err"] = (self.sim.cd - ref["cd_ref"]) / ref["cd_ref"]
        out["cl_abs_err"] = abs(self.sim.cl - ref["cl_ref"])
        out["dp_rel_err"] = (self.dp - ref["dp_ref"]) / ref["dp_ref"]
        out.update(
            cd_pressure=self.sim.cd_pressure,
            cd_viscous=self.sim.cd_viscous,
            cd_momentum=self.sim.cd_momentum,
            resolution=self.sim.resolution,
            cells=self.sim.cells,
            unknowns=self.sim.unknowns,
            steps=self.sim.steps,
            wall_s=self.sim.wall_s,
            re=self.sim.re,
            diameter=st["diameter"],
        )
        return out


def schaefer_turek(resolution: float = setups.DEFAULT_RESOLUTION, **options: Any) -> ChannelResult:
    """The DFG 2D-1 benchmark: cylinder D = 0.1 at (0.2, 0.2) in the 2.2 x 0.41 channel, Re = 20."""
    from geometry.presets import circle_points

    st = setups.SCHAEFER_TUREK
    d, u_mean = st["diameter"], 2.0 / 3.0 * st["u_max"]
    domain = setups.channel(resolution)
    centre = np.array(st["centre"]) / d
    sim = run_case(circle_points(512) + centre, domain, resolution, **options)  # Re 20: the domain's
    _, _, p = sim.fields()
    front_back = np.stack([centre - [0.5, 0.0], centre + [0.5, 0.0]])
    pf, pb = forces.interp2(p, domain.grid.xc, domain.grid.yc, front_back).tolist()
    return ChannelResult(sim, (pf - pb) * u_mean**2)
