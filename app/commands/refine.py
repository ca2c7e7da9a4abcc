"""`dragopt refine`: optimise, verify with the full simulation, add the designs to the data, fine-tune;
repeat. The loop is optim.refine; this parses and prints."""

from __future__ import annotations

import os
from pathlib import Path

from app.common import (
    UsageError,
    add_output_options,
    check_output,
    float_arg,
    info,
    positive_int,
    write_result,
)


def register(sub) -> None:
    from surrogate.paths import DEFAULT_MODEL, DEFAULT_TEST

    r = sub.add_parser(
        "refine",
        help="close the loop: optimise, simulate the designs, add them to the data, fine-tune",
        description="Each round optimises every start shape at every Re through the model (the area held), "
        "simulates the final designs and a few along the way, adds them to --data as a new shard and "
        "fine-tunes the model on it. The last pass optimises again with the final model: its error at those "
        "fresh designs and on --test, against the start model's, is the report (OUT/refine.json). A rerun "
        "with the same arguments continues after a kill.",
    )
    r.add_argument(
        "--model",
        default=str(DEFAULT_MODEL),
        metavar="MODEL",
        help="the model (or ensemble) to refine (default: the shipped model)",
    )
    r.add_argument(
        "--data", required=True, metavar="DIR", help="its training dataset; the designs are added here"
    )
    r.add_argument(
        "--out", required=True, metavar="MODEL2", help="folder for the refined model and its report"
    )
    r.add_argument(
        "--test",
        default=str(DEFAULT_TEST),
        metavar="DIR",
        help="held-out dataset for the before/after test error (default: data/datasets/test)",
    )
    r.add_argument(
        "--rounds",
        default="2",
        metavar="R",
        help="optimise-simulate-fine-tune rounds (default 2; 0 only measures the model at its own designs)",
    )
    r.add_argument("--re", metavar="RE", help="Reynolds numbers, comma-separated (default 1,5,20,40)")
    r.add_argument(
        "--starts",
        metavar="SHAPES",
        help="start shapes, comma-separated presets (default circle,ellipse:2,rect:1:0.25,naca:0030)",
    )
    r.add_argument(
        "--steps",
        default="300",
        metavar="N",
        help="fine-tuning steps a round with the refine samples in every batch (default 300)",
    )
    r.add_argument(
        "--polish",
        default="200",
        metavar="N",
        help="then steps on uniform batches at a third of the rate (default 200; 0: none)",
    )
    r.add_argument(
        "--settle",
        default="2500",
        metavar="N",
        help="after the last round, steps on uniform batches at lr 2e-5, which bring the test-set error "
        "back below the start model's (default 2500, about 20 minutes per network on 2 CPU cores, "
        "2 on a GPU; 0: none)",
    )
    r.add_argument(
        "--along",
        default="2",
        metavar="N",
        help="designs simulated along each optimisation besides the final one (default 2)",
    )
    r.add_argument("--workers", metavar="N", help="simulations in parallel (default: the CPU cores)")
    r.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="fine-tuning device")
    add_output_options(r)
    r.set_defaults(func=run_refine)


def run_refine(args) -> int:
    from optim.refine import refine
    from optim.refine_plan import RE, STARTS, Plan

    check_output(args.json)
    for flag, folder in (("--model", args.model), ("--data", args.data), ("--test", args.test)):
        if not Path(folder).is_dir():
            raise UsageError(f"{flag} {folder} is not a folder")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a folder")
    if out.resolve() in (Path(args.model).resolve(), Path(args.data).resolve()):
        raise UsageError("--out must be a new folder, not the start model or the dataset")
    along = positive_int(args.along, "--along") if args.along != "0" else 0
    plan = Plan(
        starts=[s.strip() for s in args.starts.split(",")] if args.starts else list(STARTS),
        re=[float_arg(t, "--re") for t in args.re.split(",")] if args.re else list(RE),
        rounds=positive_int(args.rounds, "--rounds") if args.rounds != "0" else 0,
        steps=positive_int(args.steps, "--steps"),
        polish=positive_int(args.polish, "--polish") if args.polish != "0" else 0,
        settle=positive_int(args.settle, "--settle") if args.settle != "0" else 0,
        trajectory=along,
    )
    _check_starts(plan.starts)
    workers = positive_int(args.workers, "--workers") if args.workers else (os.cpu_count() or 1)
    report = refine(
        args.model, args.data, out, args.test, plan, workers, args.device, None if args.quiet else info
    )
    b, a = report["before"], report["after"]
    db, da = b["designs"]["final"], a["designs"]["final"]
    print(
        f"{out}: Cd error at freshly optimised designs, "
        f"median {_percent(db, 'median')} -> {_percent(da, 'median')} "
        f"(max {_percent(db, 'max')} -> {_percent(da, 'max')}); "
        f"test set median {100 * b['test']['cd_rel_err_median']:.3f}% -> "
        f"{100 * a['test']['cd_rel_err_median']:.3f}%, p95 {100 * b['test']['cd_rel_err_p95']:.3f}% -> "
        f"{100 * a['test']['cd_rel_err_p95']:.3f}%"
    )
    worse = [k for k in ("cd_rel_err_median", "cd_rel_err_p95") if a["test"][k] > b["test"][k]]
    if worse:
        info(
            f"warning: the test set's Cd error rose ({', '.join(k[11:] for k in worse)}); "
            "check it against your goals, or refine with fewer --steps or more --settle"
        )
    return write_result(args.json, {k: v for k, v in report.items() if k != "rounds"})


def _check_starts(starts: list[str]) -> None:
    from geometry.presets import parse_shape

    for s in starts:
        try:
            parse_shape(s)
        except ValueError as exc:
            raise UsageError(f"--starts {s!r}: {exc}") from None


def _percent(summary: dict, key: str) -> str:
    """An error summary's entry as a percentage, '-' when no design was simulated."""
    return f"{100 * summary[key]:.2f}%" if key in summary else "-"
