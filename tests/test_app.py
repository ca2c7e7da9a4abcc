"""The Streamlit app, driven by streamlit.testing's AppTest: the main flow on the shipped model (a preset, 20
optimisation steps that lower the drag, an export that reads back as the design, a coarse full simulation that
shows both numbers), and bad input that shows a message while the session goes on."""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from geometry import parse_shape, properties
from geometry.importers import shape_from_upload

testing = pytest.importorskip("streamlit.testing.v1")
PAGE = str(Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py")


def _by_label(widgets, label: str):
    return next(w for w in widgets if w.label.startswith(label))


def _metric(at, label: str) -> float:
    return float(_by_label(at.metric, label).value.replace(",", ""))


@pytest.fixture(scope="module")
def designed():
    at = testing.AppTest.from_file(PAGE, default_timeout=180)
    at.run()
    assert not at.exception and at.title[0].value == "dragopt"
    _by_label(at.sidebar.slider, "Steps").set_value(20)
    _by_label(at.button, "Optimise").click()
    at.run()
    assert not at.exception and not at.error
    return at


def test_twenty_steps_lower_the_predicted_drag(designed):
    at = designed
    before, after = _metric(at, "Cd before"), _metric(at, "Cd after")
    assert 2.0 < before < 2.1  # the circle at Re 20
    assert after < 0.95 * before
    d = at.session_state["design"]
    assert "area" in d["active"] and len(d["history"]) >= 2
    assert len(d["feasible"]) == len(d["history"]) and d["feasible"][-1]
    assert any(c.value.startswith("For this body, the surrogate: reach 0.50 D") for c in at.caption)
    card = " ".join(m.value for m in at.markdown)
    assert "**Kept:** the design of step" in card, card
    assert "converged: the objective changed" in card or "ended at the step limit" in card, card
    assert float(properties.area(d["final"])) == pytest.approx(math.pi / 4, rel=3e-3)
    spread = d["ood"]["cd_spread"]  # the shipped model is an ensemble: its members' spread is shown
    assert 0 < spread < 0.01
    assert any(f"±{100 * spread:.2f}%" in c.value for c in at.caption)


def test_export_gives_the_design_as_a_valid_file(designed):
    at = designed
    name, data = at.session_state["export"]
    assert name.endswith(".csv")
    shape = shape_from_upload(name, data)  # reads back through the importers
    d = at.session_state["design"]
    start = parse_shape("circle")  # the export is in the start shape's units (the preset's own numbers)
    assert np.allclose(shape.user_points(), d["final"] * start.scale + start.offset, atol=1e-12)
    _by_label(at.selectbox, "Format").set_value("stl")
    at.run()
    name, data = at.session_state["export"]
    assert name.endswith(".stl") and not at.exception
    back = shape_from_upload(name, data)  # the prism's section is the design's outline
    assert back.area == pytest.approx(shape.area, rel=1e-6)


def test_compare_runs_the_full_simulation_and_shows_both_numbers(designed):
    at = designed
    _by_label(at.select_slider, "Resolution").set_value(8)
    _by_label(at.button, "Simulate").click()
    at.run()
    for _ in range(120):  # the simulation runs in the background; the page reruns until it is done
        if any(m.label == "Cd simulated" for m in at.metric):
            break
        time.sleep(0.5)
        at.run()
    assert not at.exception and not at.error
    pred, sim = _metric(at, "Cd predicted"), _metric(at, "Cd simulated")
    assert pred == pytest.approx(at.session_state["design"]["cd_final"], rel=1e-3)
    assert sim == pytest.approx(pred, rel=0.05)  # resolution 8 is rough; the numbers agree to a few percent


def _open_polyline_dxf() -> bytes:
    import io

    import ezdxf

    doc = ezdxf.new()
    doc.modelspace().add_lwpolyline([(0, 0), (2, 0), (2, 1), (0, 1)], close=False)
    buf = io.StringIO()
    doc.write(buf)
    return buf.getvalue().encode()


def _sphere_stl() -> bytes:
    import trimesh

    return trimesh.creation.icosphere(subdivisions=2).export(file_type="stl")


def test_bad_uploads_show_a_message_and_the_session_goes_on():
    at = testing.AppTest.from_file(PAGE, default_timeout=180)
    at.run()
    _by_label(at.sidebar.radio, "Start shape").set_value("Upload")
    at.run()
    for name, data, expect in [
        ("notes.csv", b"hello,world\n1,2\n", "at least 3 points"),
        ("big.csv", b"0,0\n" * 1_500_000, "limited to 5 MB"),
        ("open.dxf", _open_polyline_dxf(), "open"),
        ("ball.stl", _sphere_stl(), "prism"),
        ("empty.svg", b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "no outline"),
    ]:
        at.sidebar.file_uploader[0].upload(name, data)
        at.run()
        assert not at.exception
        msgs = [e.value for e in at.error]
        assert msgs and msgs[0].startswith("This shape cannot be used"), (name, msgs)
        assert expect in msgs[0], (name, msgs)
        assert any(expect in e.value for e in at.main.error), name  # the reason where the eye is, too
    _by_label(at.sidebar.radio, "Start shape").set_value("Preset")
    at.run()
    assert not at.exception and not at.error and _metric(at, "Parameters") > 1e6


def test_a_folder_that_is_not_a_model_shows_a_message(tmp_path):
    at = testing.AppTest.from_file(PAGE, default_timeout=180)
    at.run()
    _by_label(at.sidebar.text_input, "Model folder").set_value(str(tmp_path))
    at.run()
    assert not at.exception
    assert any("This model cannot be used" in e.value and "not a model folder" in e.value for e in at.error)
    assert _by_label(at.button, "Optimise").disabled


def test_limits_that_conflict_show_a_message_and_the_session_goes_on():
    at = testing.AppTest.from_file(PAGE, default_timeout=180)
    at.run()
    _by_label(at.sidebar.checkbox, "Minimum thickness").check()
    _by_label(at.sidebar.checkbox, "Maximum height").check()
    at.run()
    _by_label(at.sidebar.number_input, "Minimum thickness").set_value(1.5)
    _by_label(at.sidebar.number_input, "Maximum height").set_value(1.0)
    _by_label(at.button, "Optimise").click()
    at.run()
    assert not at.exception
    assert any("Cannot optimise" in e.value and "larger than 'Maximum height'" in e.value for e in at.error)
    assert not any("--" in e.value for e in at.error)  # the page's words, not the command line's
    _by_label(at.sidebar.checkbox, "Minimum thickness").uncheck()
    _by_label(at.button, "Optimise").click()
    at.run()
    assert not at.exception and not at.error and "design" in at.session_state


def test_a_lift_target_with_the_incidence_free_is_met_and_shown():
    at = testing.AppTest.from_file(PAGE, default_timeout=180)
    at.run()
    _by_label(at.sidebar.selectbox, "Preset").set_value("ellipse")  # a circle turned is the same circle
    _by_label(at.sidebar.radio, "Lift").set_value("held")
    _by_label(at.sidebar.radio, "Design variables").set_value("shape and incidence")
    at.run()
    _by_label(at.sidebar.number_input, "Lift coefficient Cl").set_value(0.1)
    _by_label(at.button, "Optimise").click()
    at.run()
    assert not at.exception and not at.error
    d = at.session_state["design"]
    assert d["cl_final"] == pytest.approx(0.1, rel=3e-3) and d["incidence"] != 0
    assert "cl" in d["active"]
    assert any("**Cl** (predicted) 0.1000" in m.value for m in at.markdown)


def test_the_library_keeps_a_run_and_a_reload_comes_back_to_it(designed, tmp_path):
    """The module's run was recorded (tests/conftest.py: a temporary library); a new session opened at the
    address the run left (?design=ID) shows that design, renames it and deletes it."""
    from optim.library import Library

    design_id = int(designed.query_params["design"][0])
    with Library() as lib:
        assert lib.get(design_id)["numbers"]["cd_pred_final"] == pytest.approx(
            designed.session_state["design"]["cd_final"], rel=1e-9
        )
    at = testing.AppTest.from_file(PAGE, default_timeout=180)
    at.query_params["design"] = str(design_id)
    at.run()
    assert not at.exception
    pick = _by_label(at.selectbox, "Design")
    assert pick.value == design_id
    # the reload resumed the run: its set-up in the sidebar, its result on the Design tab
    assert _by_label(at.sidebar.slider, "Steps").value == 20
    assert _by_label(at.sidebar.select_slider, "Reynolds number").value == 20.0
    assert _metric(at, "Cd after") == pytest.approx(designed.session_state["design"]["cd_final"], abs=5e-5)
    assert at.session_state["design"]["reopened"] == design_id
    _by_label(at.text_input, "Name").set_value("my lens")
    _by_label(at.button, "Rename").click()
    at.run()
    assert not at.exception
    with Library() as lib:
        assert lib.get(design_id)["name"] == "my lens"
    _by_label(at.button, "Delete this design").click()
    at.run()
    assert not at.exception
    with Library() as lib:
        assert design_id not in [r["id"] for r in lib.list()]


def test_open_in_the_design_tab_sets_the_sidebar_to_the_stored_set_up():
    """A run on a set-up far from the defaults (an ellipse 3:1 at Re 10, a length limit, Adam, 6 steps),
    reopened from the Library tab in a fresh session: every one of those inputs comes back, and the
    stored result is shown on its own set-up."""
    at = testing.AppTest.from_file(PAGE, default_timeout=180)
    at.run()
    _by_label(at.sidebar.selectbox, "Preset").set_value("ellipse")
    at.run()
    _by_label(at.sidebar.number_input, "Axis ratio").set_value(3.0)
    _by_label(at.sidebar.select_slider, "Reynolds number").set_value(10.0)
    _by_label(at.sidebar.checkbox, "Maximum length").check()
    at.run()
    _by_label(at.sidebar.number_input, "Maximum length").set_value(3.5)
    _by_label(at.sidebar.selectbox, "Method").set_value("adam")
    _by_label(at.sidebar.slider, "Steps").set_value(6)
    _by_label(at.button, "Optimise").click()
    at.run()
    assert not at.exception and not at.error
    cd = at.session_state["design"]["cd_final"]
    design_id = int(at.query_params["design"][0])

    again = testing.AppTest.from_file(PAGE, default_timeout=180)
    again.run()
    assert _by_label(again.sidebar.select_slider, "Reynolds number").value == 20.0  # a fresh set-up
    _by_label(again.selectbox, "Design").set_value(design_id)
    again.run()
    _by_label(again.button, "Open in the Design tab").click()
    again.run()
    assert not again.exception and not again.error
    assert _by_label(again.sidebar.selectbox, "Preset").value == "ellipse"
    assert _by_label(again.sidebar.number_input, "Axis ratio").value == 3.0
    assert _by_label(again.sidebar.select_slider, "Reynolds number").value == 10.0
    assert _by_label(again.sidebar.checkbox, "Maximum length").value
    assert _by_label(again.sidebar.number_input, "Maximum length").value == 3.5
    assert _by_label(again.sidebar.selectbox, "Method").value == "adam"
    assert _by_label(again.sidebar.slider, "Steps").value == 6
    assert again.session_state["design"]["cd_final"] == pytest.approx(cd, rel=1e-9)
    assert _metric(again, "Cd after") == pytest.approx(cd, abs=5e-5)


def test_a_body_beyond_the_surrogates_window_is_simulated_alone_and_optimised_by_the_simulation():
    """A NACA 0008 reaches 2.2 D, beyond the window: Compare simulates it alone and says why; the design
    tab with 'Drag from: Full simulation' optimises it (two steps)."""
    from geometry import parse_shape
    from surrogate.window import reach

    at = testing.AppTest.from_file(PAGE, default_timeout=300)
    at.run()
    _by_label(at.sidebar.selectbox, "Preset").set_value("NACA 4-digit")
    at.run()
    _by_label(at.sidebar.text_input, "Digits").set_value("0008")
    at.run()
    assert reach(parse_shape("naca:0008").points) > 2.0
    assert any(
        "The surrogate cannot judge this body: it reaches 2." in w.value for w in at.warning
    )  # before any run
    _by_label(at.select_slider, "Resolution").set_value(8)
    _by_label(at.button, "Simulate").click()
    at.run()
    for _ in range(240):
        if any(m.label == "Cd simulated" for m in at.metric):
            break
        time.sleep(0.5)
        at.run()
    assert not at.exception and not at.error
    assert any("cannot judge this body" in i.value for i in at.info)
    assert 0.5 < _metric(at, "Cd simulated") < 5
    _by_label(at.sidebar.radio, "Drag from").set_value("Full simulation")
    _by_label(at.sidebar.slider, "Steps").set_value(2)
    _by_label(at.sidebar.checkbox, "Stay near the training shapes").uncheck()
    at.run()
    _by_label(at.button, "Optimise").click()
    at.run()
    assert not at.exception and not at.error
    assert at.session_state["design"]["cd_final"] <= at.session_state["design"]["cd_initial"]
    labels = [m.label for m in at.metric]  # the full simulation's numbers, said to be simulated
    assert "Cd after (simulated)" in labels and "Cd after (predicted)" not in labels
    assert not any("dragopt" in i.value for i in at.info)  # the page's words, not the command line's


def test_physical_units_set_re_give_forces_and_carry_into_the_export():
    """A 5 mm body in water at 4 mm/s: Re = 998.2 x 0.004 x 0.005 / 1.002e-3 = 19.9; the drag per unit span is
    Cd rho U^2 D / 2; the CSV export is in mm at the body's size."""
    from geometry.importers import read_shape_file

    at = testing.AppTest.from_file(PAGE, default_timeout=180)
    at.run()
    _by_label(at.sidebar.checkbox, "Physical units").check()
    at.run()
    _by_label(at.sidebar.number_input, "Size D (equivalent diameter)").set_value(5.0)
    _by_label(at.sidebar.selectbox, "Fluid (20 °C)").set_value("water")
    _by_label(at.sidebar.number_input, "Speed (m/s)").set_value(0.004)
    _by_label(at.sidebar.slider, "Steps").set_value(5)
    at.run()
    re = 998.2 * 0.004 * 0.005 / 1.002e-3
    assert any(f"**{re:.3g}**" in c.value for c in at.sidebar.caption)
    _by_label(at.button, "Optimise").click()
    at.run()
    assert not at.exception and not at.error
    d = at.session_state["design"]
    per_span = d["cd_final"] * 0.5 * 998.2 * 0.004**2 * 0.005
    assert any(f"{per_span:.4g} N/m" in m.value for m in at.markdown)
    name, data = at.session_state["export"]
    assert name.endswith(".csv") and b"in mm" in data.splitlines()[0]
    path = Path(tempfile.mkdtemp()) / name
    path.write_bytes(data)
    pts = read_shape_file(path)
    assert np.ptp(pts[:, 0]) == pytest.approx(5.0 * np.ptp(np.asarray(d["final"])[:, 0]), rel=1e-6)


def test_two_stored_designs_compare_side_by_side(tmp_path):
    """Two designs put in the library (an optimised ellipse and its start) compare: a table with the
    difference in percent, a drag-against-Re curve from the surrogate for each."""
    from optim.library import Library

    start = parse_shape("ellipse:2").points
    with Library() as lib:
        ids = [
            lib.add(
                {
                    "name": name,
                    "kind": "optimisation",
                    "setup": {"shape": "ellipse:2", "re": [10.0]},
                    "outline": pts,
                    "numbers": {"cd_pred_final": cd},
                }
            )
            for name, pts, cd in (("wide", start, 2.5), ("narrow", start * [1.2, 1 / 1.2], 2.4))
        ]
    at = testing.AppTest.from_file(PAGE, default_timeout=180)
    at.run()
    _by_label(at.multiselect, "Two to four designs").set_value(ids)
    at.run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert list(table["Cd predicted vs first"]) == ["+0.00%", f"{100 * (2.4 / 2.5 - 1):+.2f}%"]
    assert any("Drag against Re" in m.value for m in at.markdown)


def test_streamlines_stay_in_the_fluid():
    """figures.streamlines masks the velocity inside the body: no streamline point falls inside the outline (a
    uniform stream would otherwise cross it); the field chart draws them over the field, with the body."""
    from matplotlib.path import Path as Polygon

    from app import figures

    p = parse_shape("ellipse:2").points
    n, ext = 64, 1.84
    state = np.stack([np.ones((n, n)), 0.1 * np.ones((n, n)), np.zeros((n, n))])
    lines = figures.streamlines(state, ext, p)
    pts = lines[np.isfinite(lines).all(1)]
    assert len(pts) > 100 and not Polygon(p).contains_points(pts).any()
    assert np.isnan(lines).any(1).sum() > 5  # several separate lines
    fig = figures.flow(state, ext, p, "uniform")
    kinds = [t.type for t in fig.data]
    assert kinds == ["heatmap", "scatter", "scatter"]  # the field, the streamlines, the body
    assert np.allclose(np.asarray(fig.data[0].z), np.hypot(1.0, 0.1))
    assert fig.layout.yaxis.scaleanchor == "x"  # equal axis scales


def test_a_shape_drawn_by_hand_is_checked_against_the_constraints_and_optimised():
    """The table's 12 control points on a 2:1 ellipse give a body 0.71 D high (D = 1): above a maximum height
    of 0.5, which the page says before any run; the optimiser then brings it within the limit."""
    at = testing.AppTest.from_file(PAGE, default_timeout=180)
    at.run()
    _by_label(at.sidebar.radio, "Start shape").set_value("By hand")
    _by_label(at.sidebar.checkbox, "Maximum height").check()
    at.run()
    _by_label(at.sidebar.number_input, "Maximum height").set_value(0.5)
    at.run()
    assert not at.exception and not at.error
    assert any("does not yet meet: Maximum height (off by 0.2" in c.value for c in at.caption)
    _by_label(at.sidebar.slider, "Steps").set_value(30)
    _by_label(at.button, "Optimise").click()
    at.run()
    assert not at.exception
    assert np.ptp(np.asarray(at.session_state["design"]["final"])[:, 1]) <= 0.5 + 2e-3


def test_the_page_and_the_readme_quote_the_same_measured_errors(designed):
    """Each predicted number carries the model's measured error, read from its card; the README quotes the
    card's numbers (one source)."""
    from app import trust
    from optim.backends import SurrogateBackend
    from surrogate.paths import DEFAULT_MODEL

    card = SurrogateBackend.load(DEFAULT_MODEL).card
    line = trust.caption(card)
    assert any(line == c.value for c in designed.caption)
    m = card["test_metrics"]
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for x in (m["cd_rel_err_median"], m["cd_rel_err_p95"]):
        assert f"{100 * x:.3f}%" in readme


def test_a_solid_export_shows_a_rotatable_3d_preview():
    at = testing.AppTest.from_file(PAGE, default_timeout=180)
    at.run()
    _by_label(at.selectbox, "Format").set_value("stl")
    at.run()
    assert not at.exception and not at.error
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]  # the predicted flow's, the solid's
    solids = [s for s in specs if s["data"][0]["type"] == "mesh3d"]
    assert len(solids) == 1 and solids[0]["layout"]["scene"]["aspectmode"] == "data"
    assert at.session_state["export"][0].endswith(".stl")
