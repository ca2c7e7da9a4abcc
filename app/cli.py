"""The `dragopt` command line (DESIGN.md section 5). It holds no physics: it parses arguments, calls the
packages, prints results and writes JSON. Bad input ends with one line `dragopt: error: <message>` and
exit code 2; Ctrl+C ends with `dragopt: interrupted` and exit code 130.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from sim.errors import SetupError, SimulationError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
NOT_YET = "dragopt {cmd}: not available yet (planned; see DESIGN.md)"
EXPORT_FORMATS = ("csv", "dxf", "svg", "stl", "obj", "glb")
EXPORT_BUILT = ("csv",)
PLANNED = {
    "generate": "generate a training dataset of simulated shapes",
    "train": "train a surrogate model (supervised | dp | sip | hig)",
    "evaluate": "evaluate a surrogate model against a dataset",
    "compare-methods": "compare the training methods on a dataset",
    "optimize": "minimise the drag of a shape with the surrogate",
    "verify": "compare the surrogate's drag with a simulation",
}


class UsageError(Exception):
    """Bad command-line input found by a command (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse with the project's one-line error format (still exit code 2)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"dragopt: error: {message} (see '{self.prog} --help')\n")


# ----------------------------------------------------------------------------------------------- helpers


def _float(text: str, what: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        raise UsageError(f"{what} must be a number; got {text!r}") from None


def _jsonable(obj):
    """numpy scalars/arrays, tuples and paths -> plain JSON types; non-finite floats -> null."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: str | Path, data: dict) -> None:
    from geometry.io import atomic_write_text

    atomic_write_text(path, json.dumps(_jsonable(data), indent=2) + "\n")


def check_output(path: str | Path | None) -> None:
    """Fail before long work if `path` cannot be written (creates its folder, as the atomic write would)."""
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"output {path} is a folder; give a file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not os.access(path.parent, os.W_OK):
        raise UsageError(f"cannot write to the folder {path.parent}")


def _write_result(path: str | None, out: dict) -> int:
    """Write the --json result (when asked) and end the command successfully."""
    if path:
        write_json(path, out)
        print(f"wrote {path}")
    return 0


def _num(v: float, digits: int = 4) -> str:
    """Fixed-point without a '-0.0000'."""
    if abs(v) < 0.5 * 10**-digits:
        v = 0.0
    return f"{v:.{digits}f}"


def _info(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _newton_progress(quiet: bool):
    """A progress(step, residual) callback printing one stderr line per Newton step."""
    if quiet:
        return None

    def progress(step: int, residual: float) -> None:
        _info(f"  Newton step {step:2d}: residual {residual:.3e}")

    return progress


# ----------------------------------------------------------------------------------------------- commands


def cmd_simulate(args) -> int:
    from geometry.presets import parse_shape
    from sim import setups

    re = _float(args.re, "--re (Reynolds number)")
    setups.check_reynolds(re)
    resolution = _float(args.resolution, "--resolution") if args.resolution is not None else None
    if resolution is not None:
        setups.check_resolution(resolution)
    box = _float(args.box, "--box") if args.box is not None else None
    check_output(args.json)
    progress = _newton_progress(args.quiet)

    if args.setup == "channel":
        if args.shape.strip().lower() != "circle":
            raise UsageError(
                f"--setup channel is the Schaefer-Turek benchmark: --shape must be circle; got {args.shape!r}"
            )
        if re != 20:
            raise UsageError(f"--setup channel is the Schaefer-Turek benchmark at Re 20; got --re {re:g}")
        if box is not None:
            raise UsageError("--box applies to the unconfined set-up only, not to --setup channel")
        from sim.solver import schaefer_turek

        res = resolution if resolution is not None else setups.DEFAULT_RESOLUTION
        if not args.quiet:
            _info(
                f"simulating the Schaefer-Turek channel (circle, Re 20), resolution {res:g} cells per D ..."
            )
        ch = schaefer_turek(res, progress=progress)
        sim = ch.sim
        out = {**sim.to_dict(), **ch.to_dict(), "shape": "circle"}
    else:
        from sim.solver import simulate

        shape = parse_shape(args.shape)
        res = resolution if resolution is not None else setups.DEFAULT_RESOLUTION
        b = box if box is not None else setups.DEFAULT_BOX
        warning = setups.thin_body_warning(shape.thickness, res)
        if warning:
            _info(f"dragopt: warning: {warning}")
        if not args.quiet:
            _info(f"simulating {shape.name} at Re {re:g}, resolution {res:g} cells per D, box {b:g} D ...")
        sim = simulate(shape, re, res, b, progress=progress)
        out = {**sim.to_dict(), "shape": shape.name, "box": b}

    where = f"{sim.setup}, resolution {sim.resolution:g} cells per D, {sim.cells} cells"
    print(f"{out['shape']}  Re {sim.re:g}  ({where})")
    print(f"Cd = {_num(sim.cd)}  (pressure {_num(sim.cd_pressure)}, viscous {_num(sim.cd_viscous)})")
    print(f"Cl = {_num(sim.cl)}")
    if sim.setup == "channel":
        err = 100 * out["cd_rel_err"]
        print(f"dp = {_num(out['dp'])}  (reference Cd {out['cd_ref']:.4f}, Cd error {err:+.2f}%)")
    print(f"Newton steps {sim.steps} (residual {sim.residual:.1e}), wall time {sim.wall_s:.2f} s")
    return _write_result(args.json, out)


def cmd_benchmark(args) -> int:
    from sim import setups
    from sim.solver import schaefer_turek

    resolution = (
        _float(args.resolution, "--resolution") if args.resolution is not None else setups.DEFAULT_RESOLUTION
    )
    setups.check_resolution(resolution)
    check_output(args.json)
    if not args.quiet:
        _info(f"Schaefer-Turek DFG 2D-1 (Re 20), resolution {resolution:g} cells per D ...")
    out = schaefer_turek(resolution, progress=_newton_progress(args.quiet)).to_dict()
    out = {"benchmark": args.name, **out}
    print(f"Schaefer-Turek 2D-1, resolution {resolution:g} cells per D ({out['cells']} cells)")
    print(f"{'':4}{'value':>12}{'reference':>12}{'error':>10}")
    print(f"{'Cd':4}{out['cd']:12.4f}{out['cd_ref']:12.4f}{100 * out['cd_rel_err']:+9.2f}%")
    print(f"{'Cl':4}{out['cl']:12.5f}{out['cl_ref']:12.5f}{out['cl_abs_err']:10.5f} (abs)")
    print(f"{'dp':4}{out['dp']:12.5f}{out['dp_ref']:12.5f}{100 * out['dp_rel_err']:+9.2f}%")
    print(f"Newton steps {out['steps']}, wall time {out['wall_s']:.2f} s")
    return _write_result(args.json, out)


def cmd_export(args) -> int:
    fmt = args.format
    if fmt is None:
        fmt = Path(args.out).suffix.lower().lstrip(".")
        if fmt not in EXPORT_FORMATS:
            raise UsageError(
                f"cannot tell the format from {args.out!r}; give --format ({'|'.join(EXPORT_FORMATS)})"
            )
    if fmt not in EXPORT_BUILT:
        raise UsageError(
            f"export format {fmt} is not available yet (planned; see DESIGN.md); "
            f"available now: {', '.join(EXPORT_BUILT)}"
        )
    if args.extrude is not None or args.revolve:
        raise UsageError("--extrude and --revolve apply to 3D formats (stl, obj, glb), not to csv")
    from geometry.io import write_csv
    from geometry.presets import parse_shape

    shape = parse_shape(args.shape)
    check_output(args.out)
    pts = shape.user_points()
    write_csv(args.out, pts)
    print(f"wrote {len(pts)} points of {shape.name} to {args.out} (x,y in the input's units)")
    return 0


def cmd_app(args) -> int:
    import importlib.util

    if importlib.util.find_spec("streamlit") is None:
        raise UsageError("streamlit is not installed; run: pip install -e '.[dev]'")
    page = Path(__file__).with_name("streamlit_app.py")
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
    ]
    if args.port is not None:
        cmd += ["--server.port", str(args.port)]
    if args.headless:
        cmd += ["--server.headless", "true"]
    _info(f"starting the dragopt app on {args.address} (Ctrl+C stops it)")
    proc = subprocess.Popen(cmd)

    def stop(signum, frame):  # pass a termination on to the app, then end as if interrupted
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


def cmd_planned(args) -> int:
    print(NOT_YET.format(cmd=args.command), file=sys.stderr)
    return EXIT_USAGE


# ----------------------------------------------------------------------------------------------- parser


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    """--json and --quiet, shared by the commands that compute a result."""
    parser.add_argument("--json", metavar="F", help="write the result as JSON to F")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def build_parser() -> argparse.ArgumentParser:
    from geometry.presets import PRESET_HELP
    from sim.setups import DEFAULT_BOX, DEFAULT_RESOLUTION, MIN_RESOLUTION

    res_help = f"cells per D next to the body (>= {MIN_RESOLUTION}; default {DEFAULT_RESOLUTION})"

    p = _Parser(prog="dragopt", description="Minimum-drag shape design for 2D laminar flow.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    s = sub.add_parser(
        "simulate",
        help="simulate the steady flow around a shape",
        description="Steady laminar flow around a shape; prints Cd (pressure, viscous), Cl, steps, time.",
    )
    s.add_argument("--shape", required=True, help=f"SHAPE: {PRESET_HELP}")
    s.add_argument(
        "--re",
        required=True,
        metavar="RE",
        help="Reynolds number U D / nu (> 0, at most 200; the design range is 1 to 40)",
    )
    s.add_argument(
        "--setup",
        choices=("unconfined", "channel"),
        default="unconfined",
        help="unconfined box (default) or the Schaefer-Turek channel (circle at Re 20 only)",
    )
    s.add_argument("--resolution", metavar="N", help=res_help)
    s.add_argument(
        "--box",
        metavar="HALF_WIDTH",
        help=f"half-width of the unconfined domain in D (default {DEFAULT_BOX:g})",
    )
    _add_output_options(s)
    s.set_defaults(func=cmd_simulate)

    b = sub.add_parser(
        "benchmark",
        help="run a validation benchmark",
        description="Run a validation benchmark and compare with its reference values.",
    )
    b.add_argument(
        "name", choices=("schaefer-turek",), help="the benchmark: schaefer-turek (DFG 2D-1, Re 20)"
    )
    b.add_argument("--resolution", metavar="N", help=res_help)
    _add_output_options(b)
    b.set_defaults(func=cmd_benchmark)

    e = sub.add_parser(
        "export",
        help="export a shape to a file",
        description="Export a shape's outline in the input's units (csv now; dxf svg stl obj glb planned).",
    )
    e.add_argument("--shape", required=True, help=f"SHAPE: {PRESET_HELP}")
    e.add_argument("--format", choices=EXPORT_FORMATS, help="file format (default: from the --out suffix)")
    g = e.add_mutually_exclusive_group()
    g.add_argument("--extrude", metavar="L", help="3D formats (planned): extrude by L")
    g.add_argument("--revolve", action="store_true", help="3D formats (planned): revolve about the x axis")
    e.add_argument("--out", required=True, metavar="FILE", help="output file")
    e.set_defaults(func=cmd_export)

    a = sub.add_parser(
        "app", help="start the Streamlit app (localhost)", description="Start the Streamlit app."
    )
    a.add_argument("--address", default="localhost", help="address to listen on (default localhost)")
    a.add_argument("--port", type=int, help="port (default: Streamlit's, 8501)")
    a.add_argument("--headless", action="store_true", help="do not open a browser")
    a.set_defaults(func=cmd_app)

    for name, summary in PLANNED.items():
        q = sub.add_parser(
            name,
            help=f"{summary} (not available yet)",
            description=f"{summary}. Not available yet (planned; see DESIGN.md section 5).",
        )
        q.set_defaults(func=cmd_planned)
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra and args.func is not cmd_planned:  # planned commands accept anything for now
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        return args.func(args)
    except KeyboardInterrupt:
        print("dragopt: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SimulationError as exc:
        print(f"dragopt: error: simulation failed: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except (UsageError, SetupError, ValueError, OSError) as exc:  # ShapeError is a ValueError
        print(f"dragopt: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE


def _one_line(exc: BaseException) -> str:
    msg = str(exc) or type(exc).__name__
    return " ".join(msg.split())


if __name__ == "__main__":
    sys.exit(main())
