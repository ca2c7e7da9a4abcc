"""The cost of one update of a method, measured in a process of its own
(`python -m surrogate.compare_worker`).

A fresh process reads one shard, builds the network and a batch, takes one update to warm up, then times
`updates` more. `update_mb` is the highest resident memory during the timed updates (sampled every 2 ms) above
the resident memory just before them: what an update allocates on top of the model, optimiser and batch.
Prints one JSON line: update_s, peak_mb, update_mb.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import torch

from surrogate.datasets import store
from surrogate.model import Config, Surrogate
from surrogate.splits import Batch, stored_outputs, stored_readouts
from surrogate.train import TrainConfig, update


def _rss() -> int:
    """This process's resident memory in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(
    shard: Path,
    method: str,
    base: int,
    batch: int,
    updates: int,
    outputs: str = "drag",
    window: dict | None = None,
) -> dict[str, float]:
    """Seconds and memory per update of `method` on the first `batch` good samples of `shard`."""
    a = store.read_shard(shard)
    r = np.flatnonzero(a["ok"])[:batch]
    m = Surrogate(Config(base=base, window=window) if window else Config(base=base))
    re = torch.as_tensor(a["re"][r], dtype=torch.float32)
    inp = m.inputs(torch.as_tensor(a["points"][r], dtype=torch.float32), re)
    ro = stored_readouts(a, r, m.window) if outputs == "all" else None
    b = Batch(inp, torch.as_tensor(a["fields"][r]), re, stored_outputs(a, r), ro)
    del a
    cfg = TrainConfig(method=method, base=base, outputs=outputs)
    opt = torch.optim.Adam(m.net.parameters(), lr=1e-5)
    update(cfg.method, m, opt, cfg, b, 1e-5)  # warm-up
    gc.collect()
    before, high, running = _rss(), [0], [True]

    def watch() -> None:
        while running[0]:
            high[0] = max(high[0], _rss())
            time.sleep(0.002)

    w = threading.Thread(target=watch)
    w.start()
    t = time.perf_counter()
    for _ in range(updates):
        update(cfg.method, m, opt, cfg, b, 1e-5)
    dt = (time.perf_counter() - t) / updates
    running[0] = False
    w.join()
    return {"update_s": dt, "peak_mb": high[0] / 2**20, "update_mb": (high[0] - before) / 2**20}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shard", type=Path, required=True)
    p.add_argument("--method", required=True)
    p.add_argument("--base", type=int, required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--updates", type=int, default=5)
    p.add_argument("--outputs", default="drag")
    p.add_argument(
        "--window", type=json.loads, help="the dataset's window (JSON; default: the default window)"
    )
    a = p.parse_args()
    print(json.dumps(measure(a.shard, a.method, a.base, a.batch, a.updates, a.outputs, a.window)))


if __name__ == "__main__":
    main()
