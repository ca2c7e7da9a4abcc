"""`dragopt train` and `dragopt evaluate`: train a surrogate with one of the four methods, and measure it."""

from __future__ import annotations

import signal
import sys

from app.common import (
    UsageError,
    add_output_options,
    check_output,
    float_arg,
    info,
    positive_int,
    write_result,
)
from surrogate.train_config import OUTPUT_SETS


def register(sub) -> None:
    t = sub.add_parser(
        "train",
        help="train a surrogate model (supervised | dp | sip | hig)",
        description="Train the surrogate on a dataset. "
        "A rerun with the same --out resumes a killed training.",
    )
    t.add_argument("--data", required=True, metavar="DIR", help="dataset folder (dragopt generate)")
    t.add_argument("--method", required=True, metavar="M", help="supervised | dp | sip | hig")
    t.add_argument("--out", required=True, metavar="MODEL", help="model folder to write (or to resume)")
    t.add_argument("--init", metavar="MODEL", help="start from this model's weights (e.g. a supervised one)")
    t.add_argument("--steps", default="10000", metavar="N", help="updates (default 10000)")
    t.add_argument("--batch", default="32", metavar="B", help="samples an update (default 32)")
    t.add_argument("--lr", metavar="LR", help="learning rate (default: per method)")
    t.add_argument("--base", default="16", metavar="C", help="U-Net channels at full resolution (default 16)")
    t.add_argument(
        "--outputs",
        default="drag",
        choices=OUTPUT_SETS,
        help="the physics loss of dp/sip/hig: over Cd and Cl (drag, the default), or over every output of P "
        "(all: Cd, Cl, the pressure part of Cd and Cp at the 64 stations, each weighing alike)",
    )
    t.add_argument(
        "--field-weight",
        default="0",
        metavar="W",
        help="dp/sip/hig: add W x the field loss as a second term, stepped by its own Adam (--field-lr)",
    )
    t.add_argument(
        "--field-lr", default="1e-4", metavar="LR", help="the field and residual terms' Adam rate (1e-4)"
    )
    t.add_argument(
        "--residual-weight", default="0", metavar="W", help="add W x the Navier-Stokes residual (PhiFlow)"
    )
    t.add_argument(
        "--gradient-weight",
        default="0",
        metavar="W",
        help="add W x the shape-gradient loss against the dataset's adjoint sensitivities",
    )
    t.add_argument(
        "--gradient-batch",
        default="0",
        metavar="K",
        help="the shape-gradient loss on the first K samples of each batch (default 0: all)",
    )
    t.add_argument(
        "--max-seconds",
        metavar="S",
        help="stop after S seconds of training (the learning rate then decays over S, not over --steps)",
    )
    t.add_argument(
        "--eval-every", default="250", metavar="N", help="validation metrics every N steps (default 250)"
    )
    t.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="cpu (default) or cuda")
    t.add_argument(
        "--ddp",
        metavar="N",
        help="data-parallel in N processes (DistributedDataParallel: gloo on CPU, NCCL with one GPU each); "
        "a job started by torchrun is data-parallel without it",
    )
    t.add_argument("--seed", default="0", metavar="S")
    t.add_argument(
        "--bootstrap",
        action="store_true",
        help="train on a bootstrap resample of the training split (drawn with --seed): an ensemble member",
    )
    t.add_argument(
        "--focus",
        metavar="FAMILY",
        help="draw a share of every batch from one sample family "
        "(e.g. refine, the designs dragopt refine added)",
    )
    t.add_argument(
        "--focus-share", default="0.25", metavar="S", help="that share, between 0 and 1 (default 0.25)"
    )
    add_output_options(t)
    t.set_defaults(func=run_train)
    register_evaluate(sub)


def register_evaluate(sub) -> None:
    e = sub.add_parser(
        "evaluate",
        help="evaluate a surrogate model against a dataset",
        description="Cd, Cl and field errors of a model on every usable sample of a dataset, "
        "overall, per Re band and per family; with the dataset's adjoint sensitivities, the cosine of the "
        "model's shape gradient against the adjoint's.",
    )
    e.add_argument("--model", required=True, metavar="MODEL")
    e.add_argument("--data", required=True, metavar="DIR")
    e.add_argument("--split", choices=("train", "val", "test"), help="only this split (default: all samples)")
    e.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="cpu (default) or cuda")
    e.add_argument(
        "--gradient-samples",
        default="256",
        metavar="K",
        help="shape-gradient cosines on K samples spread over the data (default 256; 0: none)",
    )
    e.add_argument(
        "--record",
        action="store_true",
        help="store the metrics in the model's card (model.json, key test_metrics): its published numbers",
    )
    add_output_options(e)
    e.set_defaults(func=run_evaluate)


