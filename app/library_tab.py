"""The app's Library tab: the designs optim.library keeps (every optimisation the app or the command line
ran), listed, shown, renamed, deleted, downloaded and uploaded as design files. A thin layer: the library
does the work. The design last run or opened is in the page's address (?design=ID), so a reload comes back to
it."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import streamlit as st

from app import figures


def library() -> Any:
    """The user's library ($DRAGOPT_LIBRARY, which `dragopt app --library` sets, or the user data folder)."""
    from optim.library import Library

    return Library()


def record_run(done: Any, name: str, spec: str, surrogate: Any) -> int | None:
    """Store a finished design run; its id (None, with a warning, when the library cannot be written)."""
    from optim.library import LibraryError, from_run

    try:
        with library() as lib:
            design_id = lib.add(from_run(done, name, spec, surrogate))
    except (LibraryError, OSError) as exc:
        st.warning(f"The design was not saved to the library: {exc}")
        return None
    st.query_params["design"] = str(design_id)
    return design_id


def library_tab(surrogate: Any = None) -> None:
    from optim.library import LibraryError, from_file, to_file

    try:
        lib = library()
    except (LibraryError, OSError) as exc:
        st.error(f"The design library cannot be opened: {exc}")
        return
    with lib:
        up = st.file_uploader("Add a design file (from Download, or `dragopt designs export`)", type=["json"])
        if up is not None and ss_once(f"uploaded-{up.file_id}"):
            try:
                design_id = lib.add(from_file(up.getvalue(), up.name))
                st.query_params["design"] = str(design_id)
                st.success(f"Added {up.name} as design {design_id}.")
            except LibraryError as exc:
                st.error(f"This file cannot be added: {exc}")
        rows = lib.list()
        st.caption(f"{len(rows)} designs in {lib.path.name} (every optimisation is kept here)")
        if not rows:
            st.info(
                "No designs yet: every optimisation you run is kept here, with its numbers and its history."
            )
            return
        labels = {r["id"]: _label(r) for r in rows}
        ids = list(labels)
        wanted = st.query_params.get("design")
        start = ids.index(int(wanted)) if wanted and wanted.isdigit() and int(wanted) in ids else 0
        pick = st.selectbox("Design", ids, index=start, format_func=labels.__getitem__)
        d = lib.get(pick)
        left, right = st.columns([3, 2])
        with left:
            start_pts = np.asarray(d["start"]) if d.get("start") else None
            outline = np.asarray(d["outline"])
            st.vega_lite_chart(figures.outline_spec(start_pts if start_pts is not None else outline, outline))
        with right:
            _numbers(d)
            if st.button(
                "Open in the Design tab",
                key=f"open-{pick}",
                type="primary",
                help="sets the sidebar to this design's set-up and shows its result",
            ):
                st.session_state.reopen = pick
                st.rerun()
            name = st.text_input("Name", d["name"], key=f"name-{pick}")
            if st.button("Rename", key=f"rename-{pick}") and name.strip() != d["name"]:
                lib.rename(pick, name)
                st.rerun()
            st.download_button(
                "Download the design file",
                to_file(d),
                file_name=f"design-{pick}.json",
                mime="application/json",
                key=f"download-{pick}",
                on_click="ignore",  # a download needs no rerun
            )
            if st.button("Delete this design", key=f"delete-{pick}"):
                lib.delete(pick)
                st.query_params.pop("design", None)
                st.rerun()
        st.subheader("Compare designs")
        chosen = st.multiselect("Two to four designs", ids, format_func=labels.__getitem__, max_selections=4)
        if len(chosen) >= 2:
            compare([lib.get(i) for i in chosen], surrogate)


def ss_once(key: str) -> bool:
    """True the first time `key` is seen in this session (an upload is added once, not at every rerun)."""
    if st.session_state.get(key):
        return False
    st.session_state[key] = True
    return True


def _label(row: dict) -> str:
    from optim.library import headline_cd

    n = row["numbers"]
    cd = headline_cd(n)
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(row["created"]))
    return (
        f"{row['id']}: {row['name']} ({row['kind']}, Cd {cd:.4f}, {when})"
        if cd
        else f"{row['id']}: {row['name']}"
    )


