"""The app's sidebar: the model, the Reynolds number (or physical units), the start shape (a preset, an
upload or control points typed by hand), the constraints, the section's lift and incidence, and the optimiser;
returned as optim.design.Options. Inputs only: every check and number comes from the packages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from app import figures, reopen, units_panel
from app.reopen import RANGES
from geometry.errors import ShapeError
from geometry.shape import Shape

if TYPE_CHECKING:
    from optim.backends import SurrogateBackend
    from optim.design import Options

RE_OPTIONS = [0.8, 1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0]
RE_OPTIONS += [40.0, 50.0]  # about evenly spaced in log Re
PRESETS = {"circle": "circle", "ellipse": "ellipse", "NACA 4-digit": "naca", "rounded rectangle": "rect"}
UPLOAD_TYPES = ["csv", "dxf", "svg", "stl", "obj", "glb"]
ss = st.session_state


@st.cache_resource(show_spinner="Loading the surrogate model ...")
def load_model(folder: str) -> SurrogateBackend:
    """The surrogate in `folder`, loaded once per folder for every session."""
    from optim.design import load_surrogate

    return load_surrogate(folder)


def default(key: str, value: Any) -> str:
    """`key`, its widget's value set to `value` unless the session already holds one (a reopened design's,
    or the user's): widgets take their start values from here rather than from a `value=` that would clash."""
    ss.setdefault(key, value)
    return key


def apply_reopen() -> None:
    """Before the sidebar is drawn: set its widgets to a design queued for reopening (ss.reopen, its library
    id) or, on a session's first run, to the design in the page's address (?design=ID), so a reload resumes
    where the user was; the Design tab then shows the stored result (ss.reopened)."""
    from optim.library import Library, LibraryError

    wanted = ss.pop("reopen", None)
    if wanted is None and not ss.get("started"):
        q = st.query_params.get("design")
        wanted = int(q) if q and q.isdigit() else None
    ss.started = True
    if wanted is None:
        return
    try:
        with Library() as lib:
            d = lib.get(wanted)
        widgets, result = reopen.setup_widgets(d, RE_OPTIONS), reopen.design_result(d)
        notes = reopen.setup_notes(d, RE_OPTIONS)
    except (LibraryError, OSError, KeyError, TypeError, ValueError) as exc:
        st.sidebar.warning(f"Design {wanted} cannot be reopened: {exc}")
        st.query_params.pop("design", None)
        return
    ss.pop("library_start", None)
    for key, value in widgets.items():
        ss[key] = value
    ss.reopened = result
    if notes:
        st.sidebar.info(f"Design {wanted} reopened; " + "; ".join(notes) + ".")
    st.query_params["design"] = str(wanted)


