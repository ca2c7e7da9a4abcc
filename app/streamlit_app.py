"""dragopt: design a low-drag body live through the surrogate, check it against the full simulation, export
it.

Run with `dragopt app` (or `make app`). A thin layer: the optimisation is optim.design.run, the check
optim.verify.verify, the export geometry.export.export_shape; this page only gathers inputs, keeps the
session's design and draws (app/figures.py).
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from app import figures, trust, units_panel
from app.library_tab import library_tab, record_run
from app.words import in_app_words
from geometry.errors import ShapeError
from geometry.shape import Shape

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from streamlit.delta_generator import DeltaGenerator

    from optim.backends import SurrogateBackend
    from optim.design import Options
    from optim.optimise import Design

ROOT = Path(__file__).resolve().parents[1]
RE_OPTIONS = [0.8, 1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0]
RE_OPTIONS += [40.0, 50.0]  # about evenly spaced in log Re
PRESETS = {"circle": "circle", "ellipse": "ellipse", "NACA 4-digit": "naca", "rounded rectangle": "rect"}
UPLOAD_TYPES = ["csv", "dxf", "svg", "stl", "obj", "glb"]

st.set_page_config(page_title="dragopt: low-drag shape design", layout="wide", initial_sidebar_state="auto")
ss = st.session_state


@st.cache_resource(show_spinner="Loading the surrogate model ...")
def load_model(folder: str) -> SurrogateBackend:
    """The surrogate in `folder`, loaded once per folder for every session."""
    from optim.design import load_surrogate

    return load_surrogate(folder)


@st.cache_resource
def background() -> ThreadPoolExecutor:
    """One worker for full simulations, so the page stays responsive while one runs."""
    return ThreadPoolExecutor(max_workers=1)


def show(fig: Figure) -> None:
    """Draw a matplotlib figure and free it."""
    import matplotlib.pyplot as plt

    st.pyplot(fig, clear_figure=True)
    plt.close(fig)


# ----------------------------------------------------------------------------------------------- the set-up


def sidebar() -> tuple[SurrogateBackend | None, float, Shape | None, Options]:
    """(surrogate or None, Re, start shape or None, options) from the sidebar's inputs."""
    from optim import constraints as C
    from optim.design import Options, default_model

    with st.sidebar:
        st.header("Set-up")
        folder = st.text_input(
            "Model folder", value=str(default_model()), help="a folder made by `dragopt train`"
        )
        surrogate = None
        try:
            surrogate = load_model(folder)
            ss.card = surrogate.card
        except (ValueError, OSError) as exc:  # ModelError is a ValueError
            st.error(f"This model cannot be used: {exc}")
        ss.phys = phys = units_panel.panel()
        if phys is None:
            re = st.select_slider(
                "Reynolds number Re = U D / nu",
                options=RE_OPTIONS,
                value=20.0,
                help="log scale; the shipped model was trained on 0.8 to 50",
            )
        else:
            re = phys.re
            from sim.setups import MAX_RE, MIN_RE

            if not MIN_RE <= re <= MAX_RE:
                st.error(
                    f"Re {re:.3g} is outside the solver's range ({MIN_RE:g} to {MAX_RE:g}): change the speed"
                )
                re = min(max(re, MIN_RE), MAX_RE)
        shape = start_shape()
        st.subheader("Constraints")
        keep_area = st.checkbox("Keep the area (D = 1)", value=True)
        symmetric = st.checkbox("Symmetric about the flow axis", value=True)
        near = st.checkbox(
            "Stay near the training shapes",
            value=True,
            help="out-of-distribution score at most 1: where the surrogate was trained, so its drag "
            "is more trustworthy",
        )
        limits = C.Limits(keep_area=keep_area, symmetric=symmetric, max_ood=1.0 if near else None)
        for name, label, default in (
            ("min_thickness", "Minimum thickness", 0.4),
            ("max_length", "Maximum length", 2.5),
            ("max_height", "Maximum height", 1.0),
        ):
            if st.checkbox(label, key=f"use_{name}"):
                setattr(limits, name, st.number_input(f"{label} (D)", 0.05, 10.0, default, 0.05, key=name))
        lifting = section_panel(limits)
        st.subheader("Optimiser")
        mode = st.radio(
            "Drag from",
            ["Surrogate (live)", "Full simulation", "Trust region (checked by the simulation)"],
            help="the full simulation takes any body the solver takes, at a few seconds a step (16 cells "
            "per D); the surrogate answers in a tenth of a second for the bodies it was trained on",
        )
        optimiser = st.selectbox(
            "Method", ["slsqp", "adam"], format_func=lambda s: {"slsqp": "SLSQP", "adam": "Adam"}[s]
        )
        steps = st.slider("Steps", 5, 200, 40 if mode.startswith("Surrogate") else 6)
        if mode == "Full simulation":
            st.caption(f"About {2 * steps}-{6 * steps} s for {steps} steps (2 to 6 s a step on 2 cores).")
    opts = Options(
        re=[float(re)],
        backend="simulation" if mode == "Full simulation" else "surrogate",
        optimiser=optimiser,
        steps=int(steps),
        limits=limits,
        trust_region=mode.startswith("Trust"),
        **lifting,
    )
    return surrogate, float(re), shape, opts


