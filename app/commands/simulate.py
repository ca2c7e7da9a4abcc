"""`dragopt simulate` and `dragopt benchmark`: one full simulation, printed and optionally written as JSON."""

from __future__ import annotations

import argparse

from app.commands.designs import add_library_options, check_library, record
from app.common import (
    SubParsers,
    UsageError,
    add_output_options,
    check_output,
    check_shape_arg,
    float_arg,
    info,
    newton_progress,
    num,
    write_result,
)


def register(sub: SubParsers) -> None:
    """The `simulate` and `benchmark` sub-commands."""
    from geometry.presets import PRESET_HELP
    from sim.setups import (
        DEFAULT_BOX,
        DEFAULT_RESOLUTION,
        MAX_BOX,
        MAX_CELLS,
        MAX_RE,
        MAX_RESOLUTION,
        MIN_BOX,
        MIN_RE,
        MIN_RESOLUTION,
        SPLITS,
    )

    res_help = (
        f"cells per D next to the body ({MIN_RESOLUTION} to {MAX_RESOLUTION}; default {DEFAULT_RESOLUTION}, "
        "validation 32)"
    )
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
        help=f"Reynolds number U D / nu ({MIN_RE:g} to {MAX_RE:g}; the design range is 1 to 40; above 40 the "
        "solve continues from a converged lower Re, about 1.5 to 3 times the time)",
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
        help=f"half-width of the unconfined domain in D ({MIN_BOX:g} to {MAX_BOX:g}, default "
        f"{DEFAULT_BOX:g}; the body must stay 4 D inside it; the grid may have at most {MAX_CELLS:,} cells: "
        f"at resolution 16, box {MAX_BOX:g} takes about 10 s)",
    )
    s.add_argument(
        "--split",
        choices=SPLITS,
        default="auto",
        help="how the pressure/viscous split is measured: surface (the fluid-side wall stress of this "
        "solve), extrapolated (also solves at twice the resolution and extrapolates: about 2 to 3 times the "
        "time), auto (default: extrapolated where the outline turns by over 30 degrees within a cell, at a "
        "corner or a slender nose, whose single-solve split is off by up to 8%%)",
    )
    add_output_options(s)
    add_library_options(s)
    s.set_defaults(func=run_simulate)

    b = sub.add_parser(
        "benchmark",
        help="run a validation benchmark",
        description="Run a validation benchmark and compare with its reference values.",
    )
    b.add_argument(
        "name", choices=("schaefer-turek",), help="the benchmark: schaefer-turek (DFG 2D-1, Re 20)"
    )
    b.add_argument("--resolution", metavar="N", help=res_help)
    add_output_options(b)
    b.set_defaults(func=run_benchmark)


