"""`dragopt generate` and `dragopt dataset info|show`: make a dataset of simulations and look at it."""

from __future__ import annotations

import signal
import sys

from app.common import (
    Parser,
    UsageError,
    add_output_options,
    check_output,
    float_arg,
    info,
    positive_int,
    write_result,
)


def register(sub) -> None:
    from surrogate.datasets.settings import RE_MAX, RE_MIN

    g = sub.add_parser(
        "generate",
        help="generate a training dataset of simulated shapes",
        description="Simulate random bodies at log-uniform Reynolds numbers and store them as a dataset "
        "folder (shards + manifest.json). A rerun with the same arguments continues a killed run.",
    )
    g.add_argument("--out", required=True, metavar="DIR", help="dataset folder (new, or one to continue)")
    g.add_argument("--n", required=True, metavar="N", help="number of samples")
    g.add_argument("--re-min", default=str(RE_MIN), metavar="A", help=f"smallest Re (default {RE_MIN:g})")
    g.add_argument("--re-max", default=str(RE_MAX), metavar="B", help=f"largest Re (default {RE_MAX:g})")
    g.add_argument("--seed", default="0", metavar="S", help="sampler seed (default 0)")
    g.add_argument("--workers", metavar="K", help="parallel cases (default: one a core)")
    g.add_argument("--executor", choices=("local", "ray"), default="local", help="local processes or Ray")
    g.add_argument("--address", metavar="A", help="Ray cluster address (default: start a local Ray)")
    g.add_argument("--retry-failed", action="store_true", help="simulate the failed cases again")
    g.add_argument(
        "--resolution", metavar="N", help="solver cells per D (default 16, the dataset resolution)"
    )
    g.add_argument("--shard-size", default="256", metavar="S", help="samples a shard (default 256)")
    g.add_argument(
        "--sampler",
        choices=("training", "heldout"),
        default="training",
        help="the bodies to draw: the training families (default) or the held-out ones, unlike any of them",
    )
    g.add_argument(
        "--shards", metavar="A:B", help="make only shards A to B-1 (to split a dataset over machines)"
    )
    add_output_options(g)
    g.set_defaults(func=run_generate)

    d = sub.add_parser("dataset", help="inspect a dataset", description="Inspect a dataset folder.")
    dsub = d.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    dsub.required = True
    i = dsub.add_parser("info", help="counts, ranges, families; histograms and a gallery with --plots")
    i.add_argument("folder", metavar="DIR")
    i.add_argument("--plots", metavar="PLOTDIR", help="write re_hist.png, cd_hist.png, shapes.png here")
    add_output_options(i)
    i.set_defaults(func=run_info)
    s = dsub.add_parser("show", help="one sample's shape, fields and forces as a PNG")
    s.add_argument("folder", metavar="DIR")
    s.add_argument("--index", required=True, metavar="I", help="the sample's number")
    s.add_argument("--out", required=True, metavar="F.png", help="picture to write")
    s.set_defaults(func=run_show)


def _progress_bar(quiet: bool, total_hint: str):
    if quiet:
        return None, None
    from tqdm import tqdm

    bar = None

    def progress(p) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=p.todo, unit="sample", file=sys.stderr, dynamic_ncols=True, desc=total_hint)
        bar.update(p.done - bar.n)
        rate = 60 * p.done / max(p.elapsed, 1e-9)
        bar.set_postfix_str(f"failed {p.failed}, {rate:.1f}/min", refresh=False)

    def close():
        if bar is not None:
            bar.close()

    return progress, close


def run_generate(args) -> int:
    from surrogate.datasets.generate import generate

    n = positive_int(args.n, "--n")
    re_min, re_max = float_arg(args.re_min, "--re-min"), float_arg(args.re_max, "--re-max")
    seed = int(float_arg(args.seed, "--seed"))
    workers = positive_int(args.workers, "--workers") if args.workers is not None else None
    shards = None
    if args.shards:
        try:
            a, b = (int(v) for v in args.shards.split(":"))
            shards = range(a, b)
        except ValueError:
            raise UsageError(f"--shards takes A:B (whole numbers, B > A); got {args.shards!r}") from None
    resolution = float_arg(args.resolution, "--resolution") if args.resolution is not None else None
    shard_size = positive_int(args.shard_size, "--shard-size")
    check_output(args.json)
    progress, close = _progress_bar(args.quiet, "simulating")

    def stop(signum, frame):  # a termination (kill, a scheduler's timeout) stops as cleanly as Ctrl+C
        raise KeyboardInterrupt

    old_term = signal.signal(signal.SIGTERM, stop)
    try:
        m = generate(
            args.out,
            n,
            seed,
            re_min,
            re_max,
            workers,
            args.executor,
            args.address,
            args.retry_failed,
            shard_size,
            resolution,
            shards,
            progress,
            args.sampler,
        )
    except KeyboardInterrupt:
        if close:
            close()
        info(f"stopped; every finished case is kept in {args.out}: rerun the same command to continue")
        raise
    finally:
        signal.signal(signal.SIGTERM, old_term)
    if close:
        close()
    c = m["counts"]
    print(
        f"{args.out}: {c['samples']} samples, {c['failures']} failures, in {len(m['shards'])} shards "
        f"(settings {m['settings_hash']})"
    )
    if c["failures"]:
        print(
            "failed cases are stored with their reason; `dragopt dataset info` lists them, "
            "--retry-failed reruns them"
        )
    return write_result(args.json, {"folder": args.out, **c, "settings_hash": m["settings_hash"]})


def run_info(args) -> int:
    from surrogate.datasets import data, summary

    check_output(args.json)
    d = data.load(args.folder)
    out = summary.info(d)
    print(
        f"{args.folder}: {out['samples']} samples, {out['failures']} failures (requested {out['requested']})"
    )
    print(f"  families: {', '.join(f'{k} {v}' for k, v in sorted(out['families'].items()))}")
    print(f"  splits:   {', '.join(f'{k} {v}' for k, v in out['splits'].items())}")
    print(
        f"  Re {out['re_min']:.3g} to {out['re_max']:.3g}; Cd {out['cd_min']:.3g} to {out['cd_max']:.3g} "
        f"(on each body's D); {out['shrunk']} shown shrunk on the window"
    )
    sens = out["sensitivity_s_median"]
    print(
        f"  median solve {out['solve_s_median']:.2f} s, {out['newton_steps_median']:.0f} Newton steps"
        + (f", adjoint sensitivities {sens:.2f} s" if sens is not None else "")
        + f"; settings {out['settings_hash']}"
    )
    if out["failure_reasons"]:
        print(f"  failures: {out['failure_reasons']}")
    if args.plots:
        for p in summary.plots(d, args.plots):
            print(f"wrote {p}")
    return write_result(args.json, out)


def run_show(args) -> int:
    from surrogate.datasets import data, summary

    try:
        index = int(args.index)
    except ValueError:
        raise UsageError(f"--index must be a whole number; got {args.index!r}") from None
    check_output(args.out)
    forces = summary.show(data.load(args.folder), index, args.out)
    print(
        f"sample {index}: Re {forces['re']:.3g}, Cd {forces['cd']:.4f}, Cl {forces['cl']:+.4f}; "
        f"wrote {args.out}"
    )
    return 0
