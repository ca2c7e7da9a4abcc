"""Shared helpers of the benchmark scripts: output folder, JSON writing, peak memory."""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
sys.path.insert(0, str(ROOT))


def write_json(name: str, data) -> Path:
    from geometry.io import atomic_write_text

    path = OUT / f"{name}.json"
    atomic_write_text(path, json.dumps(data, indent=2, default=float) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")
    return path


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
