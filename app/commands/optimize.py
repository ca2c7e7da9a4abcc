"""`dragopt optimize` and `dragopt verify`: inverse design through the surrogate or the full simulation, and
the surrogate's drag of one body held against the full simulation. The work is in optim/; this parses and
prints."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from app.commands.designs import add_library_options, check_library, record
from app.common import (
    EXIT_INTERRUPTED,
    UsageError,
    add_output_options,
    check_output,
    check_shape_arg,
    float_arg,
    info,
    positive_int,
    write_json,
    write_result,
)

if TYPE_CHECKING:
    from app.common import SubParsers
    from geometry.shape import Shape
    from optim.backends import SurrogateBackend
    from optim.design import DesignRun, Options
    from optim.optimise import Design


def _re_list(text: str) -> list[float]:
    """--re's value: one Reynolds number or a comma-separated list, each one the solver takes."""
    from sim.errors import SetupError
    from sim.setups import check_reynolds_numbers

    values = [float_arg(t, "--re") for t in str(text).split(",") if t.strip()]
    if not values:
        raise UsageError(f"--re must be a positive number or a comma-separated list of them; got {text!r}")
    try:
        check_reynolds_numbers(values, f"--re {text}")
    except SetupError as exc:
        raise UsageError(str(exc)) from None
    return values


def _numbers(text: str, what: str) -> list[float]:
    """A comma-separated list of numbers, each checked as a number naming the option `what`."""
    return [float_arg(t, what) for t in str(text).split(",") if t.strip()]


def _length(text: str | None, what: str) -> float | None:
    if text is None:
        return None
    v = float_arg(text, what)
    if not (v > 0 and v < float("inf")):
        raise UsageError(f"{what} must be a positive length in D; got {text!r}")
    return v


