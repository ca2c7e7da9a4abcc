"""The app's speed goals, measured in Debian's Chromium through Playwright (`make browser-test` installs
both): the page usable within 4 s of starting the server; one optimisation step in the page at most 30 ms
beyond the step itself (the same optimisation timed in-process, without the page), and at least 8 steps a
second; the page responsive while a
full simulation runs (another tab answers a click). The same optimisation run by Streamlit's AppTest (the
server's side, no browser) says how much of the page's overhead is the browser's.

Usage: python benchmarks/app_speed.py [--out PATH]  -> docs/benchmarks/app_speed.json. Run on a quiet machine.
"""

from __future__ import annotations

import argparse
import re as regex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

from common import ROOT, add_out, write_json

STEPS = 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def library_time() -> tuple[float, int]:
    """The page's default optimisation, in-process, without the page: the step's own cost."""
    from geometry import parse_shape
    from optim import constraints as C
    from optim.design import Options, load_surrogate, run

    sur = load_surrogate(None)
    opts = Options(re=[20.0], steps=STEPS, limits=C.Limits(keep_area=True, symmetric=True, max_ood=1.0))
    run(parse_shape("circle"), Options(re=[20.0], steps=2, limits=opts.limits), sur)  # warm-up
    done = run(parse_shape("circle"), opts, sur)
    return done.wall_s, done.result.history[-1]["step"]


def apptest_time() -> tuple[float, int]:
    """The same optimisation in the page run by Streamlit's AppTest: the server's side without a browser."""
    import os
    import tempfile

    from streamlit.testing.v1 import AppTest

    saved = os.environ.get("DRAGOPT_LIBRARY")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DRAGOPT_LIBRARY"] = f"{tmp}/designs.sqlite"  # the user's library is left alone
        try:
            at = AppTest.from_file(str(ROOT / "app" / "streamlit_app.py"), default_timeout=300)
            at.run()
            next(b for b in at.button if b.label == "Optimise").click()
            at.run()
            d = at.session_state["design"]
        finally:
            os.environ.pop("DRAGOPT_LIBRARY")
            if saved is not None:
                os.environ["DRAGOPT_LIBRARY"] = saved
    return d["wall_s"], d["steps"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_out(ap, "app_speed")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    lib_s, lib_steps = library_time()
    app_s, app_steps = apptest_time()
    port = free_port()
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "app.cli", "app", "--headless", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        url = f"http://localhost:{port}"
        while True:
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        server_s = time.perf_counter() - t0
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1500, "height": 1000})

            def idle() -> None:
                page.wait_for_timeout(200)
                page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=300_000)

            page.goto(url)
            page.get_by_role("button", name="Optimise").wait_for(timeout=60_000)
            idle()
            usable_s = time.perf_counter() - t0
            runs = []  # the first run in a fresh session (cold backward kernels), then the same again
            for _ in range(2):
                page.get_by_role("button", name="Reset").click()
                idle()
                page.get_by_role("button", name="Optimise").click()
                page.get_by_text("Cd after (predicted)").wait_for(timeout=300_000)
                idle()
                status = (
                    page.locator('[data-testid="stMarkdownContainer"]')
                    .filter(has_text="Status:")
                    .first.inner_text()
                )
                runs.append(
                    (
                        float(regex.search(r"in ([0-9.]+) s", status).group(1)),
                        int(regex.search(r"after ([0-9]+) steps", status).group(1)),
                    )
                )
            (first_s, first_steps), (page_s, page_steps) = runs
            page.get_by_role("tab", name="Compare with simulation").click()
            page.get_by_role("button", name="Simulate").click()
            page.get_by_text("Simulating").wait_for(timeout=30_000)
            t_click = time.perf_counter()
            page.get_by_role("tab", name="Export").click()
            download = regex.compile(r"^Download .+\.(csv|dxf|svg|stl|obj|glb)$")  # not a chart's "as PNG"
            page.get_by_role("button", name=download).wait_for(timeout=60_000)
            answer_s = time.perf_counter() - t_click
            page.get_by_role("tab", name="Compare with simulation").click()
            page.get_by_text("Cd simulated").wait_for(timeout=300_000)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    out = {
        "server_start_s": server_s,
        "page_usable_s": usable_s,
        "goal_usable_s": 4.0,
        "optimisation_steps": lib_steps,
        "page_first_optimisation_s": first_s,
        "page_first_optimisation_steps": first_steps,
        "page_optimisation_s": page_s,
        "library_optimisation_s": lib_s,
        "page_optimisation_steps": page_steps,
        "apptest_optimisation_s": app_s,
        "apptest_optimisation_steps": app_steps,
        "page_overhead_per_step_ms": 1000 * (page_s / max(page_steps, 1) - lib_s / max(lib_steps, 1)),
        "goal_overhead_per_step_ms": 30.0,
        "page_steps_per_s": page_steps / page_s,
        "goal_page_steps_per_s": 8.0,
        "click_answered_during_simulation_s": answer_s,
    }
    for k, v in out.items():
        print(f"{k}: {v:.3g}")
    write_json(args.out, out)


if __name__ == "__main__":
    main()
