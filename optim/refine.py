"""`dragopt refine`: close the loop between the optimiser and the data.

The optimiser drives a shape to where the surrogate is weakest: to the edge of its training data, where it
errs in the design's favour. A round of refine therefore
1. optimises every problem (a start shape at one Re, the area held) through the current surrogate;
2. simulates the final design and a few designs along the way with the full simulation;
3. appends them to the dataset as a new shard (family 'refine', the dataset's format, manifest rewritten
   atomically);
4. fine-tunes the surrogate (DP by default), a share of every batch drawn from the refine samples, then
   polishes it on uniform batches; after the last round it settles it with a long run on uniform batches (the
   fine-tunes leave the test set slightly worse; the settling brings it back below where it started).
After the last round the final model optimises the same problems again: its error at these fresh designs,
against the first model's at its own, is the before and after; the test set's error is measured for both.

Everything is kept as it is made, in OUT/refine/ (designs, cases, simulated samples, each round's model), so
the same command continues after a kill at any point. OUT receives the final model (its model.json written
last) and refine.json, the report.
"""

from __future__ import annotations

import functools
import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from geometry.io import atomic_write_text
from geometry.presets import parse_shape
from optim.constraints import Limits
from optim.design import Options, load_surrogate, prepare, run
from optim.refine_plan import FAMILY, REPORT, Plan
from optim.verify import errors_at
from surrogate import model_files
from surrogate.datasets import store
from surrogate.datasets.cases import body_case, run_cases
from surrogate.datasets.data import split_of
from surrogate.devices import check_device
from surrogate.evaluation import evaluate
from surrogate.finetune import Stage
from surrogate.finetune import fine_tune as fine_tune_stages
from surrogate.paths import portable
from surrogate.train import TrainConfig

# ------------------------------------------------------------------------------------------------- the stages


def optimise_problems(model_dir: Path, plan: Plan, folder: Path, log: Callable[[str], None]) -> list[dict]:
    """Stage 1: each problem optimised through the model; one JSON per problem, so a kill loses one at
    most."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    surrogate = None
    out = []
    for p in plan.problems():
        path = folder / f"p{p['k']:03d}.json"
        if path.is_file():
            out.append(json.loads(path.read_text()))
            continue
        surrogate = surrogate or load_surrogate(model_dir)
        torch.manual_seed(0)
        opts = Options(
            re=[p["re"]], steps=plan.opt_steps, limits=Limits(keep_area=True, symmetric=p["symmetric"])
        )
        done = run(parse_shape(p["start"]), opts, surrogate)
        initial, final = done.predicted or (None, None)
        history = done.result.history
        rec = {
            **p,
            "cd_pred_initial": initial,
            "cd_pred_final": final,
            "status": done.result.status,
            "steps": history[-1]["step"] if history else 0,
            "final": np.asarray(done.result.final.points).tolist(),
            "along": [
                np.asarray(q).tolist() for q in _along([pts for _, pts in done.snapshots], plan.trajectory)
            ],
        }
        atomic_write_text(path, json.dumps(rec) + "\n")
        symmetric = " (symmetric)" if p["symmetric"] else ""
        log(
            f"  {p['start']} at Re {p['re']:g}{symmetric}: predicted Cd "
            f"{rec['cd_pred_initial'] or math.nan:.4f} -> {rec['cd_pred_final'] or math.nan:.4f}"
        )
        out.append(rec)
    return out


def _along(snapshots: list, n: int) -> list:
    """Up to n designs spread evenly along an optimisation's accepted steps, the start and the end
    excluded."""
    last = len(snapshots) - 1
    picks = sorted({round(j * last / (n + 1)) for j in range(1, n + 1)} - {0, last})
    return [snapshots[i] for i in picks]


def make_cases(designs: list[dict], settings: dict, first_index: int, round_: int) -> list[dict]:
    """Stage 2's cases: each design as the dataset stores a body (surrogate.datasets.cases.body_case);
    bodies outside the dataset's window are left out (the surrogate cannot see them)."""
    cases: list[dict] = []
    for d in designs:
        for what, pts in [("final", d["final"]), *[(f"along-{j}", q) for j, q in enumerate(d["along"])]]:
            params = {
                "round": round_,
                "problem": d["k"],
                "start": d["start"],
                "re_start": d["re"],
                "what": what,
            }
            case = body_case(np.asarray(pts), d["re"], settings, first_index + len(cases), FAMILY, params)
            if case is not None:
                cases.append(case)
    return cases


