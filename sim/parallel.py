"""Many cases in parallel processes: `simulate_many(shapes, re_values, workers=K)`.

Results stream back as cases finish. With `results_path`, each finished case is appended to a JSON-lines file
(flushed and synced), and a rerun skips the cases already there: a killed batch loses only the cases in flight.
A case that fails (bad shape, divergence) is reported with its error; it does not stop the batch.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

import numpy as np


def _init_worker(threads: int) -> None:
    for var in ("MKL_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch

    torch.set_num_threads(threads)


def _run_one(index: int, points: np.ndarray, re: float, options: dict) -> dict:
    from geometry.shape import Shape
    from sim.solver import simulate

    head = {"index": index, "re": re, "case": case_key(points, re, options)}
    try:
        result = simulate(Shape.from_points(points), re, **options)
        return {**head, "ok": True, **result.to_dict()}
    except (
        Exception
    ) as exc:  # ShapeError, SetupError, SimulationError, or anything else: one case, not the batch
        return {**head, "ok": False, "error": f"{type(exc).__name__}: {exc}"}


def case_key(points: np.ndarray, re: float, options: dict) -> str:
    """A fingerprint of a case, so a resumed batch never takes another batch's result for its own."""
    h = hashlib.sha1(np.ascontiguousarray(points, dtype=float).tobytes())
    h.update(json.dumps({"re": float(re), **{k: str(v) for k, v in sorted(options.items())}}).encode())
    return h.hexdigest()[:16]


def load_results(path: str | Path) -> dict[int, dict]:
    """Finished cases of a results file; a torn last line (killed mid-write) is ignored."""
    done = {}
    path = Path(path)
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
                done[int(rec["index"])] = rec
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
    return done


def simulate_many(
    shapes: Sequence,
    re_values: Sequence[float],
    workers: int = 2,
    results_path: str | Path | None = None,
    threads_per_worker: int = 1,
    **options,
) -> Iterator[dict]:
    """Yield one record per case (index, re, ok, coefficients or error), in completion order.

    shapes: Shape objects or (n, 2) point arrays (normalised to D = 1 here). options go to sim.solver.simulate.
    """
    if len(shapes) != len(re_values):
        raise ValueError(
            f"got {len(shapes)} shapes but {len(re_values)} Reynolds numbers; give one per shape"
        )
    if workers < 1:
        raise ValueError(f"workers must be at least 1; got {workers}")
    pts = [np.asarray(getattr(s, "points", s), dtype=float) for s in shapes]
    done = load_results(results_path) if results_path else {}
    for i, rec in done.items():
        if i >= len(shapes) or rec.get("case") != case_key(pts[i], float(re_values[i]), options):
            raise ValueError(
                f"{results_path} holds results of a different batch (case {i} differs); use a new results file"
            )
    todo = [i for i in range(len(shapes)) if i not in done]
    out = None
    if results_path:
        Path(results_path).parent.mkdir(parents=True, exist_ok=True)
        with open(results_path, "a+b") as f:  # end a torn last line so appends start on a fresh line
            f.seek(0, os.SEEK_END)
            if f.tell() > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    f.write(b"\n")
        out = open(results_path, "a")
    try:
        with ProcessPoolExecutor(
            workers, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(threads_per_worker,)
        ) as pool:
            pending = set()
            queue = iter(todo)
            for i in queue:  # keep at most 2 cases a worker queued, so a kill loses little
                pending.add(pool.submit(_run_one, i, pts[i], float(re_values[i]), options))
                if len(pending) >= 2 * workers:
                    break
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    rec = fut.result()
                    if out is not None:
                        out.write(json.dumps(rec, default=float) + "\n")
                        out.flush()
                        os.fsync(out.fileno())
                    yield rec
                    nxt = next(queue, None)
                    if nxt is not None:
                        pending.add(pool.submit(_run_one, nxt, pts[nxt], float(re_values[nxt]), options))
    finally:
        if out is not None:
            out.close()
