"""dragopt: design a low-drag body live through the surrogate, check it against the full simulation, export
it.

Run with `dragopt app` (or `make app`). A thin layer: the optimisation is optim.design.run, the check
optim.verify.verify, the export geometry.export.export_shape; this page only gathers inputs, keeps the
session's design and draws (app/figures.py).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from app import figures, trust, units_panel
from app.compare_tab import compare_tab
from app.figures import show
from app.library_tab import library_tab, record_run
from app.setup_panel import sidebar
from app.words import in_app_words
from geometry.errors import ShapeError
from geometry.shape import Shape
from surrogate.paths import portable

if TYPE_CHECKING:
    from streamlit.delta_generator import DeltaGenerator

    from optim.backends import SurrogateBackend
    from optim.design import Options
    from optim.optimise import Design

ROOT = Path(__file__).resolve().parents[1]

st.set_page_config(page_title="dragopt: low-drag shape design", layout="wide", initial_sidebar_state="auto")
ss = st.session_state
# No download from a button the current run has not redrawn (stale), nor while a run is asked for: it is the
# last run's, and after a change of format it would give the previous format's file.
st.html(
    '<style>[data-test-script-state="rerunRequested"] [data-testid="stDownloadButton"] button, '
    '[data-stale="true"] [data-testid="stDownloadButton"] button'
    " { pointer-events: none; opacity: 0.4; }</style>"
)


# ----------------------------------------------------------------------------------------------- the set-up


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
    from optim.design import run
    from optim.optimise import FEASIBLE
    from optim.progress import STATUS, BestSoFar, kept

    key = (shape.name, shape.points.tobytes().hex()[:64], re, repr(opts))
    if ss.get("design", {}).get("key") != key and not ss.get("running"):
        ss.pop("design", None)  # another start shape or set-up: the old design no longer applies
    if ss.get("running"):  # the last run was interrupted (Stop, or any click): keep its best design
        ss.running = False
        if "partial" in ss:
            ss.design = {**ss.pop("partial"), "status": "stopped"}
    if ss.get("reopened") is not None:  # a design reopened from the library, on its own set-up
        ss.design = {**ss.pop("reopened"), "key": key}
    kind, text = validity(surrogate, shape.points, re)
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
                "simulated": opts.trust_region or opts.backend == "simulation",
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
            "simulated": opts.trust_region or opts.backend == "simulation",
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
    shape_ph.vega_lite_chart(
        figures.outline_spec(shape.points, d["final"])
        if d
        else figures.outlines_spec({"start": shape.points}, colors=["#888888"])
    )
    if d:
        if d["pred"] or "feasible" not in d:  # a trust region's: simulated and predicted
            hist_ph.vega_lite_chart(figures.history_chart(d["history"], d["pred"] or None))
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
    from optim.progress import STATUS

    with card:
        what = "simulated" if d.get("simulated") or d.get("trust_region") else "predicted"
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
        if what == "predicted":
            st.caption("Predicted by the surrogate: check it in **Compare with simulation**.")


def _folder(surrogate: SurrogateBackend | None) -> str:
    """The cache key of a loaded surrogate: its folder and its card's hash (a model retrained in place is
    another)."""
    from optim.library import model_id

    return model_id(surrogate) or ""


@st.cache_data(max_entries=64, show_spinner=False)
def _validity(folder: str, points: np.ndarray, re: float, _surrogate: SurrogateBackend | None) -> tuple:
    return trust.validity_box(_surrogate, points, re)


def validity(surrogate: SurrogateBackend | None, points: np.ndarray, re: float) -> tuple[str, str]:
    """trust.validity_box, once per model, body and Re (every click reruns the page)."""
    return _validity(_folder(surrogate), points, re, surrogate)


@st.cache_data(max_entries=64, show_spinner=False)
def _predicted(folder: str, points: np.ndarray, re: float, _surrogate: SurrogateBackend) -> dict:
    from optim.verify import predict

    return predict(_surrogate, Shape.from_points(points), re)


def predicted(surrogate: SurrogateBackend, points: np.ndarray, re: float) -> dict[str, Any]:
    """optim.verify.predict for a normalised outline, once per model, body and Re."""
    return _predicted(_folder(surrogate), points, re, surrogate)


def flow_panel(surrogate: SurrogateBackend | None, re: float, points: np.ndarray) -> None:
    """The surrogate's flow around `points` (start-shape D) and its surface pressure."""
    from geometry.properties import own_scale

    if surrogate is None:
        return
    try:
        s = Shape.from_points(points)
        re_own = float(own_scale(points, re)[1])
        p = predicted(surrogate, s.points, re_own)
    except (ShapeError, ValueError) as exc:
        st.info(f"No predicted field: {in_app_words(str(exc))}")
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
        slot.download_button(
            f"Download {path.name}", data, file_name=path.name, type="primary", on_click="ignore"
        )
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
            st.caption(f"{out.name}, as exported")
            st.vega_lite_chart(figures.outlines_spec({out.name: pts}, unit=units or "shape units"))


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
    data = card.get("dataset", {})
    st.write(
        f"**Trained as** {' -> '.join(steps)}; **dataset** {data.get('settings_hash')} "
        f"({data.get('n_train')} training samples); **folder** {portable(surrogate.folder or '-')}"
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
    ss.pop("reopened", None)  # a reopened result belongs to its own start shape, not to a later one
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