FIRST_INDEX = (
    10**9
)  # refine's sample numbers start here: `dragopt generate --n` may grow the sampler's below it


def simulate_cases(cases: list[dict], folder: Path, workers: int, log: Callable[[str], None]) -> list[dict]:
    """Stage 2: the full simulation of every case; a failure is tried again on a rerun."""
    done = store.read_work(folder)
    todo = [c for c in cases if not done.get(c["index"], {}).get("ok")]
    if todo:
        log(f"  simulating {len(todo)} designs ({len(cases) - len(todo)} done before) on {workers} workers")
    t0 = time.perf_counter()
    for j, rec in enumerate(run_cases(todo, folder, workers), start=1):
        done[int(rec["index"])] = rec
        if j % 8 == 0 or j == len(todo):
            log(f"    {j}/{len(todo)} simulated ({time.perf_counter() - t0:.0f} s)")
    return [done[c["index"]] for c in cases]


def add_shard(data_dir: Path, name: str, records: list[dict], note: dict) -> None:
    """Stage 3: the records as one shard of the dataset. A rerun leaves a shard that holds these records as
    they are, and rewrites it when more of them succeeded since."""
    entry = (store.read_manifest(data_dir) or {}).get("shards", {}).get(name)
    ok = sum(bool(r.get("ok")) for r in records)
    if entry and entry["count"] == len(records) and entry["ok"] == ok and (data_dir / name).is_file():
        return
    store.add_shard(data_dir, name, records, source=note)


def summarise_errors(errs: list[dict]) -> dict:
    """Median, max and mean signed error at the final designs and at those along the way."""

    def s(sel: list[dict]) -> dict:
        e = np.abs([x["err"] for x in sel])
        if len(e) == 0:
            return {"n": 0}
        mean = float(np.mean([x["err"] for x in sel]))
        return {"n": len(e), "median": float(np.median(e)), "max": float(e.max()), "mean_signed": mean}

    return {
        "final": s([x for x in errs if x["what"] == "final"]),
        "along": s([x for x in errs if x["what"] != "final"]),
    }


def fine_tune(model_dir: Path, data_dir: Path, out: Path, plan: Plan, round_: int, device: str, log) -> Path:
    """Stage 4: each member fine-tuned on the grown dataset (surrogate.finetune): `plan.steps` with the refine
    samples in every batch, then `plan.polish` on uniform batches at a third of the rate (they win back most
    of what the focus costs the test set), and after the last round `plan.settle` on uniform batches at
    `plan.settle_lr` (a long cosine decay, which wins back the rest). Returns the new model's folder."""
    in_train = _refine_samples_train(data_dir)  # none may: the split is by shape

    def stages(k: int, own: dict) -> list[Stage]:
        bootstrap = bool(own.get("bootstrap", False))
        base = TrainConfig(method=plan.method, batch=plan.batch, bootstrap=bootstrap, device=device)
        seed = 1000 * (round_ + 1) + int(own.get("seed", k))
        share = f"{int(100 * plan.share)}% of each batch from the refine samples"
        focus = FAMILY if in_train else None
        cfg = replace(base, steps=plan.steps, lr=plan.lr, seed=seed, focus=focus, focus_share=plan.share)
        out = [
            Stage("focus", replace(cfg, eval_every=plan.steps), f"{plan.method}, {plan.steps} steps, {share}")
        ]
        if plan.polish:
            cfg = replace(base, steps=plan.polish, lr=plan.lr / 3, seed=seed + 500, eval_every=plan.polish)
            out.append(Stage("polish", cfg, f"{plan.polish} steps on uniform batches"))
        if plan.settle and round_ == plan.rounds - 1:
            cfg = replace(base, steps=plan.settle, lr=plan.settle_lr, seed=seed + 700, eval_every=plan.settle)
            out.append(
                Stage("settle", cfg, f"{plan.settle} steps on uniform batches at lr {plan.settle_lr:g}")
            )
        return out

    return fine_tune_stages(model_dir, data_dir, out, stages, log)


