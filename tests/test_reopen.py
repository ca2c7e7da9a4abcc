"""Reopening a stored design (app.reopen): the sidebar's widget values and the Design tab's result from a
library record, checked against records whose set-up is known."""

from __future__ import annotations

import numpy as np
import pytest

from app import reopen
from app.setup_panel import RE_OPTIONS
from geometry.presets import circle_points, parse_shape


def _record(shape: str, **options) -> dict:
    pts = circle_points()
    return {
        "id": 7,
        "name": "a design",
        "kind": "optimisation",
        "setup": {
            "shape": shape,
            "re": [12.0],
            "limits": {
                "keep_area": False,
                "symmetric": False,
                "max_ood": None,
                "max_height": 1.2,
                "chord": 1.4,
            },
            "parametrisation": {"kind": "rigid"},
            "options": {"backend": "surrogate", "optimiser": "adam", "steps": 300, "cl": 0.3, **options},
        },
        "start": pts.tolist(),
        "outline": (pts * [1.2, 0.8]).tolist(),
        "history": [{"step": 0, "cd": 2.0, "violation": 0.0}, {"step": 9, "cd": 1.5, "violation": 0.1}],
        "numbers": {"cd_pred_initial": 2.0, "cd_pred_final": 1.6, "status": "steps", "cl_final": 0.3},
    }


@pytest.mark.parametrize(
    ("spec", "widgets"),
    [
        ("circle", {"preset": "circle"}),
        ("ellipse:3.0", {"preset": "ellipse", "ellipse_ratio": 3.0}),
        ("naca:2412", {"preset": "NACA 4-digit", "naca_digits": "2412"}),
        ("rect:1.5:0.25", {"preset": "rounded rectangle", "rect_ar": 1.5, "rect_radius": 0.25}),
    ],
)
def test_a_preset_start_comes_back_as_the_preset_that_redraws_it(spec, widgets):
    w = reopen.setup_widgets(_record(spec), RE_OPTIONS)
    assert w["source"] == "Preset" and {k: w[k] for k in widgets} == widgets
    if "naca_digits" in w:  # the widgets' spec draws the same outline
        assert np.allclose(parse_shape(f"naca:{w['naca_digits']}").points, parse_shape(spec).points)


def test_a_start_no_preset_makes_comes_back_as_the_stored_outline():
    rec = _record("wing.csv")
    w = reopen.setup_widgets(rec, RE_OPTIONS)
    name, points = w["library_start"]
    assert w["source"] == reopen.LIBRARY_SOURCE and name == "wing.csv"
    assert np.array_equal(points, np.asarray(rec["start"]))
    assert reopen.start_widgets("ellipse:9.0") is None  # beyond the widget's range: the outline instead


def test_constraints_lift_and_optimiser_come_back():
    w = reopen.setup_widgets(_record("circle"), RE_OPTIONS)
    assert w["re"] == 12.0 and not w["keep_area"] and not w["symmetric"] and not w["near"]
    assert w["use_max_height"] and w["max_height"] == 1.2 and not w["use_max_length"]
    assert w["use_chord"] and w["chord"] == 1.4 and not w["use_ratio"]
    assert w["lift"] == "held" and w["cl_value"] == 0.3 and w["design_variables"] == "incidence only"
    assert w["mode"] == "Surrogate (live)" and w["optimiser"] == "adam" and w["steps_live"] == 200  # clamped
    sim = reopen.setup_widgets(_record("circle", backend="simulation", cl=None, min_cl=0.1), RE_OPTIONS)
    assert sim["mode"] == "Full simulation" and sim["steps_slow"] == 200 and sim["lift"] == "at least"


def test_a_value_beyond_a_widgets_bounds_is_brought_inside():
    rec = _record("circle")
    rec["setup"]["limits"]["max_height"] = 25.0  # a command-line run may go beyond the sidebar's inputs
    w = reopen.setup_widgets(rec, RE_OPTIONS)
    assert w["max_height"] == reopen.RANGES["max_height"][1]


def test_an_re_between_the_sliders_steps_goes_to_the_nearest_and_is_noted():
    assert reopen.nearest(RE_OPTIONS, 13.0) == 12.0 and reopen.nearest(RE_OPTIONS, 0.5) == 0.8
    rec = _record("circle")
    assert reopen.setup_notes(rec, RE_OPTIONS) == []  # Re 12 is a step: nothing lost
    rec["setup"]["re"] = [13.0, 30.0]
    rec["setup"]["limits"]["max_curvature"] = 4.0
    notes = " ".join(reopen.setup_notes(rec, RE_OPTIONS))
    assert "Re 13, 30" in notes and "nearest step is 12" in notes and "curvature limit (4 per D)" in notes


def test_a_stored_null_falls_back_and_a_record_without_numbers_has_no_result():
    rec = _record("circle")
    rec["numbers"]["cd_pred_final"] = None  # a NaN is stored as null
    rec["history"].append({"step": 10, "cd": None, "violation": None})
    d = reopen.design_result(rec)
    assert d is not None and d["cd_final"] == 1.5 and d["history"] == [2.0, 1.5]
    rec["history"] = [{"step": 0, "cd": None}]
    assert reopen.design_result({**rec, "numbers": {}}) is None


def test_the_result_is_the_stored_runs_and_a_simulation_has_none():
    d = reopen.design_result(_record("circle"))
    assert d is not None and d["cd_initial"] == 2.0 and d["cd_final"] == 1.6
    assert d["history"] == [2.0, 1.5] and d["feasible"] == [True, False] and d["steps"] == 9
    assert d["lifting"] and d["reopened"] == 7
    assert reopen.design_result({**_record("circle"), "kind": "simulation"}) is None