def section_panel(limits: Any) -> dict[str, Any]:
    """The section designer's options (lift, incidence, chord, thickness ratio): Options' keyword arguments;
    the chord and thickness ratio go into `limits`."""
    out: dict[str, Any] = {}
    with st.expander("Lift and incidence"):
        names = {"drag": "Least drag", "lift-to-drag": "Best lift-to-drag ratio"}
        objective = st.radio("Objective", list(names), format_func=names.get, horizontal=True)
        lift = st.radio("Lift", ["free", "held", "at least"], horizontal=True)
        if lift != "free":
            value = st.number_input("Lift coefficient Cl", -2.0, 2.0, 0.2, 0.05)
            out["cl" if lift == "held" else "min_cl"] = float(value)
        what = st.radio(
            "Design variables",
            ["shape", "shape and incidence", "incidence only"],
            help="incidence only: the start section kept as it is, turned (within 20 degrees either way)",
        )
        if st.checkbox("Fixed chord", key="use_chord"):
            limits.chord = float(st.number_input("Chord (D)", 0.2, 3.0, 1.5, 0.05, key="chord"))
        if st.checkbox("Minimum thickness-to-chord ratio", key="use_ratio"):
            limits.min_thickness_ratio = float(st.number_input("Thickness / chord", 0.02, 0.95, 0.12, 0.01))
    out["objective"] = objective
    out["incidence"] = "fixed" if what == "shape" else "free"
    if what == "incidence only":
        out["parametrisation"] = "rigid"
    lifting = out.get("cl") is not None or out.get("min_cl") is not None or objective != "drag"
    if lifting and limits.symmetric and what == "shape":
        limits.symmetric = False
        st.caption("A symmetric section lifts only at an incidence: the symmetry is dropped for this set-up.")
    return out


def hand_shape() -> Shape:
    """A closed B-spline through control points the user edits in a table (rows added or removed freely),
    redrawn as they type; ShapeError when the outline crosses itself."""
    import torch

    from geometry.parametrisations import bspline_points
    from geometry.presets import ellipse_points

    start = ellipse_points(2.0, 12)  # 12 points on a 2:1 ellipse
    st.caption("Control points of a closed B-spline (in any units; the body is scaled to D = 1):")
    table = st.data_editor(
        {"x": start[:, 0].round(3).tolist(), "y": start[:, 1].round(3).tolist()},
        num_rows="dynamic",
        key="hand_points",
        use_container_width=True,
    )
    ctrl = np.column_stack([np.asarray(table["x"], dtype=float), np.asarray(table["y"], dtype=float)])
    ctrl = ctrl[np.all(np.isfinite(ctrl), axis=1)]
    if len(ctrl) < 4:
        raise ShapeError(f"a B-spline needs at least 4 control points; the table has {len(ctrl)}")
    outline = bspline_points(torch.as_tensor(ctrl), 16).numpy()
    shape = Shape.from_points(outline, name="by hand")
    st.vega_lite_chart(figures.outline_spec(shape.points, shape.points))
    return shape