def _refine_samples_train(data_dir: Path) -> bool:
    """Whether any refine sample of the dataset is in the training split (its shards alone say so)."""
    manifest = store.read_manifest(data_dir) or {"shards": {}}
    for name, entry in manifest["shards"].items():
        if FAMILY in entry.get("families", {}):
            a = store.read_shard(data_dir / name)
            if (split_of(a["points"][a["ok"]]) == "train").any():
                return True
    return False


def test_metrics(model_dir: Path, test_dir: Path) -> dict:
    """Cd error of the model (the members' mean for an ensemble) on a held-out dataset."""
    m = evaluate(model_dir, test_dir)
    return {
        k: m[k]
        for k in ("n", "cd_rel_err_median", "cd_rel_err_p95", "cd_rel_err_max", "cl_err_rel_cd_median")
    }


def _cached(path: Path, make: Callable, *args):
    """make(*args), kept in `path` (JSON) the first time and read back after."""
    if path.is_file():
        return json.loads(path.read_text())
    value = make(*args)
    atomic_write_text(path, json.dumps(value, indent=1) + "\n")
    return value


# ------------------------------------------------------------------------------------------------- the loop


def refine(
    model: str | Path,
    data: str | Path,
    out: str | Path,
    test: str | Path,
    plan: Plan,
    workers: int = 1,
    device: str = "cpu",
    log: Callable[[str], None] | None = None,
) -> dict:
    """Run (or continue) the rounds; write OUT's model and report; return the report."""
    log = log or (lambda msg: None)
    model, data, out, test = Path(model), Path(data), Path(out), Path(test)
    settings = _check(model, data, test, plan, device)
    work = out / "refine"
    _keep_plan(work, plan, model, out)
    tag = plan.tag()
    t_start = time.perf_counter()
    rounds = []
    current = model
    for r in range(plan.rounds + 1):  # the last pass only measures the final model on fresh designs
        last = r == plan.rounds
        rd = work / f"round-{r}"
        log(
            f"round {r} of {plan.rounds}{' (the final model on fresh designs)' if last else ''}: "
            f"model {current}"
        )
        designs = optimise_problems(current, plan, rd / "designs", log)
        cases = _cached(rd / "cases.json", _new_cases, designs, settings, data, r)
        cases = [{**c, "points": np.asarray(c["points"]), "settings": settings} for c in cases]
        records = simulate_cases(cases, rd, workers, log)
        errs = errors_at(load_surrogate(current), records)  # recomputed: a case simulated on a rerun counts
        note = {"refine": portable(out), "round": r, "model": portable(current)}
        add_shard(data, f"shard-{FAMILY}-{tag}-{r}.npz", records, note)
        tm = _cached(rd / "test.json", test_metrics, current, test)
        summary = summarise_errors(errs)
        _log_round(log, summary, tm, len(records) - len(errs), len(records))
        added = int(sum(bool(x.get("ok")) for x in records))
        rounds.append(
            {
                "round": r,
                "model": portable(current),
                "designs": summary,
                "test": tm,
                "errors": errs,
                "samples_added": added,
            }
        )
        if not last:
            current = fine_tune(current, data, work / f"model-{r + 1}", plan, r, device, log)
    report = {
        "plan": asdict(plan),
        "start_model": portable(model),
        "data": portable(data),
        "test": portable(test),
        "before": {"designs": rounds[0]["designs"], "test": rounds[0]["test"]},
        "after": {"designs": rounds[-1]["designs"], "test": rounds[-1]["test"]},
        "rounds": rounds,
        "wall_s_this_run": time.perf_counter() - t_start,
    }
    _install(current, out)
    atomic_write_text(out / REPORT, json.dumps(report, indent=1, default=float) + "\n")
    return report


