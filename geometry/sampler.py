"""Random smooth closed bodies for datasets, normalised to D = 1 with the area centroid at the origin, drawn
from a mix of shape families (geometry.families).

The default mix gives the users' bodies about 60 % of the samples, the airfoils the largest share of them
since they vary in the most ways at once (thickness, camber, its position and incidence), the plates and
slender bodies the next: thin bodies at incidence, unlike anything version 1 draws.
The B-splines keep the largest share of the rest, since the optimiser's designs are B-splines and the
surrogate must cover them; every other family keeps a few percent, enough to be learnt.

A sample depends only on (seed, index): samples can be drawn in any order, in parallel, and again after a
kill. Every sample is valid (geometry.validity), resampled to a fixed number of points, thick enough, and
passes the caller's `accept` test (the surrogate's window). A rejected draw is drawn again from the same
generator. A mix of version 1's families only draws exactly what version 1 drew, so its datasets can be
redrawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from geometry import properties
from geometry.errors import ShapeError
from geometry.families import FAMILIES, VERSION1_FAMILIES, Family, place_v1
from geometry.outlines import POINTS, canonical, incline, resample

__all__ = ["FAMILIES", "POINTS", "canonical", "draw", "draw_from", "incline", "resample"]

VERSION = 2  # bump when a family's recipe changes: datasets record it
DEFAULT_MIX = {
    "bspline": 0.2,
    "ellipse": 0.04,
    "naca": 0.05,
    "rect": 0.04,
    "fourier": 0.04,
    "lens": 0.04,
    "airfoil": 0.22,
    "plate": 0.1,
    "slender": 0.09,
    "torpedo": 0.07,
    "lobed": 0.06,
    "bumpy": 0.05,
}
# in D: admits a 4 % plate (0.18 D thick); 2.4 cells at the dataset resolution (16 cells per D)
MIN_THICKNESS = 0.15
MAX_TRIES = 200


@dataclass(frozen=True)
class Sample:
    """One drawn body: its place in the stream, its family and the parameters it was drawn with."""

    index: int
    family: str
    params: dict[str, Any]
    # (POINTS, 2), counter-clockwise, D = 1, centroid at the origin, first point at the nose
    points: np.ndarray


def check_mix(
    mix: dict[str, float], families: Iterable[str] = FAMILIES, kind: str = "shape"
) -> dict[str, float]:
    """Normalised weights of `families` (this sampler's by default; geometry.heldout passes its own and
    kind "held-out"), or ShapeError naming the unknown family or bad weight."""
    names = list(families)
    unknown = sorted(set(mix) - set(names))
    if unknown:
        raise ShapeError(f"unknown {kind} families {unknown}; allowed: {', '.join(names)}")
    if any(not (w >= 0 and math.isfinite(w)) for w in mix.values()) or sum(mix.values()) <= 0:
        what = "family weights" if kind == "shape" else f"{kind} family weights"
        raise ShapeError(f"{what} must be non-negative with a positive sum; got {mix}")
    total = math.fsum(mix.values())  # exact: the same weights (and dataset hash) on every Python
    return {k: round(float(w) / total, 12) for k, w in mix.items() if w > 0}


def admit(
    points: np.ndarray,
    n_points: int = POINTS,
    min_thickness: float = MIN_THICKNESS,
    accept: Callable[[np.ndarray], bool] | None = None,
) -> np.ndarray | None:
    """A drawn outline as a dataset stores it (canonical), or None when it is invalid, thinner than
    min_thickness or refused by accept: the draw is then drawn again."""
    try:
        pts = canonical(points, n_points)
    except ShapeError:
        return None
    if float(properties.thickness(pts)) < min_thickness or (accept is not None and not accept(pts)):
        return None
    return pts


def _generator_version(weights: dict[str, float]) -> int:
    """The version whose generator a mix draws from: version 1's for a mix of its families only (their recipes
    are unchanged, so it draws what version 1 drew), else this one's."""
    return 1 if set(weights) <= set(VERSION1_FAMILIES) else VERSION


def draw(
    seed: int,
    index: int,
    mix: dict[str, float] | None = None,
    accept: Callable[[np.ndarray], bool] | None = None,
    n_points: int = POINTS,
    min_thickness: float = MIN_THICKNESS,
) -> Sample:
    """The sample `index` of the stream `seed`: the same arguments give the same shape, on any machine."""
    weights = check_mix(mix or DEFAULT_MIX)
    rng = np.random.default_rng([int(seed), int(index), _generator_version(weights)])
    drawn = draw_from(rng, weights, FAMILIES, n_points, min_thickness, accept, place_v1, VERSION1_FAMILIES)
    if drawn is None:
        raise ShapeError(
            f"no acceptable shape in {MAX_TRIES} draws for seed {seed}, index {index}: the mix {weights} "
            "cannot fit the window with the minimum thickness; loosen them"
        )
    return Sample(int(index), *drawn)


def draw_from(
    rng: np.random.Generator,
    weights: dict[str, float],
    families: dict[str, Family],
    n_points: int,
    min_thickness: float,
    accept: Callable[[np.ndarray], bool] | None,
    place: Callable[[np.ndarray, dict, str, np.random.Generator], tuple[np.ndarray, dict]] | None = None,
    placed: Iterable[str] = (),
) -> tuple[str, dict, np.ndarray] | None:
    """(family, params, points) of the first admitted body among MAX_TRIES drawn from `rng` (a family by its
    weight, then its recipe; `place` then positions the bodies of the `placed` families); None if none was."""
    names = sorted(weights)
    for _ in range(MAX_TRIES):
        family = names[int(rng.choice(len(names), p=[weights[k] for k in names]))]
        try:
            raw, params = families[family](rng)
        except ShapeError:
            continue
        if place is not None and family in placed:
            raw, params = place(raw, params, family, rng)
        pts = admit(raw, n_points, min_thickness, accept)
        if pts is not None:
            return family, params, pts
    return None
