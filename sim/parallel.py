"""Many cases in parallel: the executors `run_local` (one process a core on this machine) and `run_ray` (a
local Ray instance or a cluster), and `simulate_many(shapes, re_values, workers=K)` on top of the local one.

Both executors take a function and its tasks and yield (task, result) as cases finish; a case whose worker
dies (out of memory, a crash in the solver library, a kill) comes back as a RuntimeError naming that, and the
batch goes on. The local executor is concurrent.futures' process pool with three additions: its workers end
when the driver dies (no orphans holding their memory), they ignore Ctrl+C (the driver stops them), and a pool
broken by a dying worker is restarted, the cases that were in flight then run one at a time so that only the
one that kills its worker is recorded as failed.

With `results_path`, simulate_many appends each finished case to a JSON-lines file (flushed and synced), and a
rerun skips the cases already there: a killed batch loses only the cases in flight.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

EXECUTORS = ("local", "ray")


def _init_worker(threads: int, parent: int) -> None:
    for var in ("MKL_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver handles Ctrl+C and stops the workers

    def watch():  # end with the driver, however it ends (a SIGKILL included)
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
    import torch

    torch.set_num_threads(threads)


def _death(procs: list) -> str:
    """Why a worker died, as far as the exit codes of the pool's processes tell."""
    deadline = time.monotonic() + 10  # a loaded machine can take seconds to reap a killed worker
    for p in procs:
        p.join(timeout=max(0.1, deadline - time.monotonic()))
    codes = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
    for c in codes:
        if c < 0:
            name = signal.Signals(-c).name if -c in signal.Signals._value2member_map_ else str(-c)
            hint = " (out of memory, or killed)" if -c == signal.SIGKILL else ""
            return f"worker process died of signal {name}{hint}"
    if codes:
        return f"worker process died with exit code {codes[0]} (a crash in the solver library?)"
    return "worker process died abruptly"


def run_local(
    fn: Callable, tasks: Iterable[Any], workers: int, threads: int = 1
) -> Iterator[tuple[Any, Any]]:
    """Yield (task, fn(task)) in completion order; (task, RuntimeError(reason)) when its worker died."""
    todo = list(tasks)[::-1]  # a stack: pop() takes them in the given order
    suspects: list[Any] = []

    def new_pool(n):
        return ProcessPoolExecutor(
            n, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(threads, os.getpid())
        )

    pool = new_pool(workers)
    try:
        while todo or suspects:
            if suspects:  # after a crash: the cases that were in flight, one at a time in a fresh worker
                pool.shutdown(wait=False, cancel_futures=True)
                pool = new_pool(1)
                while suspects:
                    task = suspects.pop()
                    fut = pool.submit(fn, task)
                    # the pool forgets its processes when it breaks
                    procs = list(getattr(pool, "_processes", {}).values())
                    try:
                        yield task, fut.result()
                    except BrokenProcessPool:
                        yield task, RuntimeError(_death(procs))
                        pool.shutdown(wait=False, cancel_futures=True)
                        pool = new_pool(1)
                pool.shutdown(wait=True)
                pool = new_pool(workers)
            pending: dict[Any, Any] = {}  # future -> task
            try:
                while todo and len(pending) < 2 * workers:
                    t = todo.pop()
                    pending[pool.submit(fn, t)] = t
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        try:
                            res = fut.result()
                        except BrokenProcessPool:
                            raise
                        # the function raised: that case's result, not the batch's end
                        except Exception as exc:
                            res = exc
                        yield pending.pop(fut), res
                        if todo:
                            t = todo.pop()
                            pending[pool.submit(fn, t)] = t
            except BrokenProcessPool:
                suspects = list(pending.values())[::-1]
                pending = {}
    finally:
        _stop(pool)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what is queued and end the workers now (a case in flight is lost, and rerun on resume)."""
    procs = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=5)


def run_ray(
    fn: Callable, tasks: Iterable[Any], workers: int | None, address: str | None = None
) -> Iterator[tuple[Any, Any]]:
    """The same on Ray: a local instance of `workers` CPUs, or the cluster at `address` (then every node needs
    dragopt installed). A case whose worker dies comes back as a failure; Ray does not retry it."""
    try:
        import ray
    except ImportError:
        raise RuntimeError("the ray executor needs Ray: pip install 'ray>=2.9'") from None
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    started = not ray.is_initialized()
    if started:
        kwargs: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "configure_logging": False,
        }
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=workers, **kwargs)
    remote = ray.remote(num_cpus=1, max_retries=0)(fn)
    todo = list(tasks)[::-1]
    cap = 2 * (workers or int(ray.cluster_resources().get("CPU", 1)))
    pending: dict = {}
    try:
        while todo or pending:
            while todo and len(pending) < cap:
                t = todo.pop()
                pending[remote.remote(t)] = t
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                task = pending.pop(ref)
                try:
                    yield task, ray.get(ref)
                except ray.exceptions.RayError as exc:  # worker crashed, node died, task error
                    yield (
                        task,
                        RuntimeError(f"Ray task failed: {type(exc).__name__}: {str(exc).splitlines()[0]}"),
                    )
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()


def _run_one(index: int, points: np.ndarray, re: float, options: dict) -> dict:
    from geometry.shape import Shape
    from sim.solver import simulate

    head = {"index": index, "re": re, "case": case_key(points, re, options)}
    try:
        result = simulate(Shape.from_points(points), re, **options)
        return {**head, "ok": True, **result.to_dict()}
    # ShapeError, SetupError, SimulationError, or anything else: one case, not the batch
    except Exception as exc:
        return {**head, "ok": False, "error": f"{type(exc).__name__}: {exc}"}


def _run_task(task: tuple) -> dict:
    return _run_one(*task)


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
    **options: Any,
) -> Iterator[dict[str, Any]]:
    """Yield one record per case (index, re, ok, coefficients or error), in completion order.

    shapes: Shape objects or (n, 2) point arrays (normalised to D = 1 here). options go to
    sim.solver.simulate.
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
                f"{results_path} holds results of a different batch (case {i} differs); "
                "use a new results file"
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
        tasks = [(i, pts[i], float(re_values[i]), options) for i in todo]
        for task, rec in run_local(_run_task, tasks, workers, threads_per_worker):
            if isinstance(rec, BaseException):
                i, p, re, _ = task
                rec = {"index": i, "re": re, "case": case_key(p, re, options), "ok": False, "error": str(rec)}
            if out is not None:
                out.write(json.dumps(rec, default=float) + "\n")
                out.flush()
                os.fsync(out.fileno())
            yield rec
    finally:
        if out is not None:
            out.close()
