"""The app's Compare tab: the full simulation of the design (or the start shape) in the background, against
the surrogate's prediction, or alone for a body the surrogate cannot judge."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from app import figures
from app.figures import show
from geometry.shape import Shape

if TYPE_CHECKING:
    from optim.backends import SurrogateBackend

ss = st.session_state


@st.cache_resource
def background() -> ThreadPoolExecutor:
    """One worker for full simulations, so the page stays responsive while one runs."""
    return ThreadPoolExecutor(max_workers=1)


def simulated_alone(v: dict, points: np.ndarray) -> None:
    """A body only the full simulation judges: its numbers, Cp and field, and why the surrogate has none."""
    st.info(
        f"The surrogate cannot judge this body ({v['surrogate_note'].split(';')[0]}): the simulation alone."
    )
    c1, c2, c3 = st.columns(3)
    c1.metric("Cd simulated", f"{v['cd_sim']:.4f}")
    c2.metric("Cl simulated", f"{v['cl_sim']:.4f}")
    c3.metric("Pressure part (simulated)", f"{v['cd_pressure_sim']:.3f}")
    st.caption(
        f"Re {v['re']:.3g} on the body's own D; resolution {v['resolution']:g}, {v['sim_wall_s']:.1f} s"
    )
    sim = v["_sim"]
    left, right = st.columns([3, 2])
    with left:
        st.vega_lite_chart(figures.cp_spec([("simulation", sim.stations, sim.cp)]))
    with right:
        q = st.radio("Field", ["speed", "pressure"], horizontal=True, key="cmp_q_alone")
        show(figures.flow(v["_sim_state"], v["_pred"]["extent"], points, "simulated", q))


def compare_tab(surrogate: SurrogateBackend | None, re: float, shape: Shape) -> None:
    """The full simulation of the design (or the start shape) in the background, against the surrogate."""
    from geometry.properties import own_scale
    from optim.verify import verify

    d = ss.get("design")
    pts = d["final"] if d else shape.points
    st.write("The full simulation of the " + ("current design" if d else "start shape (no design yet)") + ".")
    res = st.select_slider(
        "Resolution (cells per D next to the body)",
        [8, 12, 16, 24],
        value=16,
        help="16 is the dataset's; 8 is quick and rough",
    )
    job = ss.get("compare_job")
    busy = job is not None and not job["future"].done()
    if st.button("Simulate", type="primary", disabled=surrogate is None or busy) and surrogate is not None:
        s = Shape.from_points(pts)
        progress = {"step": 0, "residual": float("nan")}

        def tick(step: int, residual: float) -> None:
            progress.update(step=step, residual=residual)

        re_own = float(own_scale(pts, re)[1])
        fut = background().submit(verify, surrogate, s, re_own, float(res), tick, beyond_window=True)
        ss.compare_job = job = {
            "future": fut,
            "progress": progress,
            "t0": time.perf_counter(),
            "points": s.points,
        }
        busy = True
    if job is None or surrogate is None:
        return
    if busy:
        poll(job)
        return
    try:
        v = job["future"].result()
    except Exception as exc:  # noqa: BLE001 - shown on the page; the session goes on
        st.error(f"The simulation failed: {' '.join(str(exc).split())}")
        return
    if v["cd_pred"] is None:
        simulated_alone(v, job["points"])
        return
    c1, c2, c3, c4 = st.columns(4)
    std = v.get("cd_pred_std")
    c1.metric(
        "Cd predicted",
        f"{v['cd_pred']:.4f}",
        f"±{std:.4f} (members' spread)" if std else None,
        delta_color="off",
    )
    c2.metric(
        "Cd simulated",
        f"{v['cd_sim']:.4f}",
        f"{100 * v['rel_err']:+.2f}% predicted vs simulated",
        delta_color="off",
    )
    c3.metric("Cl predicted / simulated", f"{v['cl_pred']:.4f} / {v['cl_sim']:.4f}")
    c4.metric(
        "Pressure part: predicted / simulated", f"{v['cd_pressure_pred']:.3f} / {v['cd_pressure_sim']:.3f}"
    )
    how = ""
    if v["split_sim"] == "extrapolated":
        how = (
            "; the body is sharp for the grid, so the simulated pressure part is extrapolated from "
            f"resolutions {' and '.join(f'{n:g}' for n in v['split_resolutions'])} (one solve's, the same "
            f"evaluation as the surrogate's: {v['cd_pressure_sim_single']:.3f})"
        )
    st.caption(
        f"Re {v['re']:.3g} on the design's own D; simulated at resolution {v['resolution']:g} in "
        f"{v['sim_wall_s']:.1f} s{how}"
    )
    for w in v["ood"]["warnings"]:
        st.warning(f"Out of distribution: {w}")
    sim = v["_sim"]
    left, _ = st.columns([3, 2])
    with left:
        curves = [
            ("surrogate", v["_pred"]["stations"], v["_pred"]["cp"]),
            ("simulation", sim.stations, sim.cp),
        ]
        st.vega_lite_chart(figures.cp_spec(curves))
    q = st.radio("Field", ["speed", "pressure"], horizontal=True, key="cmp_q")
    ext = v["_pred"]["extent"]
    a, b, c = st.columns(3)
    pred, simf = v["_pred"]["state"], v["_sim_state"]
    with a:
        show(figures.flow(pred, ext, job["points"], "predicted", q))
    with b:
        show(figures.flow(simf, ext, job["points"], "simulated", q))
    with c:
        fa, fb = figures.field_of(pred, q), figures.field_of(simf, q)
        show(figures.difference(fa, fb, ext, job["points"], f"predicted - simulated ({q})"))


@st.fragment(run_every=0.5)
def poll(job: dict) -> None:
    """While the simulation runs in the background: its progress, and a rerun of the page when it is done."""
    if job["future"].done():
        st.rerun()
    p = job["progress"]
    st.info(
        f"Simulating ... Newton step {p['step']}, residual {p['residual']:.1e} "
        f"({time.perf_counter() - job['t0']:.0f} s). The page stays usable meanwhile."
    )


# ----------------------------------------------------------------------------------------------- export
