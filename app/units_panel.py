"""The app's physical units: the body's size, the fluid and the speed set the Reynolds number (sim.units), and
the drag coefficient becomes a force per unit span and on a prism of a given span. A thin layer over
sim.units; exports then carry the chosen length unit."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from sim import units


@dataclass
class Physical:
    """The set-up in physical units: the body's D in `unit` (`size`), the fluid and the speed."""

    size: float
    unit: str
    density: float  # kg/m^3
    viscosity: float  # Pa s
    speed: float  # m/s

    @property
    def length_m(self) -> float:
        return units.metres(self.size, self.unit)

    @property
    def re(self) -> float:
        return units.reynolds(self.length_m, self.speed, self.density, self.viscosity)

    def force_per_span(self, cd: float) -> float:
        """N/m of a drag coefficient per D."""
        return units.force_per_span(cd, self.length_m, self.speed, self.density)


def panel() -> Physical | None:
    """The sidebar's units inputs (None when the user works in D and Re)."""
    if not st.checkbox(
        "Physical units", help="set Re from the body's size, the fluid and the speed", key="physical_units"
    ):
        return None
    c1, c2 = st.columns([2, 1])
    size = c1.number_input("Size D (equivalent diameter)", 1e-4, 1e4, 5.0, format="%g")
    unit = c2.selectbox("Unit", list(units.LENGTHS), index=0)
    name = st.selectbox("Fluid (20 °C)", [*units.FLUIDS, "custom"])
    if name == "custom":
        density = st.number_input("Density (kg/m³)", 1e-3, 1e5, 1000.0, format="%g")
        viscosity = st.number_input("Viscosity (Pa s)", 1e-7, 1e4, 1e-3, format="%g")
    else:
        density, viscosity = units.fluid(name)
        st.caption(f"density {density:g} kg/m³, viscosity {viscosity:.4g} Pa s")
    speed = st.number_input("Speed (m/s)", 1e-6, 1e3, 0.01, format="%g")
    phys = Physical(float(size), unit, float(density), float(viscosity), float(speed))
    st.caption(f"Re = ρ U D / μ = **{phys.re:.3g}**")
    return phys


def forces(phys: Physical, cd_before: float, cd_after: float) -> None:
    """The drag before and after as forces: per unit span, and on a prism of a span the user gives."""
    f0, f1 = phys.force_per_span(cd_before), phys.force_per_span(cd_after)
    span = st.number_input(f"Span of the prism ({phys.unit})", 1e-4, 1e6, 10 * phys.size, format="%g")
    b = units.metres(span, phys.unit)
    st.write(
        f"**Drag per unit span:** {f0:.4g} → {f1:.4g} N/m  \n"
        f"**Drag on a {span:g} {phys.unit} prism:** {f0 * b:.4g} → {f1 * b:.4g} N"
    )
