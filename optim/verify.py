"""Trust: the surrogate's drag of a body held against the full simulation, and how far the body is from the
data.

`predict` gives the surrogate's Cd, Cl, their pressure parts (the solver's split applied to the predicted
state) and Cp; `verify` adds the full simulation of the same body at the same Re and the relative error. `ood`
names why a design may be outside what the model knows: Re outside the trained range, and the shape's distance
to the nearest training shape (surrogate.coverage).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from geometry.shape import Shape
from optim.backends import SurrogateBackend

if TYPE_CHECKING:
    from sim.result import SimResult


def predict(backend: SurrogateBackend, shape: Shape, re: float) -> dict:
    """The surrogate's numbers for a normalised shape (D = 1) at Re; raises ShapeError if the surrogate does
    not take it. For an ensemble: the members' mean (the state shown is the mean state) and `cd_std`, their
    spread. `extent` is the half-width (in D) of the window the state is on (wider for a rescaled body)."""
    from surrogate import members, physics

    model = backend.model
    model.window.check(shape.points)
    s = model.window.scale(shape.points)
    pts = torch.as_tensor(shape.points / s, dtype=torch.float32)
    pr = physics.probe(pts, model.window)
    r = torch.tensor([float(re) * s], dtype=torch.float64)
    parts = []
    with torch.no_grad():
        for state in members.states(backend.members, pts[None], r.float()).double():
            parts.append({**physics.measure(state, r, pr, model.window), "state": state})
    mean = {
        k: torch.stack([p[k] for p in parts]).mean(0)
        for k in ("cd", "cl", "cd_pressure", "cl_pressure", "cp", "state")
    }
    cd, cdp = s * float(mean["cd"][0]), s * float(mean["cd_pressure"][0])
    cl, clp = s * float(mean["cl"][0]), s * float(mean["cl_pressure"][0])
    cd_std = s * float(torch.stack([p["cd"][0] for p in parts]).std()) if len(parts) > 1 else None
    return {
        "cd": cd,
        "cd_std": cd_std,
        "cl": cl,
        "cd_pressure": cdp,
        "cd_viscous": cd - cdp,
        "cl_pressure": clp,
        "cl_viscous": cl - clp,
        "cp": mean["cp"][0].numpy(),
        "stations": pr.stations[0].numpy() * s,
        "state": mean["state"][0].numpy(),
        "extent": model.window.extent * s,
    }


def ood(backend: SurrogateBackend, shape: Shape, re: float) -> dict:
    """Out-of-distribution report: {'warnings': [...], 're_range', 'shape_distance', 'score', and for an
    ensemble 'cd_spread' (relative)}."""
    from surrogate import coverage

    lo, hi = backend.re_range
    out: dict = {"re_range": [lo, hi], "warnings": []}
    cd, spread = backend.drag_and_spread(torch.as_tensor(shape.points), re)
    if spread is not None:
        rel = spread / abs(cd)
        cal = backend.card.get("calibration", {})
        flag = float(cal.get("spread_flag", 0.01))
        where = {90: "one test case in ten", 99: "one test case in a hundred"}.get(
            cal.get("spread_flag_percentile", 90), "uncalibrated"
        )
        out["cd_spread"] = rel
        if rel > flag:
            out["warnings"].append(
                f"the ensemble's members disagree on Cd by {100 * rel:.2g}% (above {100 * flag:.2g}%, where "
                f"{where} lies): verify the prediction"
            )
    if not lo <= re <= hi:
        out["warnings"].append(f"Re {re:.3g} is outside the model's trained range {lo:g} to {hi:g}")
    cov = backend.coverage
    if cov is not None:
        s = coverage.score(cov, shape.points)
        out.update(s)
        if s["score"] > 1.0:
            out["warnings"].append(
                f"the shape is {s['shape_distance']:.3f} D (RMS signed distance) from the nearest training "
                f"shape, {s['score']:.1f} times the distance of 95% of unseen test-like shapes: treat the "
                "prediction with care and verify it"
            )
    if not backend.model.window.holds(shape.points):
        out["warnings"].append("the body reaches farther than the surrogate takes")
    return out


def verify(
    backend: SurrogateBackend,
    shape: Shape,
    re: float,
    resolution: float | None = None,
    progress: Callable[[int, float], None] | None = None,
    split: str = "auto",
    beyond_window: bool = False,
) -> dict:
    """Predicted against simulated drag and lift of one body: keys cd_pred, cd_sim, rel_err, cl_pred, cl_sim,
    the pressure/viscous split of both, and the out-of-distribution report. The simulated split of a body
    sharp for the grid is extrapolated from a second, finer solve (sim.solver.simulate's split).

    A body the surrogate cannot take raises its ShapeError, unless `beyond_window`: then it is simulated
    alone (the predicted keys None, `surrogate_note` saying why, the fields on a window as wide as it
    needs)."""
    from geometry.errors import ShapeError
    from sim.setups import DEFAULT_RESOLUTION
    from sim.solver import simulate

    try:
        pred = predict(backend, shape, re)
    except ShapeError as exc:
        if not beyond_window:
            raise
        sim = simulate(shape, re, resolution or DEFAULT_RESOLUTION, split=split, progress=progress)
        return simulated_only(backend, shape, sim, str(exc))
    sim = simulate(shape, re, resolution or DEFAULT_RESOLUTION, split=split, progress=progress)
    from sim.fields import sample

    f = sample(
        sim, backend.model.window.cells, pred["extent"]
    )  # the simulated state on the prediction's window
    return {
        "re": re,
        "cd_pred": pred["cd"],
        "cd_pred_std": pred["cd_std"],
        "cd_sim": sim.cd,
        "rel_err": pred["cd"] / sim.cd - 1.0,
        "cl_pred": pred["cl"],
        "cl_sim": sim.cl,
        "cl_abs_err": abs(pred["cl"] - sim.cl),
        "cd_pressure_pred": pred["cd_pressure"],
        "cd_viscous_pred": pred["cd_viscous"],
        "cd_pressure_sim": sim.cd_pressure,
        "cd_viscous_sim": sim.cd_viscous,
        "cl_pressure_pred": pred["cl_pressure"],
        "cl_pressure_sim": sim.cl_pressure,
        "split_sim": sim.split,
        "split_resolutions": [x["resolution"] for x in sim.split_solves],
        # the simulation's single-solve split at this resolution: the like-for-like figure for the
        # surrogate's, which is the same single-solve evaluation on its window
        "cd_pressure_sim_single": next(
            (x["cd_pressure"] for x in sim.split_solves if x["resolution"] == sim.resolution), sim.cd_pressure
        ),
        "resolution": sim.resolution,
        "sim_wall_s": sim.wall_s,
        "ood": ood(backend, shape, re),
        "_pred": pred,
        "_sim": sim,
        "_sim_state": np.stack([f["u"], f["v"], f["p"]]),
    }


def simulated_only(backend: SurrogateBackend, shape: Shape, sim: SimResult, note: str) -> dict:
    """verify()'s keys for a body only the simulation judges: the simulated ones, the predicted ones None."""
    from sim.fields import sample
    from surrogate.window import reach

    w = backend.model.window
    extent = w.extent * max(1.0, reach(shape.points) / w.fit_half_width())
    f = sample(sim, w.cells, extent)
    keys = ("cd", "cl", "cd_pressure", "cd_viscous", "cl_pressure", "split", "resolution", "wall_s")
    d = {k: getattr(sim, k) for k in keys}
    return {
        "re": sim.re,
        "cd_pred": None,
        "cd_pred_std": None,
        "cd_sim": d["cd"],
        "rel_err": None,
        "cl_pred": None,
        "cl_sim": d["cl"],
        "cd_pressure_sim": d["cd_pressure"],
        "cd_viscous_sim": d["cd_viscous"],
        "cl_pressure_sim": d["cl_pressure"],
        "split_sim": d["split"],
        "resolution": d["resolution"],
        "sim_wall_s": d["wall_s"],
        "surrogate_note": note,
        "ood": {"warnings": []},
        "_pred": {"extent": extent},
        "_sim": sim,
        "_sim_state": np.stack([f["u"], f["v"], f["p"]]),
    }


def summary(v: dict) -> dict:
    """verify()'s result without its arrays (for JSON)."""
    return {k: val for k, val in v.items() if not k.startswith("_")}


def errors_at(backend: SurrogateBackend, records: list[dict]) -> list[dict]:
    """The surrogate's Cd at simulated dataset samples against the simulation's (those that simulated).

    Returns:
        Per sample: its parameters (the record's `params` JSON), re, cd_pred, cd_sim, the signed relative
        error `err` and the ensemble's spread `cd_std`.
    """
    import json

    out = []
    for r in records:
        if not r.get("ok"):
            continue
        pred, std = backend.drag_and_spread(torch.as_tensor(np.asarray(r["points"])), float(r["re"]))
        sim = float(r["cd"])
        row = {"re": float(r["re"]), "cd_pred": pred, "cd_sim": sim, "err": pred / sim - 1, "cd_std": std}
        out.append({**json.loads(str(r["params"])), **row})
    return out