def register_ensemble(sub) -> None:
    e = sub.add_parser(
        "ensemble",
        help="combine trained models into an ensemble (mean drag and its spread)",
        description="Copy K model folders (e.g. trained with --bootstrap --seed k) into one ensemble folder "
        "that optimize, verify and the app use like a model: Cd is the members' mean, the spread their "
        "standard deviation. With --data, measure how well the spread predicts the error there, and keep "
        "that in the card.",
    )
    e.add_argument("members", nargs="+", metavar="MODEL")
    e.add_argument("--out", required=True, metavar="DIR")
    e.add_argument(
        "--float16",
        action="store_true",
        help="store the members' weights in half precision (half the size, loaded as float32)",
    )
    e.add_argument(
        "--data", metavar="DIR", help="a dataset to calibrate the spread on (e.g. data/datasets/test)"
    )
    add_output_options(e)
    e.set_defaults(func=run_ensemble)


def run_ensemble(args) -> int:
    from surrogate import ensemble, model_files

    check_output(args.json)
    card = ensemble.assemble(args.members, args.out, args.float16)
    print(f"{args.out}: an ensemble of {len(card['members'])} members")
    if args.data:
        models, _ = model_files.load_ensemble(args.out)
        cal = ensemble.calibration(models, args.data)
        ensemble.record_calibration(args.out, cal)
        card["calibration"] = cal
        print(
            f"  on {args.data}: Cd error median {100 * cal['cd_rel_err_median']:.3f}%, p95 "
            f"{100 * cal['cd_rel_err_p95']:.3f}% (members: "
            + ", ".join(f"{100 * e:.3f}%" for e in cal["member_cd_rel_err_median"])
            + f"); spread median {100 * cal['spread_rel_median']:.3f}%; rank correlation of spread and error "
            f"{cal['spearman_spread_error']:.2f}; the spread flags "
            f"{cal['share_flagged_of_top_decile_errors']:.0%} of the worst tenth"
        )
    return write_result(args.json, card)


def register_compare(sub) -> None:
    c = sub.add_parser(
        "compare-methods",
        help="compare the training methods on a dataset, fairly",
        description="The protocol of docs/method-comparison.md: the same network and split for all; a rough "
        "start (--pretrain-steps supervised steps) and a converged one (--converged); per start, method and "
        "budget (--updates updates; separately --cpu-seconds of CPU time) a learning-rate sweep at that "
        "budget on the validation split (widened until the best is inside); then every method over --seeds "
        "seeds; HIG also from scratch, its tau and batch swept. Writes report.md, val_vs_cpu.png and "
        "metrics.json. A rerun with the same --out resumes.",
    )
    c.add_argument("--data", required=True, metavar="DIR")
    c.add_argument("--out", required=True, metavar="REPORT_DIR")
    c.add_argument("--base", default="16", metavar="C", help="U-Net channels (default 16)")
    c.add_argument("--batch", default="32", metavar="B")
    c.add_argument("--outputs", default="all", choices=OUTPUT_SETS, help="the physics loss's outputs (all)")
    c.add_argument("--pretrain-steps", default="300", metavar="N", help="the rough start (default 300)")
    c.add_argument(
        "--converged", metavar="MODEL", help="a converged model of the same size: the second start"
    )
    c.add_argument("--seeds", default="3", metavar="K", help="seeds per method and budget (default 3)")
    c.add_argument("--updates", default="300", metavar="N", help="the equal-updates budget (default 300)")
    c.add_argument("--cpu-seconds", default="600", metavar="S", help="the equal-CPU-time budget (600)")
    c.add_argument("--gradient-shapes", default="5", metavar="K", help="test shapes for the adjoint cosine")
    c.add_argument("--eval-every", default="50", metavar="N", help="validation points of the curves (50)")
    c.add_argument("--hig-taus", default="1e-8,1e-6,1e-4", metavar="T,..", help="HIG truncations swept")
    c.add_argument("--hig-batches", default="8,16,32", metavar="B,..", help="HIG batch sizes swept")
    add_output_options(c)
    c.set_defaults(func=run_compare)