def start_shape() -> Shape | None:
    """The start shape from a preset or an upload (None, with a message, when it cannot be used)."""
    from geometry.importers import shape_from_upload
    from geometry.presets import parse_shape

    source = st.radio("Start shape", ["Preset", "Upload", "By hand"], horizontal=True)
    try:
        if source == "By hand":
            return hand_shape()
        if source == "Preset":
            kind = PRESETS[st.selectbox("Preset", list(PRESETS))]
            if kind == "ellipse":
                spec = f"ellipse:{st.number_input('Axis ratio (length / height)', 0.2, 5.0, 2.0, 0.1)}"
            elif kind == "naca":
                spec = f"naca:{st.text_input('Digits', '0030', max_chars=4)}"
            elif kind == "rect":
                ar = st.number_input("Aspect ratio", 0.2, 5.0, 1.5, 0.1)
                spec = f"rect:{ar}:{st.number_input('Corner radius (of the height)', 0.0, 0.5, 0.25, 0.05)}"
            else:
                spec = "circle"
            return parse_shape(spec)
        up = st.file_uploader(
            "Shape file (x,y CSV, DXF, SVG, or an STL/OBJ/GLB prism; at most 5 MB)", type=UPLOAD_TYPES
        )
        if up is None:
            return None
        return shape_from_upload(up.name, up.getvalue())
    except (ShapeError, ValueError, OSError) as exc:
        st.error(f"This shape cannot be used: {exc}")
        ss.shape_error = f"This shape cannot be used: {exc}"
        return None


# ----------------------------------------------------------------------------------------------- design


def start_violations(shape: Shape, opts: Options) -> str:
    """The constraints the start shape breaks, in the page's words ("" when none), checked as the user
    edits."""
    import torch

    from optim import constraints as C

    names = {
        "min_thickness": "Minimum thickness",
        "max_length": "Maximum length",
        "max_height": "Maximum height",
        "min_thickness_ratio": "Minimum thickness-to-chord ratio",
        "chord": "Chord",
        "in_distribution": "Stay near the training shapes",
    }
    limits = C.Limits(**{**opts.limits.to_dict(), "max_ood": None, "keep_area": False})
    v = C.violations(torch.as_tensor(shape.points), limits)
    return ", ".join(f"{names.get(k, k)} (off by {x:.3g})" for k, x in v.items() if x > 2e-3)


