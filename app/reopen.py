"""Reopening a stored design: the sidebar's widget values and the Design tab's result from a library record
(optim.library). Pure functions of the record, so the page only copies their answers into its session state
before the sidebar is drawn."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

PRESET_LABELS = {
    "circle": "circle",
    "ellipse": "ellipse",
    "naca": "NACA 4-digit",
    "rect": "rounded rectangle",
}
LIBRARY_SOURCE = "From the library"  # the start-shape source of a reopened design that no preset makes
LIMIT_WIDGETS = ("min_thickness", "max_length", "max_height")
RANGES = {  # the sidebar's number inputs' bounds: a stored value beyond them is brought inside
    "min_thickness": (0.05, 10.0),
    "max_length": (0.05, 10.0),
    "max_height": (0.05, 10.0),
    "chord": (0.2, 3.0),
    "ratio": (0.02, 0.95),
    "cl_value": (-2.0, 2.0),
}


def _inside(key: str, value: float) -> float:
    lo, hi = RANGES[key]
    return min(max(float(value), lo), hi)


def nearest(options: list[float], value: float) -> float:
    """The option nearest `value` in log scale (the Re slider's steps)."""
    return min(options, key=lambda r: abs(math.log(r / value)))


def start_widgets(spec: str) -> dict[str, Any] | None:
    """The start-shape widgets that redraw the preset `spec` (circle, ellipse:R, naca:DDDD, rect:A:R); None
    when no preset makes it (an upload, a hand-drawn or a library shape)."""
    kind, _, rest = spec.partition(":")
    args = rest.split(":") if rest else []
    try:
        if kind == "circle" and not args:
            return {"source": "Preset", "preset": PRESET_LABELS["circle"]}
        if kind == "ellipse" and len(args) == 1 and 0.2 <= float(args[0]) <= 5.0:
            return {"source": "Preset", "preset": PRESET_LABELS["ellipse"], "ellipse_ratio": float(args[0])}
        if kind == "naca" and len(args) == 1 and len(args[0]) == 4 and args[0].isdigit():
            return {"source": "Preset", "preset": PRESET_LABELS["naca"], "naca_digits": args[0]}
        if kind == "rect" and len(args) == 2:
            ar, radius = float(args[0]), float(args[1])
            if 0.2 <= ar <= 5.0 and 0.0 <= radius <= 0.5:
                return {
                    "source": "Preset",
                    "preset": PRESET_LABELS["rect"],
                    "rect_ar": ar,
                    "rect_radius": radius,
                }
    except ValueError:
        return None
    return None


def setup_widgets(design: dict[str, Any], re_options: list[float]) -> dict[str, Any]:
    """The sidebar's widget values (by key) that set up `design` again: Re, the start shape, the
    constraints, the section's lift and incidence, and the optimiser. A start no preset makes comes back as
    the stored outline (key `library_start`: its name and points)."""
    setup = design.get("setup") or {}
    re = float((setup.get("re") or [20.0])[0])
    out: dict[str, Any] = {"physical_units": False, "re": nearest(re_options, re)}
    spec = str(setup.get("shape") or "")
    start = start_widgets(spec)
    if start is None:
        points = design.get("start") if design.get("start") is not None else design["outline"]
        start = {"source": LIBRARY_SOURCE, "library_start": (spec or design["name"], np.asarray(points))}
    out.update(start)
    limits = setup.get("limits")
    if limits:
        out["keep_area"] = bool(limits.get("keep_area"))
        out["symmetric"] = bool(limits.get("symmetric"))
        out["near"] = limits.get("max_ood") is not None
        for name in LIMIT_WIDGETS:
            value = limits.get(name)
            out[f"use_{name}"] = value is not None
            if value is not None:
                out[name] = _inside(name, value)
        out["use_chord"] = limits.get("chord") is not None
        if limits.get("chord") is not None:
            out["chord"] = _inside("chord", limits["chord"])
        out["use_ratio"] = limits.get("min_thickness_ratio") is not None
        if limits.get("min_thickness_ratio") is not None:
            out["ratio"] = _inside("ratio", limits["min_thickness_ratio"])
    options = setup.get("options")
    if options:
        out.update(_option_widgets(options, (setup.get("parametrisation") or {}).get("kind")))
    return out


def _option_widgets(options: dict[str, Any], parametrisation: str | None) -> dict[str, Any]:
    """The lift, incidence and optimiser widgets of a run's stored options."""
    out: dict[str, Any] = {"objective": options.get("objective") or "drag"}
    if options.get("cl") is not None:
        out["lift"], out["cl_value"] = "held", _inside("cl_value", options["cl"])
    elif options.get("min_cl") is not None:
        out["lift"], out["cl_value"] = "at least", _inside("cl_value", options["min_cl"])
    else:
        out["lift"] = "free"
    if parametrisation == "rigid":
        out["design_variables"] = "incidence only"
    else:
        free = options.get("incidence") == "free"
        out["design_variables"] = "shape and incidence" if free else "shape"
    if options.get("backend") == "simulation":
        out["mode"] = "Full simulation"
    elif options.get("trust_region"):
        out["mode"] = "Trust region (checked by the simulation)"
    else:
        out["mode"] = "Surrogate (live)"
    out["optimiser"] = options.get("optimiser") if options.get("optimiser") in ("slsqp", "adam") else "slsqp"
    steps = int(min(max(int(options.get("steps") or 40), 5), 200))
    out["steps_live" if out["mode"].startswith("Surrogate") else "steps_slow"] = steps
    return out


def setup_notes(design: dict[str, Any], re_options: list[float]) -> list[str]:
    """What of a stored set-up the sidebar cannot hold (its result is shown on the nearest set-up it has)."""
    setup = design.get("setup") or {}
    notes = []
    res = [float(r) for r in setup.get("re") or []]
    if len(res) > 1:
        notes.append(
            f"it was designed over Re {', '.join(f'{r:g}' for r in res)}; the page sets one, the first"
        )
    step = nearest(re_options, res[0]) if res else None
    if res and step != res[0]:
        notes.append(f"it was designed at Re {res[0]:.4g}; the slider's nearest step is {step:g}")
    options, limits = setup.get("options") or {}, setup.get("limits") or {}
    kind = (setup.get("parametrisation") or {}).get("kind")
    if kind not in (None, "bspline", "rigid"):
        notes.append(f"its shape was a {kind} parametrisation; the page uses B-splines")
    if options.get("worst_case") or len(set(options.get("re_weights") or [])) > 1:
        notes.append("its weighting of the Reynolds numbers is not in the page")
    if limits.get("max_curvature") is not None:
        notes.append(f"its curvature limit ({limits['max_curvature']:g} per D) is not in the page")
    if limits.get("max_ood") not in (None, 1.0):
        notes.append(f"its distance limit to the training shapes was {limits['max_ood']:g}; the page's is 1")
    return notes


def design_result(design: dict[str, Any]) -> dict[str, Any] | None:
    """The Design tab's result (its session-state `design`, without the set-up key) of a stored
    optimisation; None for a stored simulation, which has no design run."""
    if design.get("kind") != "optimisation" or not design.get("history"):
        return None
    from optim.optimise import FEASIBLE

    n = design["numbers"]
    history = [h for h in design["history"] if h.get("cd") is not None]
    options = (design.get("setup") or {}).get("options") or {}
    simulated = bool(options.get("trust_region")) or options.get("backend") == "simulation"
    tag = "sim" if simulated and n.get("cd_sim_final") is not None else "pred"
    cds = [h["cd"] for h in history]
    cd_initial = _first(n.get(f"cd_{tag}_initial"), cds[0] if cds else None)
    cd_final = _first(n.get(f"cd_{tag}_final"), min(cds) if cds else None)
    if cd_initial is None or cd_final is None:
        return None
    start = design.get("start") if design.get("start") is not None else design["outline"]
    out = {
        "initial": np.asarray(start),
        "final": np.asarray(design["outline"]),
        "cd_initial": float(cd_initial),
        "cd_final": float(cd_final),
        "history": cds,
        "feasible": [(h.get("violation") or 0.0) <= FEASIBLE for h in history],
        "pred": [h["cd_pred"] for h in history if "cd_pred" in h],
        "active": list(n.get("active_constraints") or []),
        "ood": n.get("ood") or {},
        "message": n.get("message") or "",
        "status": n.get("status", "reopened"),
        "trust_region": bool(options.get("trust_region")),
        "simulated": simulated,
        "steps": int(history[-1].get("step", len(history))),
        "cl_final": n.get("cl_final"),
        "incidence": n.get("incidence_final") or 0.0,
        "lifting": n.get("objective", "drag") != "drag"
        or options.get("cl") is not None
        or options.get("min_cl") is not None
        or options.get("incidence") == "free",
        "reopened": design["id"],
    }
    if n.get("wall_s") is not None:
        out["wall_s"] = float(n["wall_s"])
    out["lifting"] = out["lifting"] and out["cl_final"] is not None
    return out


def _first(*values: Any) -> float | None:
    """The first value that is a number (a stored NaN is null)."""
    return next((float(v) for v in values if v is not None), None)
