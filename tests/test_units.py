"""Physical units (sim.units) against hand-worked numbers and round trips."""

from __future__ import annotations

import pytest

from sim import units


def test_air_at_one_metre_a_second_round_a_millimetre_body():
    rho, mu = units.fluid("air")
    L = units.metres(1.0, "mm")
    re = units.reynolds(L, 1.0, rho, mu)
    assert re == pytest.approx(1.204 * 1.0 * 1e-3 / 1.825e-5)  # 65.97
    assert units.speed_for(re, L, rho, mu) == pytest.approx(1.0)
    assert units.force_per_span(2.0, L, 1.0, rho) == pytest.approx(2.0 * 0.5 * 1.204 * 1e-3)  # N/m
    assert units.metres(2.0, "in") == pytest.approx(0.0508)


def test_the_same_re_in_water_needs_a_slower_flow_than_in_air():
    L = units.metres(5.0, "mm")
    u_air = units.speed_for(20.0, L, *units.fluid("air"))
    u_water = units.speed_for(20.0, L, *units.fluid("water"))
    assert u_water < u_air / 10  # water's kinematic viscosity is about 15 times smaller


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: units.metres(1.0, "ft"), "unknown length unit 'ft'"),
        (lambda: units.fluid("honey"), "unknown fluid 'honey'"),
        (lambda: units.reynolds(1e-3, -1.0, 1.2, 1.8e-5), "the speed must be a positive number"),
        (lambda: units.speed_for(10.0, 1e-3, 1.2, 0.0), "the viscosity must be a positive number"),
    ],
)
def test_bad_units_are_named(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()