def design_tab(surrogate: SurrogateBackend | None, re: float, shape: Shape, opts: Options) -> None:
    """Optimise with live progress; a rerun mid-way (Stop, any click) keeps the best design so far."""
    from optim.design import STATUS, BestSoFar, kept, run
    from optim.optimise import FEASIBLE

    key = (shape.name, shape.points.tobytes().hex()[:64], re, repr(opts))
    if ss.get("design", {}).get("key") != key and not ss.get("running"):
        ss.pop("design", None)  # another start shape or set-up: the old design no longer applies
    if ss.get("running"):  # the last run was interrupted (Stop, or any click): keep its best design
        ss.running = False
        if "partial" in ss:
            ss.design = {**ss.partial, "status": "stopped", "key": ss.partial["key"]}
    kind, text = trust.validity_box(surrogate, shape.points, re)
    (st.warning if kind == "warning" else st.caption)(text)
    broken = start_violations(shape, opts)
    if broken and not ss.get("design"):
        st.caption(f"The start shape does not yet meet: {broken}. The optimiser will move it there.")
    b1, b2, b3, _ = st.columns([1.2, 1, 1, 4])
    go = b1.button("Optimise", type="primary", disabled=surrogate is None, use_container_width=True)
    b2.button("Stop", use_container_width=True, help="keeps the best design so far")
    if b3.button("Reset", use_container_width=True):
        ss.pop("design", None)
    left, right = st.columns([3, 2])
    shape_ph, hist_ph = left.empty(), left.empty()
    card = right.container()
    if go:
        live = BestSoFar()
        redraw = {"t": 0.0, "draws": 0}
        ss.running = True
        status = card.status("Optimising ...", expanded=True)
        bar = card.progress(0.0, text=f"Step 0 of {opts.steps}")
        t_start = time.perf_counter()

        def each(rec: dict, design: Design) -> None:
            best, cd = live.add(rec, design)
            ss.partial = {
                "key": key,
                "initial": shape.points,
                "final": best,
                "cd_initial": live.cd[0],
                "cd_final": cd,
                "history": list(live.cd),
                "feasible": list(live.feasible),
                "pred": list(live.predicted),
                "active": [],
                "ood": {},
                "message": "",
                "kept": kept(live.best_step, any(live.feasible)),
            }
            now = time.perf_counter()
            if now - redraw["t"] > 1.0:  # at most once a second, as light charts: the steps stay the cost
                redraw["t"] = now
                redraw["draws"] += 1
                k, n = int(rec["step"]), opts.steps
                mark = (
                    ""
                    if live.feasible[-1]
                    else f" (infeasible: a constraint is off by {rec['violation']:.2g})"
                )
                status.update(label=f"Step {k} of {n}: Cd {rec['cd']:.4f}{mark}")
                left_s = (now - t_start) / max(k, 1) * (n - k)
                bar.progress(min(k / n, 1.0), text=f"Step {k} of {n}; at most {left_s:.0f} s left")
                shape_ph.vega_lite_chart(figures.outline_spec(shape.points, design.points))
                if redraw["draws"] % 2 == 1:  # the history every other second: the browser shares the cores
                    hist_ph.vega_lite_chart(figures.history_spec(live.cd, live.feasible))

        try:
            done = run(shape, opts, surrogate, each)
        # infeasible limits, a start the surrogate cannot judge, ...
        except (ValueError, RuntimeError) as exc:
            ss.running = False
            status.update(label="Not started", state="error")
            card.error(f"Cannot optimise: {in_app_words(' '.join(str(exc).split()))}")
            return
        res = done.result
        record_run(done, f"{shape.name} at Re {re:g}", shape.name, surrogate)
        ss.design = {
            "key": key,
            "initial": res.initial.points,
            "final": res.final.points,
            "cd_initial": res.initial.cd,
            "cd_final": res.final.cd,
            "history": [h["cd"] for h in res.history],
            "feasible": [h["violation"] <= FEASIBLE for h in res.history],
            "kept": kept(_final_step(res), res.final.feasible),
            "pred": [h["cd_pred"] for h in res.history if "cd_pred" in h],
            "active": res.active,
            "ood": done.ood or {},
            "message": res.message,
            "status": res.status,
            "trust_region": opts.trust_region,
            "steps": res.history[-1]["step"] if res.history else 0,
            "cl_final": res.final.cl,
            "incidence": res.final.incidence,
            "lifting": opts.inclined or opts.problem(opts.limits).lifting,
            "wall_s": done.wall_s,
        }
        ss.running = False
        bar.progress(1.0, text=f"Done after {ss.design['steps']} steps in {done.wall_s:.1f} s")
        status.update(label=f"Done: {STATUS.get(res.status, res.status)}", state="complete", expanded=False)
    d = ss.get("design")
    with shape_ph:
        show(figures.outlines(shape.points, d["final"] if d else None, "design over the start shape"))
    if d:
        if d["pred"] or "feasible" not in d:  # a trust region's: simulated and predicted
            with hist_ph:
                show(figures.history(d["history"], d["pred"] or None))
        else:
            hist_ph.vega_lite_chart(figures.history_spec(d["history"], d["feasible"]))
        result_card(card, d)
        flow_panel(surrogate, re, d["final"])
    else:
        card.info(
            "Choose the set-up on the left and press **Optimise**: the drag comes from the surrogate, live."
        )
        flow_panel(surrogate, re, shape.points)


def _final_step(res: Any) -> int | None:
    """The step the result's final design was recorded at (None when none matches)."""
    return next(
        (
            int(h["step"])
            for h in res.history
            if h["objective"] == res.final.objective and h["cd"] == res.final.cd
        ),
        None,
    )


def result_card(card: DeltaGenerator, d: dict[str, Any]) -> None:
    """The design's numbers: Cd before and after, the members' spread, constraints, status and warnings."""
    from optim.design import STATUS

    with card:
        what = "simulated" if d.get("trust_region") else "predicted"
        st.subheader("Result")
        c1, c2 = st.columns(2)
        c1.metric(f"Cd before ({what})", f"{d['cd_initial']:.4f}")
        c2.metric(
            f"Cd after ({what})",
            f"{d['cd_final']:.4f}",
            f"{100 * (d['cd_final'] / d['cd_initial'] - 1):+.2f}%",
            delta_color="inverse",
        )
        if d.get("lifting"):
            st.write(
                f"**Cl** ({what}) {d['cl_final']:.4f}, **incidence** {d['incidence']:+.2f}° from the start's"
            )
        if ss.get("phys") is not None:
            units_panel.forces(ss.phys, d["cd_initial"], d["cd_final"])
        if what == "predicted" and ss.get("card") is not None:
            st.caption(trust.caption(ss.card))
        spread = d.get("ood", {}).get("cd_spread")
        if spread is not None and what == "predicted":
            st.caption(
                f"The ensemble's members agree on this Cd to ±{100 * spread:.2f}% (their standard deviation)."
            )
        st.write(
            f"**Active constraints:** {', '.join(d['active']) or 'none'}  \n**Status:** "
            f"{STATUS.get(d['status'], d['status'])}"
            + (f" after {d['steps']} steps" if "steps" in d else "")
            + (f" in {d['wall_s']:.1f} s" if "wall_s" in d else "")
            + (f"  \n**Kept:** {d['kept']}" if d.get("kept") else "")
        )
        if d.get("message"):
            st.warning(d["message"])
        for w in d.get("ood", {}).get("warnings", []):
            st.warning(f"Out of distribution: {w}")
        if not d.get("trust_region"):
            st.caption("Predicted by the surrogate: check it in **Compare with simulation**.")


