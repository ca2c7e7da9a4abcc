"""Helpers shared by the tests."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def error_line(capsys) -> str:
    """The single stderr line of a failed command (no traceback, nothing else)."""
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("dragopt: error: ")
    return lines[0]


def benchmark(name: str) -> ModuleType:
    """A script of benchmarks/ as a module (e.g. "split": its lens_points and richardson)."""
    folder = str(ROOT / "benchmarks")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(name)


def pitched_naca_body() -> np.ndarray:
    """A cambered, pitched NACA 2412 (no symmetry to hide a sign error) in clockwise order: the reader
    must turn it."""
    from geometry.presets import naca4_points

    a = np.deg2rad(8.0)
    rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    return (naca4_points("2412") @ rot)[::-1]


def lens(h: float):
    """benchmarks/split.py's lens of two circular arcs of height h (pointed ends) as a Shape named lens:h."""
    from geometry.shape import Shape

    return Shape.from_points(benchmark("split").lens_points(h), f"lens:{h}")