def register(sub: SubParsers) -> None:
    """The `optimize` and `verify` sub-commands."""
    from geometry.presets import PRESET_HELP

    o = sub.add_parser(
        "optimize",
        help="find a low-drag shape under constraints (surrogate, full simulation, or trust region)",
        description="Minimise Cd (+ W |Cl|) of a body from a start shape. Lengths are in the start shape's "
        "equivalent diameter D (the body is normalised to D = 1 at its centroid); Re is U D / nu of the "
        "start shape. Writes DIR/shape.csv (in the start shape's units), DIR/result.json, DIR/shapes.png and "
        "DIR/history.png. Ctrl+C keeps the best design so far.",
    )
    o.add_argument("--shape", required=True, help=f"start shape: {PRESET_HELP}")
    o.add_argument(
        "--re", required=True, metavar="RE", help="Reynolds number, or a list (5,20,40) to average over"
    )
    o.add_argument("--model", metavar="MODEL", help="surrogate model folder (default: the shipped model)")
    o.add_argument(
        "--backend",
        choices=("surrogate", "simulation"),
        default="surrogate",
        help="drag from the surrogate (default, milliseconds) or the full simulation with its adjoint "
        "gradient (seconds a step)",
    )
    o.add_argument(
        "--optimizer",
        choices=("slsqp", "adam"),
        default="slsqp",
        help="SLSQP with exact gradients (default) or Adam with projection",
    )
    o.add_argument("--keep-area", action="store_true", help="hold the area (D = 1)")
    o.add_argument("--min-thickness", metavar="T", help="smallest allowed thickness across the flow, in D")
    o.add_argument("--max-length", metavar="L", help="largest extent along the flow, in D")
    o.add_argument("--max-height", metavar="H", help="largest extent across the flow, in D")
    o.add_argument("--max-curvature", metavar="K", help="smoothness: |curvature| at most K (1/D)")
    o.add_argument("--symmetric", action="store_true", help="symmetric about the flow axis (Cl = 0)")
    o.add_argument(
        "--max-ood",
        metavar="S",
        help="stay near the model's training shapes: out-of-distribution score at most S (1: as near as 95%% "
        "of unseen test shapes are)",
    )
    o.add_argument("--lift-weight", default="0", metavar="W", help="objective Cd + W |Cl| (default 0)")
    o.add_argument(
        "--objective",
        choices=("drag", "lift-to-drag"),
        default="drag",
        help="minimise Cd (+ W |Cl|; default) or maximise Cl / Cd",
    )
    lift = o.add_mutually_exclusive_group()
    lift.add_argument("--cl", metavar="CL", help="hold the lift coefficient at CL (mean over the Re list)")
    lift.add_argument(
        "--min-cl", metavar="CL", help="the lift coefficient at least CL (mean over the Re list)"
    )
    o.add_argument(
        "--incidence",
        choices=("fixed", "free"),
        default="fixed",
        help="the start's incidence kept (default), or a design variable within +-20 degrees of it",
    )
    o.add_argument(
        "--chord", metavar="C", help="hold the section's chord (its length before the incidence), in D"
    )
    o.add_argument(
        "--min-thickness-ratio", metavar="R", help="the section's thickness at least R times its chord"
    )
    o.add_argument(
        "--re-weights",
        metavar="W1,W2,...",
        help="weights of the Re list in the mean (one per Re; default equal)",
    )
    o.add_argument(
        "--worst-case",
        action="store_true",
        help="minimise the largest objective over the Re list, not the mean",
    )
    o.add_argument(
        "--parametrisation",
        choices=("bspline", "fourier", "rigid"),
        default="bspline",
        help="closed B-spline control points (default), a Fourier radius (star-shaped bodies), or rigid: the "
        "start section kept, only its incidence varies",
    )
    o.add_argument(
        "--variables", metavar="N", help="control points (default 12) or Fourier modes (default 8)"
    )
    o.add_argument(
        "--steps",
        metavar="N",
        help="optimiser iterations at most (default 60); with --trust-region, full simulations (default 8)",
    )
    o.add_argument(
        "--rtol",
        default="1e-4",
        metavar="T",
        help="converged when the objective changes by at most this fraction over the last steps (SLSQP 3, "
        "Adam 15), each design feasible (default 1e-4; 0: run until --steps or the optimiser stops)",
    )
    o.add_argument(
        "--trust-region",
        action="store_true",
        help="surrogate steps inside a trust region checked by a full simulation each step; the answer is a "
        "simulated design",
    )
    o.add_argument("--verify", action="store_true", help="simulate the initial and the final design")
    o.add_argument("--resolution", metavar="N", help="full simulation: cells per D (default 16)")
    o.add_argument("--out", required=True, metavar="DIR", help="output folder")
    o.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    add_library_options(o)
    o.set_defaults(func=run_optimize)
    _register_verify(sub, PRESET_HELP)


def _register_verify(sub: SubParsers, preset_help: str) -> None:
    v = sub.add_parser(
        "verify",
        help="compare the surrogate's drag of a shape with the full simulation",
        description="Predicted (surrogate) against simulated Cd and Cl of one body, with the "
        "pressure/viscous split of both and an out-of-distribution report.",
    )
    v.add_argument("--shape", required=True, help=f"SHAPE: {preset_help}")
    v.add_argument("--re", required=True, metavar="RE", help="Reynolds number U D / nu")
    v.add_argument("--model", metavar="MODEL", help="surrogate model folder (default: the shipped model)")
    v.add_argument("--resolution", metavar="N", help="full simulation: cells per D (default 16)")
    add_output_options(v)
    v.set_defaults(func=run_verify)


def _shape(spec: str) -> Shape:
    from geometry import parse_shape

    check_shape_arg(spec)
    return parse_shape(spec)


def _surrogate(model: str | None) -> SurrogateBackend:
    from optim.design import load_surrogate

    if model is not None and not Path(model).is_dir():
        raise UsageError(f"--model {model} is not a folder; give a model folder (dragopt train --out)")
    return load_surrogate(model)


