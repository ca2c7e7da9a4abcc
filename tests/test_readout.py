"""P's outputs beyond Cd and Cl (surrogate.readout, physics.outputs): the read-out maps are the solver's
own force code made linear, P gives back the stored split and Cp on the stored states, and it is
differentiable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sim import forces
from surrogate import physics
from surrogate.datasets import data as dataset
from surrogate.readout import WindowGrid, integrals, readout, with_closure
from surrogate.window import Window

TEST = Path(__file__).resolve().parents[1] / "data" / "datasets" / "test"


@pytest.fixture(scope="module")
def stored() -> dict:
    """The first 40 good samples of the committed test set with their read-outs (closure from the stored
    state)."""
    d = dataset.load(TEST)
    a = d.arrays
    rows = np.flatnonzero(a["ok"])[:40]
    window = Window.from_dict(d.manifest["settings"]["window"])
    x = torch.as_tensor(a["fields"][rows]).double()
    re = torch.as_tensor(a["re"][rows]).double()
    cdp = torch.as_tensor(a["cd_pressure"][rows]).double()
    ro = with_closure(readout(a["points"][rows], window), x, re, cdp)
    return {"a": a, "rows": rows, "window": window, "x": x, "re": re, "ro": ro}


def test_the_maps_are_the_solvers_stress_integrals_on_any_state(stored):
    """Px and Vx of a random state by the maps equal forces.surface_stress_forces on it (they are linear)."""
    a, rows, window = stored["a"], stored["rows"], stored["window"]
    gen = torch.Generator().manual_seed(0)
    state = torch.randn(3, 3, window.cells, window.cells, generator=gen, dtype=torch.float64)
    re = torch.tensor([2.0, 10.0, 30.0], dtype=torch.float64)
    ro = readout(a["points"][rows[:3]], window)
    px, vx = integrals(state, re, ro)
    grid = WindowGrid(torch.as_tensor(window.centres()), window.h)
    for b in range(3):
        pts = torch.as_tensor(a["points"][rows[b]])
        fpx, _, fvx, _ = forces.surface_stress_forces(*state[b], pts, grid, 1.0 / float(re[b]))
        assert float(px[b]) == pytest.approx(float(fpx), rel=1e-5, abs=1e-9)
        assert float(vx[b]) == pytest.approx(float(fvx), rel=1e-5, abs=1e-9)


def test_p_gives_back_the_stored_outputs_on_the_stored_states(stored):
    a, rows = stored["a"], stored["rows"]
    y = physics.outputs(stored["x"], stored["re"], stored["ro"], stored["window"]).numpy()
    cd = a["cd"][rows]
    assert np.median(np.abs(y[:, 0] / cd - 1)) < 1e-3
    assert np.abs(y[:, 2] / a["cd_pressure"][rows] - 1).max() < 1e-6  # the stored split, by its closure
    whole = a["scale"][rows] == 1.0  # where the window's cells are the solver's, Cp to round-off
    assert whole.sum() >= 20 and np.sqrt(np.mean((y[whole, 3:] - a["cp"][rows][whole]) ** 2)) < 1e-5
    own = physics.split(stored["x"], stored["re"], stored["ro"], stored["window"]).numpy()
    err = np.abs(own - a["cd_pressure"][rows]) / cd  # a state's own split, as the solver scales it
    assert np.median(err) < 2e-3 and err.max() < 1e-2


def test_outputs_are_differentiable_in_the_state(stored):
    """The directional derivative of every output matches a central finite difference."""
    x, re, ro, window = stored["x"][:2], stored["re"][:2], stored["ro"].take(slice(0, 2)), stored["window"]
    ro = ro.to("cpu", torch.float64)
    gen = torch.Generator().manual_seed(1)
    direction = torch.randn(x.shape, generator=gen, dtype=torch.float64) * 1e-2
    x = x.clone().requires_grad_(True)
    y = physics.outputs(x, re, ro, window)
    w = torch.randn(y.shape, generator=gen, dtype=torch.float64)
    (grad,) = torch.autograd.grad((y * w).sum(), x)
    eps = 1e-4
    with torch.no_grad():
        plus = (physics.outputs(x + eps * direction, re, ro, window) * w).sum()
        minus = (physics.outputs(x - eps * direction, re, ro, window) * w).sum()
    assert float((grad * direction).sum()) == pytest.approx(float((plus - minus) / (2 * eps)), rel=1e-6)
