"""The full simulation of one case: set-up -> body coefficients -> Newton solve -> forces. Composes the sim modules."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from geometry.shape import Shape
from sim import forces, newton, setups
from sim.body import coefficients
from sim.equations import Equations
from sim.setups import Domain

PENALTY = 1e6  # lambda in units of U / D
IMMERSED = "cutlink"  # immersed-boundary method, see sim/body.py
STATIONS = 64  # surface Cp stations


@dataclass
class SimResult:
    """Coefficients (DESIGN.md conventions), diagnostics, and the state kept for the adjoint and plots."""

    cd: float
    cd_pressure: float
    cd_viscous: float
    cl: float
    cl_pressure: float
    cl_viscous: float
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
    newton: object = field(
        repr=False, default=None
    )  # sim.newton.NewtonResult (factorisation for the adjoint)

    def fields(self):
        """u (nx+1, ny), v (nx, ny+1), p (nx, ny) on the staggered grid."""
        return self.equations.fields(self.q)

    def to_dict(self) -> dict:
        keys = (
            "cd cd_pressure cd_viscous cl cl_pressure cl_viscous cd_momentum cl_momentum re converged steps factorisations "
            "wall_s residual cells unknowns resolution setup"
        ).split()
        out = {k: getattr(self, k) for k in keys}
        out["cp"] = self.cp.tolist()
        out["stations"] = self.stations.tolist()
        return out


def run_case(
    points,
    domain: Domain,
    re: float,
    resolution: float,
    penalty: float = PENALTY,
    immersed: str = IMMERSED,
    backend: str = "auto",
    tol: float = 1e-9,
    max_steps: int = 25,
    progress=None,
) -> SimResult:
    """Solve the steady flow around the polygon `points` (domain units) in `domain`."""
    t0 = time.perf_counter()
    pts = torch.as_tensor(np.asarray(points), dtype=torch.float64)
    g = domain.grid
    eq = Equations(g, domain.nu, domain.inflow, domain.walls)
    lam = penalty * domain.u_ref / domain.d_ref
    with torch.no_grad():
        c_u, c_v = (c.numpy() for c in coefficients(pts, g, domain.nu, lam, immersed))
    pen = eq.body_vector(c_u, c_v)
    scale = domain.u_ref**2 * domain.d_ref
    res = newton.solve(
        lambda q: eq.residual(q, pen),
        lambda q: eq.jacobian(q, pen),
        eq.uniform_state(),
        tol=tol * scale,
        max_steps=max_steps,
        backend=backend,
        progress=progress,
    )
    u, v, p = eq.fields(res.q)
    k = domain.force_scale
    fx, fy = (float(f) for f in forces.body_force(u, v, c_u, c_v))
    px, py = (float(f) for f in forces.pressure_force(p, pts, g))
    xmin, ymin = pts.min(0).values.tolist()
    xmax, ymax = pts.max(0).values.tolist()
    m = 0.5 * domain.d_ref
    box = (xmin - m, ymin - m, xmax + m, ymax + m)
    mx, my = (float(f) for f in forces.momentum_balance(u, v, p, g, domain.nu, box))
    stations, cp = forces.surface_cp(p, pts, g, STATIONS, domain.u_ref)
    return SimResult(
        cd=k * fx,
        cd_pressure=k * px,
        cd_viscous=k * (fx - px),
        cl=k * fy,
        cl_pressure=k * py,
        cl_viscous=k * (fy - py),
        cd_momentum=k * mx,
        cl_momentum=k * my,
        re=float(re),
        converged=res.residuals[-1] <= tol * scale,  # newton.solve raises when it does not converge
        steps=res.steps,
        factorisations=res.factorisations,
        wall_s=time.perf_counter() - t0,
        residual=res.residuals[-1],
        cells=g.cells,
        unknowns=eq.n,
        resolution=float(resolution),
        setup=domain.name,
        cp=cp.numpy(),
        stations=stations.numpy(),
        domain=domain,
        equations=eq,
        q=res.q,
        c_u=c_u,
        c_v=c_v,
        penalty=lam,
        immersed=immersed,
        points=pts.numpy(),
        newton=res,
    )


def simulate(
    shape: Shape,
    re: float,
    resolution: float = setups.DEFAULT_RESOLUTION,
    box: float = setups.DEFAULT_BOX,
    **options,
) -> SimResult:
    """Steady flow around a normalised shape (D = 1) in the default unconfined domain at Reynolds number re."""
    domain = setups.unconfined(re, shape.bounds(), resolution, box)
    return run_case(shape.points, domain, re, resolution, **options)


@dataclass
class ChannelResult:
    sim: SimResult
    dp: float

    def to_dict(self) -> dict:
        st = setups.SCHAEFER_TUREK
        ref = setups.SCHAEFER_TUREK_REFERENCE
        out = {"cd": self.sim.cd, "cl": self.sim.cl, "dp": self.dp, **ref}
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
            re=20.0,
            diameter=st["diameter"],
        )
        return out


def schaefer_turek(resolution: float = setups.DEFAULT_RESOLUTION, **options) -> ChannelResult:
    """The DFG 2D-1 benchmark: cylinder D = 0.1 at (0.2, 0.2) in the 2.2 x 0.41 channel, Re = 20."""
    from geometry.presets import circle_points

    st = setups.SCHAEFER_TUREK
    d, u_mean = st["diameter"], 2.0 / 3.0 * st["u_max"]
    domain = setups.channel(resolution)
    centre = np.array(st["centre"]) / d
    sim = run_case(circle_points(512) + centre, domain, 20.0, resolution, **options)
    _, _, p = sim.fields()
    front_back = torch.as_tensor(np.stack([centre - [0.5, 0.0], centre + [0.5, 0.0]]))
    pf, pb = forces.interp2(p, domain.grid.xc, domain.grid.yc, front_back).tolist()
    return ChannelResult(sim, (pf - pb) * u_mean**2)