def flow_panel(surrogate: SurrogateBackend | None, re: float, points: np.ndarray) -> None:
    """The surrogate's flow around `points` (start-shape D) and its surface pressure."""
    from geometry.properties import own_scale
    from optim.verify import predict

    if surrogate is None:
        return
    try:
        s = Shape.from_points(points)
        re_own = float(own_scale(points, re)[1])
        p = predict(surrogate, s, re_own)
    except (ShapeError, ValueError) as exc:
        st.info(f"No predicted field: {exc}")
        return
    st.subheader("Predicted flow")
    c1, c2 = st.columns(2)
    with c1:
        q = st.radio("Colour", ["speed", "pressure"], horizontal=True, key="flow_q")
        show(figures.flow(p["state"], p["extent"], s.points, f"surrogate, Re {re_own:.3g}", q))
    with c2:
        st.vega_lite_chart(figures.cp_spec([("surrogate", p["stations"], p["cp"])]))
        st.caption(
            f"Cd {p['cd']:.4f} = pressure {p['cd_pressure']:.4f} + viscous {p['cd_viscous']:.4f} (predicted)"
        )


# ----------------------------------------------------------------------------------------------- compare


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


def export_tab(shape: Shape) -> None:
    """The design (or the start shape) in the user's units as a file, with a preview of what is written."""
    from geometry import mesh as meshes
    from geometry.export import FORMATS, MESH_FORMATS, export_shape
    from optim.design import user_points

    d = ss.get("design")
    phys = ss.get("phys")
    exported_unit = None
    if phys is not None:  # the design at its physical size, in the chosen unit (cm as mm)
        from sim.units import LENGTHS

        exported_unit = phys.unit if phys.unit in ("mm", "m", "in") else "mm"
        size = phys.size * LENGTHS[phys.unit] / LENGTHS[exported_unit]
        pts = (d["final"] if d else shape.points) * size
    else:
        pts = user_points(d["final"], shape) if d else shape.user_points()
    out = Shape.from_points(pts, name=f"{shape.name}-design" if d else shape.name)
    c1, c2 = st.columns([1, 2])
    with c1:
        fmt = st.selectbox("Format", FORMATS, format_func=str.upper)
        choices = ["(unlabelled)", "mm", "m", "in"]
        at = choices.index(exported_unit) if exported_unit else 0
        label = st.selectbox("Units of the numbers", choices, index=at, disabled=at > 0)
        units = None if label.startswith("(") else label
        extrude: float | None = None
        revolve = False
        if fmt in MESH_FORMATS:
            how = st.radio("Solid", ["Prism (extrusion)", "Body of revolution about the flow axis"])
            revolve = how.startswith("Body")
            if not revolve:
                extrude = st.number_input("Extrusion length (shape units)", 0.01, 1e6, float(out.scale))
        slot = st.empty()  # replaces the last run's button at once: no stale download while this one is made
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{out.name}.{fmt}"
            try:
                export_shape(out, path, fmt, units=units, extrude=extrude, revolve=revolve)
            except (ShapeError, ValueError) as exc:
                st.error(f"Cannot export: {exc}")
                return
            data = path.read_bytes()
        ss.export = (path.name, data)
        slot.download_button(f"Download {path.name}", data, file_name=path.name, type="primary")
        st.caption(f"{len(data):,} bytes; " + ("the design" if d else "the start shape (no design yet)"))
    with c2:
        if fmt in MESH_FORMATS:
            m = (
                meshes.extrude(pts, extrude)
                if extrude is not None
                else meshes.revolve(pts, axis_y=float(out.offset[1]))
            )
            st.plotly_chart(figures.mesh_3d(m.vertices, m.faces), use_container_width=True)
            st.caption(f"{len(m.faces):,} triangles; drag to turn it, scroll to zoom")
        else:
            show(figures.outline(pts, f"{out.name}, as exported", units or "shape units"))