def run_compare(args) -> int:
    from surrogate.compare import Protocol, compare

    check_output(args.json)
    protocol = Protocol(
        base=positive_int(args.base, "--base"),
        batch=positive_int(args.batch, "--batch"),
        outputs=args.outputs,
        pretrain_steps=positive_int(args.pretrain_steps, "--pretrain-steps"),
        converged=args.converged,
        seeds=positive_int(args.seeds, "--seeds"),
        updates=positive_int(args.updates, "--updates"),
        cpu_seconds=float_arg(args.cpu_seconds, "--cpu-seconds"),
        gradient_shapes=positive_int(args.gradient_shapes, "--gradient-shapes"),
        eval_every=positive_int(args.eval_every, "--eval-every"),
        hig_taus=tuple(float_arg(t, "--hig-taus") for t in args.hig_taus.split(",")),
        hig_batches=tuple(positive_int(b, "--hig-batches") for b in args.hig_batches.split(",")),
    )
    r = compare(args.data, args.out, protocol, log=None if args.quiet else info)
    print(f"wrote {args.out}/report.md ({len(r['runs'])} runs)")
    return write_result(args.json, r)


def run_train(args) -> int:
    from surrogate.train import METHODS, TrainConfig, TrainingError

    if args.method not in METHODS:
        raise UsageError(f"unknown --method {args.method!r}; allowed: {', '.join(METHODS)}")
    cfg = TrainConfig(
        method=args.method,
        steps=positive_int(args.steps, "--steps"),
        batch=positive_int(args.batch, "--batch"),
        lr=float_arg(args.lr, "--lr") if args.lr is not None else None,
        base=positive_int(args.base, "--base"),
        field_weight=float_arg(args.field_weight, "--field-weight"),
        field_lr=float_arg(args.field_lr, "--field-lr"),
        outputs=args.outputs,
        residual_weight=float_arg(args.residual_weight, "--residual-weight"),
        gradient_weight=float_arg(args.gradient_weight, "--gradient-weight"),
        gradient_batch=int(float_arg(args.gradient_batch, "--gradient-batch")),
        seed=int(float_arg(args.seed, "--seed")),
        bootstrap=args.bootstrap,
        focus=args.focus,
        focus_share=float_arg(args.focus_share, "--focus-share"),
        device=args.device,
        max_seconds=_seconds(args.max_seconds),
        eval_every=positive_int(args.eval_every, "--eval-every"),
    )
    check_output(args.json)
    bar = None

    def progress(rec: dict) -> None:
        nonlocal bar
        if args.quiet:
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(
                total=rec["steps"], initial=rec["step"] - 1, unit="step", file=sys.stderr, dynamic_ncols=True
            )
        bar.update(rec["step"] - bar.n)
        val = rec.get("val")
        extra = f", val Cd err median {100 * val['cd_rel_err_median']:.2f}%" if val else ""
        bar.set_postfix_str(f"loss {rec['loss']:.3g}{extra}", refresh=False)

    def stop(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, stop)
    try:
        card = _run(args, cfg, progress)
    except KeyboardInterrupt:
        info(f"stopped; the last checkpoint is in {args.out}: rerun the same command to resume")
        raise
    except TrainingError as exc:
        raise UsageError(str(exc)) from None
    finally:
        signal.signal(signal.SIGTERM, old)
        if bar is not None:
            bar.close()
    val = card.get("val_metrics") or {}
    print(
        f"{args.out}: {cfg.method}, {card['step']} steps in {card['wall_s']:.0f} s; "
        f"validation Cd error median {100 * val.get('cd_rel_err_median', float('nan')):.2f}%, "
        f"p95 {100 * val.get('cd_rel_err_p95', float('nan')):.2f}%"
    )
    return write_result(args.json, card)