def _options(args: argparse.Namespace) -> Options:
    """The design options from the parsed arguments (each number checked, naming its flag)."""
    from optim import constraints as C
    from optim.design import Options

    trust = args.trust_region
    return Options(
        re=_re_list(args.re),
        backend=args.backend,
        optimiser=args.optimizer,
        parametrisation=args.parametrisation,
        variables=positive_int(args.variables, "--variables") if args.variables else None,
        steps=positive_int(args.steps, "--steps") if args.steps is not None else (8 if trust else 60),
        lift_weight=float_arg(args.lift_weight, "--lift-weight"),
        rtol=float_arg(args.rtol, "--rtol"),
        objective=args.objective,
        cl=float_arg(args.cl, "--cl") if args.cl is not None else None,
        min_cl=float_arg(args.min_cl, "--min-cl") if args.min_cl is not None else None,
        incidence=args.incidence,
        re_weights=_numbers(args.re_weights, "--re-weights") if args.re_weights else None,
        worst_case=args.worst_case,
        limits=C.Limits(
            keep_area=args.keep_area,
            min_thickness=_length(args.min_thickness, "--min-thickness"),
            max_length=_length(args.max_length, "--max-length"),
            max_height=_length(args.max_height, "--max-height"),
            max_curvature=_length(args.max_curvature, "--max-curvature"),
            symmetric=args.symmetric,
            max_ood=_length(args.max_ood, "--max-ood"),
            chord=_length(args.chord, "--chord"),
            min_thickness_ratio=(
                float_arg(args.min_thickness_ratio, "--min-thickness-ratio")
                if args.min_thickness_ratio is not None
                else None
            ),
        ),
        trust_region=trust,
        verify=args.verify,
        resolution=_length(args.resolution, "--resolution"),
    )


def _progress(rec: dict, design: Design) -> None:
    """One stderr line per step (with the trust region's check when there is one)."""
    rho = f", rho {rec['rho']:.2f}" if rec.get("rho") is not None else ""
    extra = (
        f" simulated (predicted {rec['cd_pred']:.5f}{rho}, region {rec['delta']:.3g})" if "rho" in rec else ""
    )
    lift = f", Cl {rec['cl']:.4f}" + (f" at {design.incidence:+.2f} deg" if design.incidence else "")
    info(
        f"  step {rec['step']:4d}: Cd {rec['cd']:.5f}{lift}, violation {rec['violation']:.2g}{extra} "
        f"({rec['wall_s']:.1f} s)"
    )


def run_optimize(args: argparse.Namespace) -> int:
    """`dragopt optimize`: check everything that can fail before the run, optimise, write the files."""
    from optim.design import prepare, run

    opts = _options(args)
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} is a file; give a folder")
    for name in ("shape.csv", "result.json", "shapes.png", "history.png"):
        check_output(out_dir / name)
    check_library(args)
    shape = _shape(args.shape)
    surrogate = _surrogate(args.model) if (opts.needs_surrogate or args.model) else None
    try:
        prepare(shape, opts, surrogate)  # infeasible limits fail here, before any work
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not args.quiet:
        what = (
            "trust region (surrogate steps, simulated checks)"
            if opts.trust_region
            else f"{opts.backend}, {opts.optimiser}"
        )
        info(f"optimising {args.shape} at Re {args.re}: {what}")
    progress = None if args.quiet else _progress
    done = run(shape, opts, surrogate, progress, log=None if args.quiet else info)
    _write(out_dir, done, args)
    from optim.library import from_run

    record(args, from_run(done, f"{args.shape} at Re {args.re}", args.shape, surrogate))
    if done.result.status == "interrupted":
        info(f"stopped; the best design so far is in {out_dir}")
        return EXIT_INTERRUPTED
    return 0


