"""`dragopt app`: start the Streamlit app (app/streamlit_app.py) on localhost."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import NoReturn

from app.common import SubParsers, UsageError, info


def register(sub: SubParsers) -> None:
    """The `app` sub-command."""
    a = sub.add_parser(
        "app", help="start the Streamlit app (localhost)", description="Start the Streamlit app."
    )
    a.add_argument("--address", default="localhost", help="address to listen on (default localhost)")
    a.add_argument("--port", type=int, help="port (default: Streamlit's, 8501)")
    a.add_argument("--headless", action="store_true", help="do not open a browser")
    a.add_argument("--library", metavar="PATH", help="the design library file (default: the user's)")
    a.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """`dragopt app`: run Streamlit until it ends; a termination ends it too, as Ctrl+C would."""
    import importlib.util

    if importlib.util.find_spec("streamlit") is None:
        raise UsageError("streamlit is not installed; run: pip install -e '.[dev]'")
    page = Path(__file__).parent.parent / "streamlit_app.py"
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(page),
        "--server.address",
        args.address,
        "--server.showEmailPrompt",
        "false",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",  # no "Deploy" button: a product, not a demo
        "--server.maxUploadSize",
        "5",  # MB, as the page says
    ]
    if args.port is not None:
        cmd += ["--server.port", str(args.port)]
    if args.headless:
        cmd += ["--server.headless", "true"]
    info(f"starting the dragopt app on {args.address} (Ctrl+C stops it)")
    env = dict(os.environ)
    if args.library:
        env["DRAGOPT_LIBRARY"] = str(Path(args.library).resolve())
    proc = subprocess.Popen(cmd, env=env)

    def stop(
        signum: int, frame: FrameType | None
    ) -> NoReturn:  # pass a termination on, end as if interrupted
        raise KeyboardInterrupt

    old_term = signal.signal(signal.SIGTERM, stop)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        if proc.poll() is None:  # Ctrl+C in a terminal reached the app already; a signal to us alone did not
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.terminate()
                proc.wait()
        raise
    finally:
        signal.signal(signal.SIGTERM, old_term)