def _check(model: Path, data: Path, test: Path, plan: Plan, device: str) -> dict:
    """Everything refine needs, checked before any work: a ValueError naming the problem.

    Returns:
        The dataset's settings.
    """
    plan.check()
    check_device(device)
    manifest = store.read_manifest(data) if data.is_dir() else None
    if manifest is None:
        raise store.DatasetError(
            f"--data {data} is not a dataset (no {store.MANIFEST}; make one with `dragopt generate`)"
        )
    for m in model_files.member_folders(model):
        model_files.check_compatible(model_files.load_model(m)[1], manifest)
    surrogate = load_surrogate(model)
    for s in plan.starts:  # each start must be one the model can optimise (inside its window)
        try:
            prepare(parse_shape(s), Options(re=[plan.re[0]], limits=Limits(keep_area=True)), surrogate)
        except ValueError as exc:
            raise ValueError(f"start shape {s}: {exc}") from None
    if not (test / store.MANIFEST).is_file():
        raise store.DatasetError(f"--test {test} is not a dataset (no {store.MANIFEST}); give a held-out one")
    return manifest["settings"]


def _keep_plan(work: Path, plan: Plan, model: Path, out: Path) -> None:
    """The plan and start model in work/plan.json; a rerun must bring the same ones."""
    work.mkdir(parents=True, exist_ok=True)
    saved, mine = work / "plan.json", {**asdict(plan), "model": str(model)}
    if saved.is_file() and json.loads(saved.read_text()) != mine:
        raise ValueError(
            f"{out} holds a refine run with another plan or start model ({saved}); "
            "give another --out, or the same arguments to continue it"
        )
    atomic_write_text(saved, json.dumps(mine, indent=1) + "\n")


def _log_round(log: Callable[[str], None], summary: dict, tm: dict, failed: int, n: int) -> None:
    fin, along = summary["final"], summary["along"]
    log(
        f"  Cd error at the {fin['n']} optimised designs: median {_percent(fin, 'median')}, max "
        f"{_percent(fin, 'max')} (along the way: median {_percent(along, 'median')}); test set median "
        f"{100 * tm['cd_rel_err_median']:.3f}%, p95 {100 * tm['cd_rel_err_p95']:.3f}%"
    )
    if failed:
        log(f"  warning: {failed} of {n} designs failed to simulate (a rerun tries again)")


def _new_cases(designs: list[dict], settings: dict, data: Path, round_: int) -> list[dict]:
    """The round's cases, numbered after every sample the dataset holds, as JSON (kept: a rerun reuses
    them)."""
    cases = make_cases(designs, settings, store.next_index(data, FIRST_INDEX), round_)
    return [
        {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in c.items() if k != "settings"}
        for c in cases
    ]


def _install(model: Path, out: Path) -> None:
    """The final model's files into OUT, its card (model.json) last: OUT is a model only when complete."""

    from geometry.io import atomic_write
    from surrogate import ensemble

    if model_files.is_ensemble(model):
        ensemble.assemble(model_files.member_folders(model), out)
        return
    for name in (model_files.WEIGHTS, "coverage.npz", model_files.METRICS, model_files.CARD):
        src = model / name
        if src.is_file():
            atomic_write(out / name, functools.partial(_copy, src))


def _copy(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)


def _percent(summary: dict, key: str) -> str:
    """An error summary's entry as a percentage, '-' when no design was simulated."""
    return f"{100 * summary[key]:.2f}%" if key in summary else "-"
