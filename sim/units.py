"""Physical units for the solver's dimensionless numbers: a body of length L (its D, or a section's chord) in
a fluid of density rho and viscosity mu at speed U has Re = rho U L / mu, and a drag coefficient Cd per that
length is a force per unit span F' = Cd rho U^2 L / 2 (N/m); a prism of span b feels F' b.

The fluids are the usual handbook values at 20 degrees C and 1 atm (air: dry air; water: pure water; glycerol:
anhydrous); a designer's own fluid is given by its density and viscosity.
"""

from __future__ import annotations

import math

LENGTHS = {"mm": 1e-3, "cm": 1e-2, "m": 1.0, "in": 0.0254}  # metres per unit
FLUIDS = {  # name -> (density kg/m^3, dynamic viscosity Pa s), 20 degrees C
    "air": (1.204, 1.825e-5),
    "water": (998.2, 1.002e-3),
    "glycerol": (1261.0, 1.412),
}


def _positive(value: float, what: str) -> float:
    v = float(value)
    if not (v > 0 and math.isfinite(v)):
        raise ValueError(f"{what} must be a positive number; got {value}")
    return v


def metres(length: float, unit: str) -> float:
    """A length in `unit` (LENGTHS) in metres."""
    if unit not in LENGTHS:
        raise ValueError(f"unknown length unit {unit!r}; allowed: {', '.join(LENGTHS)}")
    return _positive(length, "the length") * LENGTHS[unit]


def fluid(name: str) -> tuple[float, float]:
    """(density, viscosity) of a listed fluid."""
    if name not in FLUIDS:
        raise ValueError(
            f"unknown fluid {name!r}; allowed: {', '.join(FLUIDS)}, or give density and viscosity"
        )
    return FLUIDS[name]


def reynolds(length_m: float, speed: float, density: float, viscosity: float) -> float:
    """Re = rho U L / mu."""
    return (
        _positive(density, "the density")
        * _positive(speed, "the speed")
        * _positive(length_m, "the length")
        / _positive(viscosity, "the viscosity")
    )


def speed_for(re: float, length_m: float, density: float, viscosity: float) -> float:
    """The speed (m/s) at which a body of length L sees Re in this fluid."""
    return (
        _positive(re, "Re")
        * _positive(viscosity, "the viscosity")
        / (_positive(density, "the density") * _positive(length_m, "the length"))
    )


def force_per_span(coefficient: float, length_m: float, speed: float, density: float) -> float:
    """The force per unit span (N/m) of a force coefficient per the length L: C rho U^2 L / 2."""
    return (
        float(coefficient)
        * 0.5
        * _positive(density, "the density")
        * speed**2
        * _positive(length_m, "the length")
    )
