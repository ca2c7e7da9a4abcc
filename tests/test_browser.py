"""The app in a real browser (slow; `make browser-test`): `dragopt app` headless on localhost, driven by
Debian's Chromium through Playwright: a short optimisation, the full-simulation check, the export tab;
screenshots of each (into $DRAGOPT_SCREENSHOTS when set, e.g. docs/screenshots for the README)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DOWNLOAD = re.compile(r"^Download .+\.(csv|dxf|svg|stl|obj|glb)$")  # the export's, not a chart's "as PNG"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(*options: str) -> Iterator[tuple[str, float]]:
    """`dragopt app` headless on a free port (with `options`): its address and its start-up seconds."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "app", "--headless", "--port", str(port), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parents[1],
    )
    url = f"http://localhost:{port}"
    t0 = time.perf_counter()
    try:
        while time.perf_counter() - t0 < 60:
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("the app did not start within 60 s")
        yield url, time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving("--library", str(tmp_path_factory.mktemp("lib") / "designs.sqlite")) as s:
        yield s


def idle(page) -> None:
    """Wait until the script run is over: Streamlit's running indicator gone, no element left stale."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=180_000)
    page.wait_for_function("document.querySelectorAll('[data-stale=\"true\"]').length === 0", timeout=180_000)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make browser-test installs it)")
def test_the_app_designs_compares_and_exports_in_a_real_browser(server, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    url, started = server
    shots = Path(os.environ.get("DRAGOPT_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        t0 = time.perf_counter()
        page.goto(url)
        page.locator('[data-testid="stApp"]').wait_for()
        page.get_by_text("Low-drag shapes for slow, laminar 2D flow").wait_for(timeout=60_000)
        page.get_by_role("button", name="Optimise").wait_for(timeout=60_000)
        idle(page)
        usable = time.perf_counter() - t0
        page.screenshot(path=str(shots / "app-start.png"))
        page.get_by_role("button", name="Optimise").click()
        page.get_by_text("Cd after (predicted)").wait_for(timeout=120_000)
        idle(page)
        page.screenshot(path=str(shots / "app-design.png"), full_page=True)
        after = page.get_by_test_id("stMetricValue").nth(1).inner_text()
        page.get_by_role("tab", name="Compare with simulation").click()
        page.get_by_role("button", name="Simulate").click()
        page.get_by_text("Cd simulated").wait_for(timeout=180_000)
        idle(page)
        page.screenshot(path=str(shots / "app-compare.png"), full_page=True)
        page.get_by_role("tab", name="Export").click()
        page.get_by_text("Download").first.wait_for()
        idle(page)
        _select(page, "Format", "STL")  # a mesh, for its 3D preview
        page.get_by_text(".stl").first.wait_for()
        idle(page)
        page.screenshot(path=str(shots / "app-export.png"))
        browser.close()
    assert float(after) < 2.0  # the circle at Re 20 starts at Cd 2.04
    print(
        f"server up in {started:.1f} s, page usable {usable:.1f} s later"
        " (benchmarks/app_speed.py measures it)"
    )
    for name in ("app-start", "app-design", "app-compare", "app-export"):
        assert (shots / f"{name}.png").stat().st_size > 20_000


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make browser-test installs it)")
def test_on_a_phone_the_sidebar_starts_collapsed_and_optimise_is_reachable(server):
    """At 390 px wide the sidebar starts collapsed ("auto": collapsed on small screens), so it covers
    nothing: Optimise can be clicked (Playwright's actionability check: visible, enabled, not covered)."""
    from playwright.sync_api import sync_playwright

    url, _ = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(url)
        button = page.get_by_role("button", name="Optimise")
        button.wait_for(timeout=60_000)
        assert not page.locator('[data-testid="stSidebar"][aria-expanded="true"]').is_visible()
        button.click(trial=True, timeout=10_000)  # raises when another element would receive the click
        browser.close()


def _select(page, label: str, option: str) -> None:
    """Choose the option that starts with `option` in the select box labelled `label` (on the visible tab
    or the sidebar), as a keyboard user does: type to filter the list, Enter."""
    box = page.get_by_role("combobox", name=label, exact=True)
    box.wait_for(timeout=60_000)
    box.click()
    box.fill("")
    box.press_sequentially(option)
    page.get_by_role("option", name=re.compile("^" + re.escape(option))).first.wait_for()
    page.keyboard.press("Enter")


def _download(page, folder: Path) -> Path:
    """Click the visible Download button at once (no wait for the page to settle: a stale button would
    give the previous file) and keep what the browser receives."""
    for attempt in range(2):
        with page.expect_download() as info:
            page.get_by_role("button", name=DOWNLOAD).first.click()
        path = folder / info.value.suggested_filename
        try:
            info.value.save_as(path)
            return path
        except Exception as exc:  # a download cut short by a later rerun's clean-up: once more
            if "canceled" not in str(exc) or attempt:
                raise
            idle(page)
    raise AssertionError("unreachable")


def _designs(library: str) -> int:
    """How many designs the library file holds."""
    with contextlib.closing(sqlite3.connect(library)) as db:
        return db.execute("SELECT COUNT(*) FROM designs").fetchone()[0]


def _optimise(page, library: str) -> float:
    """Press Optimise and wait until the run is stored in the library and drawn; the predicted Cd after."""
    before = _designs(library)
    page.get_by_role("button", name="Optimise").click()
    t0 = time.perf_counter()
    while _designs(library) == before:
        assert time.perf_counter() - t0 < 300, "the optimisation was not stored within 5 minutes"
        page.wait_for_timeout(300)
    idle(page)
    return float(page.get_by_test_id("stMetricValue").nth(1).inner_text())


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make browser-test installs it)")
def test_a_designers_session_in_a_real_browser(tmp_path):
    """The main flows as a designer runs them: two optimisations, every export format (each download the
    format just chosen), physical units through to the forces and a DXF in millimetres, a NACA 0012
    optimised by the full simulation and stopped; then the server restarted on the same library: a design
    reopened on its set-up, and two compared."""
    import ezdxf
    from playwright.sync_api import sync_playwright

    from geometry.export import FORMATS
    from geometry.importers import shape_from_upload

    shots = Path(os.environ.get("DRAGOPT_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    lib = str(tmp_path / "designs.sqlite")
    with serving("--library", lib) as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.goto(url)
        page.get_by_role("button", name="Optimise").wait_for(timeout=60_000)
        idle(page)
        cd_slsqp = _optimise(page, lib)  # design 1: the circle at Re 20, SLSQP
        _select(page, "Method", "Adam")
        idle(page)
        cd_adam = _optimise(page, lib)  # design 2
        assert cd_slsqp < 2.0 and cd_adam < 2.0  # the circle at Re 20 starts at Cd 2.04

        page.get_by_role("tab", name="Export").click()
        idle(page)
        for fmt in FORMATS:
            _select(page, "Format", fmt.upper())
            got = _download(page, tmp_path)
            assert got.suffix == f".{fmt}", f"chose {fmt}, the download gave {got.name}"
            back = shape_from_upload(got.name, got.read_bytes())  # every format reads back as the design
            assert 1.3 < np.ptp(back.user_points()[:, 0]) / np.ptp(back.user_points()[:, 1]) < 3.0
            idle(page)

        page.get_by_role("tab", name="Design").click()
        page.get_by_text("Physical units").click()  # 5 mm in water at 4 mm/s: Re 19.9
        idle(page)
        _select(page, "Fluid (20 °C)", "water")
        idle(page)
        speed = page.get_by_label("Speed (m/s)")
        speed.fill("0.004")
        speed.press("Enter")
        idle(page)
        page.get_by_text(re.compile(r"Re = .* = 19\.9$")).wait_for()
        cd_units = _optimise(page, lib)  # design 3
        forces = page.locator("p").filter(has_text="Drag per unit span").first.inner_text()
        f_after = float(re.search(r"→ ([0-9.e-]+) N/m", forces).group(1))
        assert f_after == pytest.approx(0.5 * 998.2 * 0.004**2 * 0.005 * cd_units, rel=2e-3)
        page.get_by_role("tab", name="Export").click()
        idle(page)
        _select(page, "Format", "DXF")
        idle(page)
        dxf = ezdxf.readfile(_download(page, tmp_path))
        assert dxf.header["$INSUNITS"] == 4  # millimetres
        lo, hi = ezdxf.bbox.extents(dxf.modelspace()).extmin, ezdxf.bbox.extents(dxf.modelspace()).extmax
        assert 5.0 < hi[0] - lo[0] < 15.0  # the D = 5 mm design, in mm

        page.get_by_role("tab", name="Design").click()
        page.get_by_text("Physical units").click()
        _select(page, "Preset", "NACA 4-digit")
        idle(page)
        digits = page.get_by_label("Digits")
        digits.fill("0012")
        digits.press("Enter")
        page.get_by_text("Full simulation", exact=True).click()
        idle(page)
        page.get_by_role("button", name="Optimise").click()
        page.get_by_text(re.compile(r"^Step 2 of 6")).first.wait_for(timeout=180_000)
        page.get_by_role("button", name="Stop").click()
        page.get_by_text(re.compile("stopped before the end")).wait_for(timeout=60_000)
        idle(page)
        assert page.get_by_text(re.compile("the design of step")).count() >= 1
        page.screenshot(path=str(shots / "app-naca-simulation.png"), full_page=True)
        browser.close()

    with serving("--library", lib) as (url, _), sync_playwright() as p:  # a new server, the same library
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.goto(url)
        page.get_by_role("button", name="Optimise").wait_for(timeout=60_000)
        idle(page)
        page.get_by_role("tab", name="Library").click()
        _select(page, "Design", "1: ")
        idle(page)
        page.get_by_role("button", name="Open in the Design tab").click()
        page.get_by_role("tab", name="Design").click()
        page.get_by_text("Cd after (predicted)").wait_for(timeout=60_000)
        idle(page)
        assert float(page.get_by_test_id("stMetricValue").nth(1).inner_text()) == cd_slsqp
        page.get_by_role("tab", name="Library").click()
        for k in (1, 2):
            _select(page, "Two to four designs", f"{k}: ")
            idle(page)
        page.get_by_text("Drag against Re").wait_for(timeout=60_000)
        idle(page)
        page.screenshot(path=str(shots / "app-library.png"), full_page=True)
        browser.close()