def run_simulate(args: argparse.Namespace) -> int:
    """`dragopt simulate`: one full simulation (unconfined, or the Schaefer-Turek channel), printed."""
    from geometry.presets import parse_shape
    from sim import setups

    re = float_arg(args.re, "--re (Reynolds number)")
    setups.check_reynolds(re)
    resolution = float_arg(args.resolution, "--resolution") if args.resolution is not None else None
    if resolution is not None:
        setups.check_resolution(resolution)
    box = float_arg(args.box, "--box") if args.box is not None else None
    if box is not None:
        setups.check_box(box)
    check_shape_arg(args.shape)
    check_output(args.json, "--json")
    check_library(args)
    progress = newton_progress(args.quiet)

    if args.setup == "channel":
        if args.shape.strip().lower() != "circle":
            raise UsageError(
                f"--setup channel is the Schaefer-Turek benchmark: --shape must be circle; got {args.shape!r}"
            )
        if re != 20:
            raise UsageError(f"--setup channel is the Schaefer-Turek benchmark at Re 20; got --re {re:g}")
        if box is not None:
            raise UsageError("--box applies to the unconfined set-up only, not to --setup channel")
        if args.split == "extrapolated":
            raise UsageError(
                "--split extrapolated applies to the unconfined set-up only, not to --setup channel"
            )
        from sim.channel import schaefer_turek

        res = resolution if resolution is not None else setups.DEFAULT_RESOLUTION
        if not args.quiet:
            info(f"simulating the Schaefer-Turek channel (circle, Re 20), resolution {res:g} cells per D ...")
        ch = schaefer_turek(res, progress=progress)
        sim = ch.sim
        out = {**sim.to_dict(), **ch.to_dict(), "shape": "circle"}
    else:
        from sim.solver import simulate
        from sim.split import split_domain

        shape = parse_shape(args.shape)
        res = resolution if resolution is not None else setups.DEFAULT_RESOLUTION
        b = box if box is not None else setups.DEFAULT_BOX
        warning = setups.thin_body_warning(shape.thickness, res)
        if warning:
            info(f"dragopt: warning: {warning}")
        if not args.quiet:
            info(f"simulating {shape.name} at Re {re:g}, resolution {res:g} cells per D, box {b:g} D ...")
        second = split_domain(shape, re, res, b, args.split)
        if second is not None and not args.quiet:
            info(
                "the body is sharp for this grid: its pressure/viscous split is extrapolated from a second "
                f"solve at resolution {second[1]:g} (--split surface skips it)"
            )
        sim = simulate(shape, re, res, b, split=args.split, progress=progress)
        out = {**sim.to_dict(), "shape": shape.name, "box": b}
        from optim.library import from_simulation

        record(args, from_simulation(args.shape, shape.points, re, out))

    where = f"{sim.setup}, resolution {sim.resolution:g} cells per D, {sim.cells} cells"
    print(f"{out['shape']}  Re {sim.re:g}  ({where})")
    how, solves = "", ""
    if sim.split == "extrapolated":
        res_pair = " and ".join(f"{x['resolution']:g}" for x in sim.split_solves)
        how = f"; split extrapolated from resolutions {res_pair}"
        solves = f" (two solves, {res_pair}; the steps are the first's)"
    print(f"Cd = {num(sim.cd)}  (pressure {num(sim.cd_pressure)}, viscous {num(sim.cd_viscous)}{how})")
    if sim.split_note:
        info(f"dragopt: note: {sim.split_note}")
    print(f"Cl = {num(sim.cl)}")
    if sim.setup == "channel":
        err = 100 * out["cd_rel_err"]
        print(f"dp = {num(out['dp'])}  (reference Cd {out['cd_ref']:.4f}, Cd error {err:+.2f}%)")
    print(f"Newton steps {sim.steps} (residual {sim.residual:.1e}), wall time {sim.wall_s:.2f} s{solves}")
    return write_result(args.json, out)


def run_benchmark(args: argparse.Namespace) -> int:
    """`dragopt benchmark`: the Schaefer-Turek channel against its reference values."""
    from sim import setups
    from sim.channel import schaefer_turek

    resolution = (
        float_arg(args.resolution, "--resolution")
        if args.resolution is not None
        else setups.DEFAULT_RESOLUTION
    )
    setups.check_resolution(resolution)
    check_output(args.json, "--json")
    if not args.quiet:
        info(f"Schaefer-Turek DFG 2D-1 (Re 20), resolution {resolution:g} cells per D ...")
    out = schaefer_turek(resolution, progress=newton_progress(args.quiet)).to_dict()
    out = {"benchmark": args.name, **out}
    print(f"Schaefer-Turek 2D-1, resolution {resolution:g} cells per D ({out['cells']} cells)")
    print(f"{'':4}{'value':>12}{'reference':>12}{'error':>10}")
    print(f"{'Cd':4}{out['cd']:12.4f}{out['cd_ref']:12.4f}{100 * out['cd_rel_err']:+9.2f}%")
    print(f"{'Cl':4}{out['cl']:12.5f}{out['cl_ref']:12.5f}{out['cl_abs_err']:10.5f} (abs)")
    print(f"{'dp':4}{out['dp']:12.5f}{out['dp_ref']:12.5f}{100 * out['dp_rel_err']:+9.2f}%")
    print(f"Newton steps {out['steps']}, wall time {out['wall_s']:.2f} s")
    return write_result(args.json, out)