def _numbers(d: dict) -> None:
    n = d["numbers"]
    rows = [
        ("Cd predicted", n.get("cd_pred_initial"), n.get("cd_pred_final")),
        ("Cd simulated", n.get("cd_sim_initial"), n.get("cd_sim_final")),
    ]
    lines = [f"**{k}:** {a:.4f} -> {b:.4f}" for k, a, b in rows if a is not None and b is not None]
    if d["kind"] == "simulation":
        lines.append(f"**Cd** {n.get('cd', float('nan')):.4f}, **Cl** {n.get('cl', float('nan')):.4f}")
    if n.get("cl_pred_final") is not None:
        lines.append(
            f"**Cl predicted** {n['cl_pred_final']:.4f}, incidence {n.get('incidence_final', 0):+.2f}°"
        )
    setup = d.get("setup") or {}
    lines.append(f"**Start:** {setup.get('shape')} at Re {', '.join(f'{r:g}' for r in setup.get('re', []))}")
    if n.get("status"):
        lines.append(f"**Status:** {n['status']}")
    lines.append(f"**Model:** {d.get('model') or 'none (full simulation)'}")
    st.markdown("  \n".join(lines))


CURVE_RE = np.geomspace(1.0, 50.0, 24)  # the drag-against-Re curves' Reynolds numbers


def compare(designs: list[dict], surrogate: Any) -> None:
    """Two to four stored designs side by side: outlines, numbers, drag against Re from the surrogate (with
    the simulated points they have), Cp and the predicted fields; differences in percent from the first."""
    from geometry.errors import ShapeError
    from geometry.shape import Shape
    from optim.verify import predict

    names = {d["id"]: f"{d['id']}: {d['name']}" for d in designs}
    st.vega_lite_chart(figures.outlines_spec({names[d["id"]]: np.asarray(d["outline"]) for d in designs}))
    curves, sims, rows, preds = [], [], [], {}
    for d in designs:
        n, re = d["numbers"], (d.get("setup") or {}).get("re", [None])
        row: dict[str, Any] = {
            "design": names[d["id"]],
            "Re": ", ".join(f"{r:g}" for r in re if r is not None),
        }
        row["Cd predicted"] = n.get("cd_pred_final")
        row["Cd simulated"] = n.get("cd_sim_final", n.get("cd"))
        row["Cl"] = n.get("cl_pred_final", n.get("cl_final", n.get("cl")))
        if row["Cd simulated"] is not None and len(re) == 1:
            sims.append({"design": names[d["id"]], "Re": re[0], "Cd": row["Cd simulated"]})
        if surrogate is not None:
            try:
                cd = surrogate.drag_over_re(np.asarray(d["outline"]), CURVE_RE)
                curves += [
                    {"design": names[d["id"]], "Re": float(r), "Cd": float(c)}
                    for r, c in zip(CURVE_RE, cd, strict=True)
                ]
                shape = Shape.from_points(np.asarray(d["outline"]))
                preds[d["id"]] = predict(
                    surrogate, shape, float(re[0]) * float(shape.scale) if re[0] else 20.0
                )
            except ShapeError as exc:
                st.caption(f"{names[d['id']]}: no surrogate curve ({str(exc).split(';')[0]})")
        rows.append(row)
    first = rows[0]
    for row in rows:
        for key in ("Cd predicted", "Cd simulated"):
            a, b = row[key], first[key]
            row[f"{key} vs first"] = f"{100 * (a / b - 1):+.2f}%" if a is not None and b else "-"
    st.dataframe(rows, hide_index=True)
    if curves:
        st.write("**Drag against Re** (the surrogate; diamonds: simulated)")
        st.vega_lite_chart(figures.curves_spec(curves, "Re", "Cd", log_x=True, points=sims))
    if preds:
        left, right = st.columns(2)
        with left:
            st.vega_lite_chart(
                figures.cp_spec([(names[i], p["stations"], p["cp"]) for i, p in preds.items()])
            )
        with right:
            q = st.radio("Field", ["speed", "pressure"], horizontal=True, key="compare_field")
            cols = st.columns(len(preds))
            for col, (i, p) in zip(cols, preds.items(), strict=True):
                with col:
                    d = next(d for d in designs if d["id"] == i)
                    pts = np.asarray(d["outline"])
                    shape = Shape.from_points(pts)
                    figures.show(figures.flow(p["state"], p["extent"], shape.points, names[i], q))
