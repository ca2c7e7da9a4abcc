"""A minimal dragopt page (a placeholder until the full inverse-design app exists): simulate one preset shape.

Run with `dragopt app` (or `streamlit run app/streamlit_app.py --server.address localhost`).
No physics here: the page only calls geometry.presets.parse_shape and sim.solver.simulate and shows
their results.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import streamlit as st  # noqa: E402

from geometry.errors import ShapeError  # noqa: E402
from geometry.presets import PRESET_HELP, parse_shape  # noqa: E402
from sim.errors import SetupError, SimulationError  # noqa: E402

st.set_page_config(page_title="dragopt", layout="wide")
st.title("dragopt")
st.caption("Minimum-drag shape design for 2D laminar flow")

st.markdown(
    """
**Works now:** steady laminar simulation (Newton solver) of a preset shape in the unconfined domain:
drag coefficient split into pressure and viscous parts, lift, and the surface pressure coefficient.
On the command line: `dragopt simulate`, `dragopt benchmark schaefer-turek`, `dragopt export --format csv`.

**Planned** (see DESIGN.md): the neural surrogate, drag optimisation with constraints, uploads and exports.
"""
)

with st.form("simulate"):
    spec = st.text_input("Shape", value="circle", help=PRESET_HELP)
    col1, col2 = st.columns(2)
    re = col1.slider("Reynolds number", min_value=1.0, max_value=40.0, value=20.0, step=0.5)
    resolution = col2.slider("Resolution (cells per D next to the body)", min_value=8, max_value=32, value=16)
    submitted = st.form_submit_button("Simulate")

if submitted:
    from sim.solver import simulate

    try:
        shape = parse_shape(spec)
        status = st.empty()

        def progress(step: int, residual: float) -> None:
            status.text(f"Newton step {step}: residual {residual:.2e}")

        with st.spinner(f"Simulating {shape.name} at Re {re:g}, resolution {resolution} ..."):
            result = simulate(shape, re, resolution, progress=progress)
        status.empty()
        st.session_state["result"] = (shape, result)
    except (ShapeError, SetupError, SimulationError, ValueError) as exc:
        st.session_state.pop("result", None)
        st.error(str(exc))

if "result" in st.session_state:
    shape, result = st.session_state["result"]
    st.subheader(f"{shape.name} at Re {result.re:g}")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Cd", f"{result.cd:.4f}")
    c2.metric("Cd pressure / viscous", f"{result.cd_pressure:.3f} / {result.cd_viscous:.3f}")
    c3.metric("Cl", f"{result.cl if abs(result.cl) >= 5e-5 else 0.0:.4f}")
    c4.metric("Time", f"{result.wall_s:.1f} s", help=f"{result.steps} Newton steps, {result.cells} cells")

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    outline = np.vstack([shape.points, shape.points[:1]])
    ax1.plot(outline[:, 0], outline[:, 1], "k-")
    ax1.fill(outline[:, 0], outline[:, 1], color="0.85")
    stations = np.asarray(result.stations)
    ax1.plot(stations[:, 0], stations[:, 1], "o", ms=2, color="tab:blue", label="Cp stations")
    ax1.plot(*stations[0], "o", ms=5, color="tab:red", label="station 0")
    ax1.set_aspect("equal", adjustable="datalim")
    ax1.margins(0.15)
    ax1.set_title("Shape (D = 1, flow from the left)")
    ax1.legend(loc="lower center", bbox_to_anchor=(0.5, 1.08), ncol=2, fontsize="small", frameon=False)
    ax2.plot(np.arange(len(result.cp)), result.cp, ".-")
    ax2.axhline(0.0, color="0.6", lw=0.8)
    ax2.set_xlabel("surface station index")
    ax2.set_ylabel("Cp")
    ax2.set_title("Surface pressure coefficient (outlet pressure as reference)")
    fig.tight_layout()
    st.pyplot(fig)
    plt.close(fig)
