"""The cases of a dataset: what sample i is (its shape, family and Re, a pure function of the settings and i),
a body from elsewhere as a case, and running a case through the full simulation into the record a shard
stores (its fields on the window, Cp at the stations and the adjoint station sensitivities beside the solve).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from geometry import heldout, sampler
from surrogate.datasets import store
from surrogate.window import Window


def draw_re(seed: int, index: int, re_min: float, re_max: float) -> float:
    rng = np.random.default_rng([int(seed), int(index), 7919])
    return float(np.exp(rng.uniform(math.log(re_min), math.log(re_max))))


def make_case(settings: dict, index: int) -> dict:
    """The task of sample `index`: its shape, family, parameters and Re."""
    import json

    window = Window.from_dict(settings["window"])
    s = settings["sampler"]
    if s.get("name", "training") == "heldout":
        sample = heldout.draw(s["seed"], index, window.holds, s["points"], s["min_thickness"], mix=s["mix"])
    else:
        sample = sampler.draw(s["seed"], index, s["mix"], window.holds, s["points"], s["min_thickness"])
    re = draw_re(s["seed"], index, settings["re"]["min"], settings["re"]["max"])
    return {
        "index": index,
        "family": sample.family,
        "params": json.dumps(sample.params, sort_keys=True),
        "points": sample.points,
        "re": re,
        "scale": window.scale(sample.points),
        "settings": settings,
    }


def body_case(
    points: np.ndarray, re: float, settings: dict, index: int, family: str, params: dict
) -> dict | None:
    """A body from elsewhere (e.g. an optimised design, in any units) as a case of this dataset: its outline
    resampled as the dataset stores bodies (D = 1, centroid at the origin) and Re on its own D.

    Returns:
        The case, or None when the body is not a valid shape or does not fit the dataset's window.
    """
    import json

    from geometry.errors import ShapeError
    from geometry.properties import own_scale
    from geometry.shape import Shape

    try:
        q = sampler.canonical(Shape.from_points(np.asarray(points)).points, settings["sampler"]["points"])
    except ShapeError:
        return None
    window = Window.from_dict(settings["window"])
    if not window.holds(q):
        return None
    _, re_own = own_scale(np.asarray(points, dtype=np.float64), re)
    return {
        "index": index,
        "family": family,
        "params": json.dumps(params, sort_keys=True),
        "points": q,
        "re": float(re_own),
        "scale": window.scale(q),
        "settings": settings,
    }


def run_cases(
    cases: list[dict], folder: Path, workers: int, executor: str = "local", address: str | None = None
) -> Iterator[dict]:
    """The full simulation of every case, on `workers` processes (or Ray tasks), in the order they finish.

    Each record is kept in folder/work before it is yielded, so a killed run resumes without redoing it; a
    case whose worker died yields a failed record with the reason.
    """
    from sim.parallel import run_local, run_ray

    stream = (
        run_ray(simulate_case, cases, workers, address)
        if executor == "ray"
        else run_local(simulate_case, cases, workers)
    )
    for case, rec in stream:
        if isinstance(rec, BaseException):
            rec = failed_record(case, rec)
        store.write_work(folder, rec)
        yield rec


def case_key(case: dict) -> str:
    import hashlib

    h = hashlib.sha256(np.ascontiguousarray(case["points"], dtype=np.float64).tobytes())
    h.update(f"{case['re']!r}|{store.settings_hash(case['settings'])}".encode())
    return h.hexdigest()[:16]


def same_case(record: dict, case: dict) -> bool:
    """Whether a stored record is the sample `case` describes: the same family and Re, and the same points up
    to rounding (another machine's libm may differ in the last bit, 1e-15 D)."""
    return (
        str(record.get("family")) == case["family"]
        and float(record.get("re", np.nan)) == case["re"]
        and np.allclose(record.get("points"), case["points"], rtol=0, atol=1e-12)  # type: ignore[arg-type]
    )


def failed_record(case: dict, exc: BaseException) -> dict:
    """The record of a case whose worker died (out of memory, a crash, a kill): failed, with the reason."""
    rec = {k: case[k] for k in ("index", "family", "params", "points", "re")}
    rec["scale"] = float(case.get("scale", 1.0))  # cases cached before bodies were rescaled have none
    rec.update(case=case_key(case), ok=False, error=f"{type(exc).__name__}: {exc}")
    return rec


def simulate_case(case: dict) -> dict:
    """Run one case (in a worker): the record to store, or a failure with its reason. Never raises."""
    from geometry.shape import Shape
    from sim.adjoint import station_sensitivities
    from sim.fields import sample
    from sim.solver import simulate

    st = case["settings"]
    rec = {k: case[k] for k in ("index", "family", "params", "points", "re")}
    rec["scale"] = float(case.get("scale", 1.0))  # cases cached before bodies were rescaled have none
    rec["case"] = case_key(case)
    try:
        sol = st["solver"]
        res = simulate(
            Shape.from_points(case["points"]),
            case["re"],
            sol["resolution"],
            sol["box"],
            penalty=sol["penalty"],
            immersed=sol["immersed"],
        )
        w = Window.from_dict(st["window"]).scaled(rec["scale"])
        f = sample(res, w.cells, w.extent)
        d = res.to_dict()
        rec.update({k: d[k] for k in store.SCALARS if k in d})
        rec.update(steps=res.steps, factorisations=res.factorisations)
        rec["fields"] = np.stack([f["u"], f["v"], f["p"]]).astype(np.float32)
        rec["cp"] = np.asarray(res.cp, dtype=np.float32)
        rec["stations"] = np.asarray(res.stations, dtype=np.float32)
        t = time.perf_counter()  # the adjoint beside the Newton solve's factorisation
        rec["sensitivity"] = station_sensitivities(res, len(res.stations)).astype(np.float32)
        rec["sensitivity_s"] = time.perf_counter() - t
        rec["ok"] = bool(np.all(np.isfinite(rec["fields"])) and math.isfinite(res.cd))
        rec["error"] = "" if rec["ok"] else "non-finite fields or forces"
    except Exception as exc:  # one case, not the batch: ShapeError, SimulationError, anything else
        rec.update(ok=False, error=f"{type(exc).__name__}: {' '.join(str(exc).split())}")
    return rec