def _run(args, cfg, progress) -> dict:
    """train() in this process, in --ddp N spawned processes, or as one process of a torchrun job."""
    import json
    from pathlib import Path

    from surrogate import distributed
    from surrogate.devices import check_device
    from surrogate.model_files import CARD
    from surrogate.train import train

    if args.ddp is None and not distributed.under_torchrun():
        return train(args.data, args.out, cfg, args.init, progress)
    if distributed.under_torchrun():
        distributed.run_under_torchrun(
            train, (args.data, args.out, cfg, args.init, _line_progress), cfg.device
        )
    else:
        check_device(cfg.device)  # here: the spawned processes would only fail one by one
        n = positive_int(args.ddp, "--ddp")
        if cfg.batch % n:
            raise UsageError(f"--batch {cfg.batch} must be a multiple of the {n} processes of --ddp {n}")
        try:
            distributed.launch(
                train,
                (args.data, args.out, cfg, args.init, _line_progress),
                positive_int(args.ddp, "--ddp"),
                cfg.device,
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return json.loads((Path(args.out) / CARD).read_text())


def _line_progress(rec: dict) -> None:
    """Progress of a data-parallel training (rank 0): a line at each evaluation."""
    if "val" in rec or rec["step"] == rec["steps"]:
        val = rec.get("val") or {}
        extra = f", val Cd err median {100 * val['cd_rel_err_median']:.2f}%" if val else ""
        info(f"  step {rec['step']}/{rec['steps']}: loss {rec['loss']:.3g}{extra} ({rec['wall_s']:.0f} s)")


def _seconds(text: str | None) -> float | None:
    if text is None:
        return None
    s = float_arg(text, "--max-seconds")
    if not s > 0:
        raise UsageError(f"--max-seconds must be a positive number of seconds; got {text!r}")
    return s


def run_evaluate(args) -> int:
    from surrogate.evaluation import evaluate

    check_output(args.json)
    k = int(float_arg(args.gradient_samples, "--gradient-samples"))
    if k < 0:
        raise UsageError(f"--gradient-samples must be 0 or more; got {args.gradient_samples!r}")
    m = evaluate(args.model, args.data, args.split, args.device, k)
    if args.record:
        from surrogate.model_files import record_metrics

        record_metrics(args.model, "test_metrics", m)
    print(f"{args.model} on {args.data} ({m['n']} samples, {m['method']}):")
    print(
        f"  Cd relative error: median {100 * m['cd_rel_err_median']:.3f}%, "
        f"p95 {100 * m['cd_rel_err_p95']:.3f}%, max {100 * m['cd_rel_err_max']:.3f}%"
    )
    print(
        f"  Cl error: median {m['cl_abs_err_median']:.2e} ({100 * m['cl_err_rel_cd_median']:.3f}% of Cd); "
        f"field error median {100 * m['field_rel_err']:.2f}%"
    )
    if "cp_rms_err_median" in m:
        print(
            f"  pressure part of Cd: error median {100 * m['cd_pressure_err_rel_cd_median']:.3f}% of Cd, "
            f"p95 {100 * m['cd_pressure_err_rel_cd_p95']:.3f}%; "
            f"Cp RMS error median {m['cp_rms_err_median']:.4f}, p95 {m['cp_rms_err_p95']:.4f}"
        )
    print(
        f"  Navier-Stokes residual (PhiFlow, fluid cells): momentum {m['ns_momentum_rms']:.3g} "
        f"(the solver's own states: {m['ns_momentum_rms_solver']:.3g}), "
        f"continuity {m['ns_continuity_rms']:.3g} "
        f"({m['ns_continuity_rms_solver']:.3g})"
    )
    if "gradient_cosine_median" in m:
        print(
            f"  shape gradient (dCd on 16 smooth modes) against the adjoint, {m['gradient_cosine_n']} "
            f"samples: cosine median {m['gradient_cosine_median']:.3f}, "
            f"worst tenth from {m['gradient_cosine_p10']:.3f}"
        )
    named = [(f"Re {band}", b) for band, b in m["bands"].items()]
    named += [(f"family {g}", b) for g, b in m.get("groups", {}).items()]
    for name, b in named:
        if b["n"]:
            print(
                f"  {name}: {b['n']} samples, Cd error median {100 * b['cd_rel_err_median']:.3f}%, "
                f"p95 {100 * b['cd_rel_err_p95']:.3f}%, max {100 * b['cd_rel_err_max']:.3f}%"
            )
    return write_result(args.json, m)
