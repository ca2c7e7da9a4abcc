"""The pressure/viscous split of sharp bodies, extrapolated from two solves of the same case.

Near a corner or a nose of a few cells the wall stress is resolved only to first order, so the single-solve
split (forces.pressure_part) converges slowly while the total drag hardly moves. `split_domain` picks the
second solve that sim.solver.simulate's split option asks for; `extrapolate_split` combines the two.
"""

from __future__ import annotations

import dataclasses

from geometry.shape import Shape
from sim import forces, setups
from sim.errors import SetupError, SimulationError
from sim.result import SimResult
from sim.setups import Domain


def split_domain(
    shape: Shape, re: float, resolution: float, box: float, split: str
) -> tuple[Domain, float] | None:
    """(domain, resolution) of the second solve that `simulate`'s split option asks for, or None (cheap: no
    solve).

    The second solve is at SPLIT_RATIO times the resolution, or at 1 / SPLIT_RATIO times where that grid is
    beyond the allowed resolution or cells. "auto" needs none for a body that is not sharp for the grid, nor
    where neither grid is allowed; "extrapolated" then names why it cannot."""
    if split not in setups.SPLITS:
        raise ValueError(f"unknown split {split!r}; allowed: {', '.join(setups.SPLITS)}")
    if split == "surface" or (split == "auto" and not setups.sharp(shape.points, resolution)):
        return None
    refused: list[str] = []
    for other in (setups.SPLIT_RATIO * resolution, resolution / setups.SPLIT_RATIO):
        try:
            return setups.unconfined(re, shape.bounds(), other, box), other
        except SetupError as exc:
            refused.append(f"at resolution {other:g}: {exc}")
    if split == "auto":
        return None
    raise SetupError(
        f"the extrapolated split needs a second solve and neither grid is allowed ({'; '.join(refused)}); "
        "use --split surface"
    )


def stress_pressure(result: SimResult) -> tuple[float, float] | None:
    """The pressure integral of the fluid-side wall stress (forces.surface_stress_forces) as coefficients (Cd,
    Cl), not scaled to the body force: the single-solve split times the closure that forces.pressure_part
    divided it by. None where the closure is outside that range (the split is then the outline integral)."""
    lo, hi = forces.CLOSURE_RANGE
    if not lo <= result.split_closure <= hi:
        return None
    return result.cd_pressure * result.split_closure, result.cl_pressure * result.split_closure


def extrapolate_split(result: SimResult, other: SimResult, strict: bool = False) -> SimResult:
    """`result` with its pressure parts replaced by the first-order Richardson extrapolation of the two
    solves' pressure integrals, f + (f - f_coarse) / (ratio - 1) with f the finer solve's, and its viscous
    parts the total minus those; `other` is the same case at another resolution.

    Why: near a corner or a nose of a few cells the wall stress is resolved only to first order, so the
    pressure part converges slowly while the total hardly moves. The integral is taken as it is, not scaled to
    the body force as the single-solve split is: on pointed bodies the stress integrals fall short of the body
    force even on fine grids, and the unscaled pressure integral is the one that agrees with body-fitted
    references, so the shortfall is the viscous part's (docs/validation.md, pressure/viscous split).

    Not extrapolated (result returned with a split_note, or SimulationError if `strict`) where either solve's
    integrals close poorly on its body force (outside pressure_part's range) or the two totals differ by over
    2% (the solves would not be the same flow)."""
    lo, hi = sorted((result, other), key=lambda r: r.resolution)
    part_lo, part_hi = stress_pressure(lo), stress_pressure(hi)
    why = ""
    if part_lo is None or part_hi is None:
        why = "a solve's stress integrals do not close on its body force"
    elif abs(other.cd / result.cd - 1) > 0.02:
        why = (
            f"the totals at resolutions {lo.resolution:g} and {hi.resolution:g} differ by over 2% "
            f"({lo.cd:.4f}, {hi.cd:.4f})"
        )
    if why or part_lo is None or part_hi is None:
        if strict:
            raise SimulationError(f"the split cannot be extrapolated: {why}")
        return dataclasses.replace(result, split_note=f"not extrapolated: {why}; the split is this solve's")
    r = hi.resolution / lo.resolution
    (cdp1, clp1), (cdp2, clp2) = part_lo, part_hi
    cdp = cdp2 + (cdp2 - cdp1) / (r - 1)
    clp = clp2 + (clp2 - clp1) / (r - 1)
    solves = [
        {
            "resolution": x.resolution,
            "cells": x.cells,
            "steps": x.steps,
            "wall_s": x.wall_s,
            "cd": x.cd,
            "cd_pressure": x.cd_pressure,
            "pressure_integral": part[0],
        }
        for x, part in zip((lo, hi), (part_lo, part_hi), strict=True)
    ]
    return dataclasses.replace(
        result,
        cd_pressure=cdp,
        cd_viscous=result.cd - cdp,
        cl_pressure=clp,
        cl_viscous=result.cl - clp,
        wall_s=result.wall_s + other.wall_s,
        split="extrapolated",
        split_solves=solves,
    )
