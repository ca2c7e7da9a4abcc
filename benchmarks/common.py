"""Shared helpers of the benchmark scripts: where each writes its JSON, JSON writing, peak memory."""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks"  # committed results, quoted by the docs
OUT = ROOT / "benchmarks" / "out"  # results docs/validation.md reads from here (not committed)
sys.path.insert(0, str(ROOT))

# Each benchmark's default output: the file the docs quote, so a rerun updates what they cite (no copying
# by hand).
RESULTS = {
    "validation": OUT / "validation.json",  # docs/validation.md (accuracy table)
    "convergence": OUT / "convergence.json",  # docs/validation.md (grid convergence)
    "performance": OUT / "performance.json",  # docs/validation.md (speed and memory)
    "split": OUT / "split.json",  # docs/validation.md (pressure/viscous split)
    "startup": DOCS / "startup_2cores_quiet.json",  # docs/validation.md (start-up)
    "surrogate_speed": DOCS / "surrogate_speed.json",  # docs/surrogate.md
    # docs/datasets.md: generation_2cores.json on the 2-core machine
    "generation": DOCS / f"generation_{os.cpu_count()}cores.json",
    "gradient_cosine": DOCS / "gradient_cosine.json",  # docs/surrogate.md (cosine row)
    "inverse_design": DOCS / "inverse_design.json",  # docs/design-notes.md
    "inverse_speed": DOCS / "inverse_speed.json",  # docs/inverse-design.md (the loop's speed)
    "library_speed": DOCS / "library_speed.json",  # docs/design-notes.md (the design library)
    "app_speed": DOCS / "app_speed.json",  # docs/design-notes.md
    "conditioning": DOCS / "conditioning.json",  # docs/method-comparison.md (spectra)
    "toys": DOCS / "toys.json",  # docs/method-comparison.md (toy problems over seeds)
    "window_choice": DOCS / "window_choice.json",  # docs/design-notes.md (the surrogate's window)
    "slender_convergence": DOCS / "slender_convergence.json",  # docs/validation.md (slender sections)
}


def add_out(ap: argparse.ArgumentParser, name: str) -> None:
    """The --out option of benchmark `name`, defaulting to the file the docs quote."""
    default = RESULTS[name]
    ap.add_argument(
        "--out", type=Path, default=default, help=f"JSON output (default: {default.relative_to(ROOT)})"
    )


def write_json(target: str | Path, data) -> Path:
    """Write `data` to `target`: a path, or a benchmark's name (its default output, RESULTS)."""
    from geometry.io import atomic_write_text

    path = Path(target) if isinstance(target, Path) else RESULTS.get(target, OUT / f"{target}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=2, default=float) + "\n")
    shown = path.resolve()
    print(f"wrote {shown.relative_to(ROOT) if shown.is_relative_to(ROOT) else shown}")
    return path


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