def sidebar() -> tuple[SurrogateBackend | None, float, Shape | None, Options]:
    """(surrogate or None, Re, start shape or None, options) from the sidebar's inputs."""
    from optim import constraints as C
    from optim.design import Options, default_model

    apply_reopen()
    with st.sidebar:
        st.header("Set-up")
        folder = st.text_input(
            "Model folder",
            placeholder="the shipped model",
            help="a folder made by `dragopt train`; empty: the shipped model",
        )
        surrogate = None
        try:
            surrogate = load_model(folder.strip() or str(default_model()))
            ss.card = surrogate.card
        except (ValueError, OSError) as exc:  # ModelError is a ValueError
            st.error(f"This model cannot be used: {exc}")
        ss.phys = phys = units_panel.panel()
        if phys is None:
            re = st.select_slider(
                "Reynolds number Re = U D / nu",
                options=RE_OPTIONS,
                key=default("re", 20.0),
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
        keep_area = st.checkbox("Keep the area (D = 1)", key=default("keep_area", True))
        symmetric = st.checkbox("Symmetric about the flow axis", key=default("symmetric", True))
        near = st.checkbox(
            "Stay near the training shapes",
            key=default("near", True),
            help="out-of-distribution score at most 1: where the surrogate was trained, so its drag "
            "is more trustworthy",
        )
        limits = C.Limits(keep_area=keep_area, symmetric=symmetric, max_ood=1.0 if near else None)
        for name, label, start in (
            ("min_thickness", "Minimum thickness", 0.4),
            ("max_length", "Maximum length", 2.5),
            ("max_height", "Maximum height", 1.0),
        ):
            if st.checkbox(label, key=f"use_{name}"):
                value = st.number_input(f"{label} (D)", *RANGES[name], step=0.05, key=default(name, start))
                setattr(limits, name, value)
        lifting = section_panel(limits)
        st.subheader("Optimiser")
        mode = st.radio(
            "Drag from",
            ["Surrogate (live)", "Full simulation", "Trust region (checked by the simulation)"],
            key="mode",
            help="the full simulation takes any body the solver takes, at a few seconds a step (16 cells "
            "per D); the surrogate answers in a tenth of a second for the bodies it was trained on",
        )
        optimiser = st.selectbox(
            "Method",
            ["slsqp", "adam"],
            format_func=lambda s: {"slsqp": "SLSQP", "adam": "Adam"}[s],
            key="optimiser",
        )
        live = mode.startswith("Surrogate")  # a step costs a tenth of a second, or seconds
        steps = st.slider("Steps", 5, 200, key=default(*(("steps_live", 40) if live else ("steps_slow", 6))))
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
        objective = st.radio(
            "Objective", list(names), format_func=names.get, horizontal=True, key="objective"
        )
        lift = st.radio("Lift", ["free", "held", "at least"], horizontal=True, key="lift")
        if lift != "free":
            value = st.number_input(
                "Lift coefficient Cl", *RANGES["cl_value"], step=0.05, key=default("cl_value", 0.2)
            )
            out["cl" if lift == "held" else "min_cl"] = float(value)
        what = st.radio(
            "Design variables",
            ["shape", "shape and incidence", "incidence only"],
            help="incidence only: the start section kept as it is, turned (within 20 degrees either way)",
            key="design_variables",
        )
        if st.checkbox("Fixed chord", key="use_chord"):
            limits.chord = float(
                st.number_input("Chord (D)", *RANGES["chord"], step=0.05, key=default("chord", 1.5))
            )
        if st.checkbox("Minimum thickness-to-chord ratio", key="use_ratio"):
            limits.min_thickness_ratio = float(
                st.number_input("Thickness / chord", *RANGES["ratio"], step=0.01, key=default("ratio", 0.12))
            )
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

    sources = ["Preset", "Upload", "By hand"]
    if ss.get("library_start") is not None:  # a reopened design's start that no preset makes
        sources.append(reopen.LIBRARY_SOURCE)
    source = st.radio("Start shape", sources, horizontal=True, key="source")
    try:
        if source == reopen.LIBRARY_SOURCE:
            name, points = ss.library_start
            st.caption(f"The start of the reopened design: {name}")
            return Shape.from_points(points, name=name)
        if source == "By hand":
            return hand_shape()
        if source == "Preset":
            kind = PRESETS[st.selectbox("Preset", list(PRESETS), key="preset")]
            if kind == "ellipse":
                ratio = st.number_input(
                    "Axis ratio (length / height)", 0.2, 5.0, step=0.1, key=default("ellipse_ratio", 2.0)
                )
                spec = f"ellipse:{ratio}"
            elif kind == "naca":
                spec = f"naca:{st.text_input('Digits', max_chars=4, key=default('naca_digits', '0030'))}"
            elif kind == "rect":
                ar = st.number_input("Aspect ratio", 0.2, 5.0, step=0.1, key=default("rect_ar", 1.5))
                radius = st.number_input(
                    "Corner radius (of the height)", 0.0, 0.5, step=0.05, key=default("rect_radius", 0.25)
                )
                spec = f"rect:{ar}:{radius}"
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