# ----------------------------------------------------------------------------------------------- model


def model_tab(surrogate: SurrogateBackend | None) -> None:
    """The model card: method, size, training, lineage and the held-out test errors."""
    if surrogate is None:
        st.info("No model loaded.")
        return
    card = surrogate.card
    t = card.get("train", {})
    st.subheader("Model card")
    st.info(trust.validity(card, surrogate.window_reach) + " " + trust.caption(card))
    c1, c2, c3 = st.columns(3)
    c1.metric("Method", t.get("method", "?"))
    c2.metric("Parameters", f"{card.get('parameters', 0):,}")
    c3.metric(
        "Training",
        f"{card.get('total_train_s', card.get('wall_s', 0)):.0f} s",
        card.get("hardware", ""),
        delta_color="off",
    )
    steps = [f"{x['method']} ({x['steps']} steps)" for x in card.get("lineage", [])] + [
        f"{t.get('method')}" + (f" ({card['step']} steps)" if card.get("step") else "")
    ]
    cal = card.get("calibration")
    if cal:
        st.write(
            f"**Ensemble spread** on {cal['n']} test samples: median "
            f"{100 * cal['spread_rel_median']:.3f}% of Cd; rank correlation with the error "
            f"{cal['spearman_spread_error']:.2f}."
        )
    st.write(
        f"**Trained as** {' -> '.join(steps)}; **dataset** {card.get('dataset', {}).get('settings_hash')} "
        f"({card.get('dataset', {}).get('n_train')} training samples); **folder** {surrogate.folder}"
    )
    m = card.get("test_metrics")
    if not m and cal:  # an ensemble: the mean's drag error, from its calibration on the test set
        st.write("**On its held-out calibration set**, the members' mean:")
        st.table(
            {
                "quantity": [
                    "Cd error, median",
                    "Cd error, p95",
                    "Cd error, max",
                    "members' Cd error, median",
                ],
                "value": [
                    f"{100 * cal['cd_rel_err_median']:.3f}%",
                    f"{100 * cal['cd_rel_err_p95']:.3f}%",
                    f"{100 * cal['cd_rel_err_max']:.2f}%",
                    ", ".join(f"{100 * e:.3f}%" for e in cal["member_cd_rel_err_median"]),
                ],
            }
        )
    if m:
        st.write(f"**On the held-out test set** ({m.get('data', 'unrecorded')}):")
        st.table(
            {
                "quantity": [
                    "Cd error, median",
                    "Cd error, p95",
                    "Cd error, max",
                    "Cl error / Cd, median",
                    "field error, median",
                ],
                "value": [
                    f"{100 * m['cd_rel_err_median']:.3f}%",
                    f"{100 * m['cd_rel_err_p95']:.3f}%",
                    f"{100 * m['cd_rel_err_max']:.2f}%",
                    f"{100 * m['cl_err_rel_cd_median']:.3f}%",
                    f"{100 * m['field_rel_err']:.2f}%",
                ],
            }
        )
    report = ROOT / "docs" / "method-comparison.md"
    if report.is_file():
        with st.expander("Which training method is best: the method comparison"):
            st.markdown(report.read_text())
            for png in sorted((ROOT / "docs" / "method-comparison").glob("*.png")):
                st.image(str(png), caption=png.stem.replace("_", " "))


# ----------------------------------------------------------------------------------------------- the page


surrogate, re, shape, opts = sidebar()
st.title("dragopt")
st.caption(
    "Low-drag shapes for slow, laminar 2D flow: designed through a neural surrogate, checked by the full "
    "Navier-Stokes simulation."
)
if shape is None:
    if ss.get("shape_error"):
        st.error(ss.pop("shape_error"))  # the reason in the main area too, where the eye is
    st.info("Choose a preset or upload a shape file in the sidebar.")
    st.stop()
ss.pop("shape_error", None)
tabs = st.tabs(["Design", "Compare with simulation", "Export", "Library", "Model"])
with tabs[0]:
    design_tab(surrogate, re, shape, opts)
with tabs[1]:
    compare_tab(surrogate, re, shape)
with tabs[2]:
    export_tab(shape)
with tabs[3]:
    library_tab(surrogate)
with tabs[4]:
    model_tab(surrogate)
