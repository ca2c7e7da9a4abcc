"""The app in a real browser (slow; `make browser-test`): `dragopt app` headless on localhost, driven by
Debian's Chromium through Playwright: a short optimisation, the full-simulation check, the export tab;
screenshots of each (into $DRAGOPT_SCREENSHOTS when set, e.g. docs/screenshots for the README)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "app", "--headless", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parents[1],
    )
    url = f"http://localhost:{port}"
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 60:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            break
        except OSError:
            time.sleep(0.3)
    else:
        proc.terminate()
        pytest.fail("the app did not start within 60 s")
    yield url, time.perf_counter() - t0
    proc.terminate()
    proc.wait(timeout=20)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make browser-test installs it)")
def test_the_app_designs_compares_and_exports_in_a_real_browser(server, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    url, started = server
    shots = Path(os.environ.get("DRAGOPT_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    def idle(page) -> None:  # Streamlit's running indicator gone: the script run is over
        page.wait_for_timeout(300)
        page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=120_000)

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
        box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Format")
        box.locator("input").click()  # the format box: a mesh, for its 3D preview
        page.get_by_role("option", name="STL").click()
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