def _write(out_dir: Path, done: DesignRun, args: argparse.Namespace) -> None:
    """shape.csv, result.json and the two figures, then the summary on stdout."""
    from geometry.io import write_csv
    from optim.design import user_points
    from optim.plots import pick, write

    out, res = done.to_dict(), done.result
    pts = user_points(res.final.points, done.start)
    write_csv(
        out_dir / "shape.csv",
        pts,
        comment=f"dragopt optimize --shape {args.shape} --re {args.re}: Cd {res.final.cd:.6g} "
        f"({out['backend']}), in the start shape's units",
    )
    write_json(out_dir / "result.json", out)
    title = f"{args.shape}, Re {args.re}: Cd {res.initial.cd:.4f} -> {res.final.cd:.4f} ({out['backend']})"
    write(out_dir, pick(done.snapshots), out["history"], title)
    ci, cf = out.get("cd_pred_initial"), out.get("cd_pred_final")
    steps = out["history"][-1]["step"] if out["history"] else 0
    lines = [
        f"{out_dir}: {out['status']} after {steps} steps, {out['wall_s']:.1f} s "
        f"({out['evaluations']} evaluations)"
    ]
    if ci is not None and cf is not None:
        lines.append(f"  Cd predicted {ci:.5f} -> {cf:.5f} ({100 * (cf / ci - 1):+.2f}%)")
    if "cd_sim_initial" in out:
        si, sf = out["cd_sim_initial"], out["cd_sim_final"]
        lines.append(f"  Cd simulated {si:.5f} -> {sf:.5f} ({100 * (sf / si - 1):+.2f}%)")
    lift = {k: out[k] for k in ("cl_pred_final", "cl_sim_final") if k in out}
    if lift and (done.options.problem(done.limits).lifting or done.options.inclined):
        shown = ", ".join(
            f"{k.split('_')[1].replace('pred', 'predicted').replace('sim', 'simulated')} {v:.4f}"
            for k, v in lift.items()
        )
        lines.append(f"  Cl {shown}; incidence {out['incidence_final']:+.2f} deg from the start's")
    if len(out["re"]) > 1:
        per = out.get("cd_sim_per_re") or out.get("cd_pred_per_re") or []
        lines.append(
            "  Cd at each Re: "
            + ", ".join(f"Re {r:g}: {c:.5f}" for r, c in zip(out["re"], per, strict=False))
        )
    lines.append(f"  active constraints: {', '.join(out['active_constraints']) or 'none'}")
    if out.get("message"):
        lines.append(f"  {out['message']}")
    for w in out.get("ood", {}).get("warnings", []):
        lines.append(f"  warning: {w}")
    print("\n".join(lines))
    sys.stdout.flush()


def run_verify(args: argparse.Namespace) -> int:
    """`dragopt verify`: the surrogate's drag of one body against the full simulation."""
    from optim.verify import summary, verify

    re = _re_list(args.re)
    if len(re) != 1:
        raise UsageError("verify takes one Reynolds number")
    check_output(args.json)
    shape = _shape(args.shape)
    surrogate = _surrogate(args.model)
    v = summary(verify(surrogate, shape, re[0], _length(args.resolution, "--resolution")))
    for w in v["ood"]["warnings"]:
        info(f"warning: {w}")
    print(
        f"{args.shape} at Re {re[0]:g}: Cd predicted {v['cd_pred']:.5f}"
        + (f" +- {v['cd_pred_std']:.5f}" if v.get("cd_pred_std") is not None else "")
        + f", simulated {v['cd_sim']:.5f} "
        f"({100 * v['rel_err']:+.3f}%)\n"
        f"  Cl predicted {v['cl_pred']:.5f}, simulated {v['cl_sim']:.5f}\n"
        f"  pressure/viscous: predicted {v['cd_pressure_pred']:.4f} / {v['cd_viscous_pred']:.4f}, "
        f"simulated {v['cd_pressure_sim']:.4f} / {v['cd_viscous_sim']:.4f}"
        + (
            f" (extrapolated from resolutions {' and '.join(f'{n:g}' for n in v['split_resolutions'])}; "
            f"one solve's pressure part {v['cd_pressure_sim_single']:.4f})"
            if v["split_sim"] == "extrapolated"
            else ""
        )
    )
    return write_result(args.json, v)
