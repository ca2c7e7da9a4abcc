"""The sampler's shape families: each a recipe that draws one raw outline and its parameters from a generator.

Version 1's families cover what the optimiser produces: CCHT21's recipe, a closed curve through random points
in angular sectors (here a closed cubic B-spline of random control points, optionally with a repeated control
point, which gives a pointed tail or nose); beside it ellipses, NACA 4-digit sections, rounded rectangles,
Fourier-radius bodies and lenses: pointed tails and fronts, slender bodies, mild concavity. Each is stretched,
turned and mirrored at random within limits (`place_v1`).

Version 2 adds the bodies users bring, each placed in the flow by its own recipe (nose at -x, the flow along
+x, "incidence" the angle of attack in degrees, nose up positive): NACA sections at incidence ("airfoil"),
thin rounded flat plates ("plate"), thin lenses and ellipses ("slender"), sections of bodies of revolution
("torpedo"), clearly non-convex wavy and lobed outlines ("lobed") and bodies with bumps, dents and blunt
trailing edges ("bumpy").

A recipe's draws must never change (datasets are redrawn from their seeds): a changed recipe is a new
geometry.sampler.VERSION.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from geometry import presets, properties
from geometry.errors import ShapeError
from geometry.outlines import incline, polygon_outline, resample, turn
from geometry.parametrisations import bspline_points, fourier_points
from geometry.validity import validate_points

DENSE = 720  # points of the outlines that families build before canonical() resamples them

Family = Callable[[np.random.Generator], tuple[np.ndarray, dict]]


# ------------------------------------------------------------------------ version 1: placed by place_v1()


def _bspline(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    n = int(rng.integers(4, 9))
    phi = 2 * np.pi * (np.arange(n) + rng.uniform(-0.3, 0.3, n)) / n
    r = rng.uniform(0.35, 1.0, n)
    ctrl = np.stack([r * np.cos(phi), r * np.sin(phi)], 1)
    sharp: list[int] = []
    # a pointed tail (or nose, if mirrored below): a control point repeated three times
    if rng.random() < 0.4:
        k = int(np.argmax(ctrl[:, 0]))
        sharp = [k]
        ctrl = np.concatenate([ctrl[:k], ctrl[k : k + 1].repeat(3, 0), ctrl[k + 1 :]])
    pts = bspline_points(torch.as_tensor(ctrl), 24).numpy()
    return pts, {"control": ctrl.round(6).tolist(), "sharp": sharp}


def _ellipse(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    ar = float(np.exp(rng.uniform(np.log(0.4), np.log(5.0))))
    return presets.ellipse_points(ar, 512), {"aspect": ar}


def _naca(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    t = int(rng.integers(16, 41))
    if rng.random() < 0.5:
        code = f"00{t:02d}"
    else:
        code = f"{int(rng.integers(1, 7))}{int(rng.integers(2, 7))}{t:02d}"
    return presets.naca4_points(code, 257), {"code": code}


def _rect(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    ar = float(np.exp(rng.uniform(np.log(0.4), np.log(3.0))))
    radius = float(rng.uniform(0.1, 0.5))
    return presets.rounded_rect_points(ar, radius, 512), {"aspect": ar, "radius": radius}


def _fourier(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    k = int(rng.integers(2, 6))
    a = rng.normal(0, 0.12, k) / np.arange(1, k + 1)
    b = rng.normal(0, 0.12, k) / np.arange(1, k + 1)
    a[0] = b[0] = 0.0  # k = 1 only shifts the body
    pts = fourier_points(torch.tensor(1.0), torch.as_tensor(a), torch.as_tensor(b), 512).numpy()
    return pts, {"a": a.round(6).tolist(), "b": b.round(6).tolist()}


def _arcs(hu: float, hl: float) -> np.ndarray:
    """Two circular arcs through (-1/2, 0) and (1/2, 0) with heights hu above and hl below: pointed at both
    ends."""
    x = 0.5 * (1 - np.cos(np.linspace(0, np.pi, 129)))[1:-1] - 0.5  # cosine spacing, ends excluded

    def arc(h: float) -> np.ndarray:  # circle through (+-1/2, 0) and (0, h)
        rad = (0.25 + h * h) / (2 * h)
        return np.sqrt(rad * rad - x * x) - (rad - h)

    upper = np.stack([x[::-1], arc(hu)[::-1]], 1)
    lower = np.stack([x, -arc(hl)], 1)
    return np.vstack([[[0.5, 0.0]], upper, [[-0.5, 0.0]], lower])


def _lens(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A lens (_arcs) of random heights, symmetric in most draws."""
    hu = float(rng.uniform(0.08, 0.45))
    hl = hu if rng.random() < 0.6 else float(rng.uniform(0.08, 0.45))
    return _arcs(hu, hl), {"upper": hu, "lower": hl}


def place_v1(raw: np.ndarray, params: dict, family: str, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A version-1 body stretched (B-splines, Fourier bodies), turned and mirrored nose to tail at random."""
    stretch = (
        float(np.exp(rng.uniform(np.log(0.6), np.log(2.0)))) if family in ("bspline", "fourier") else 1.0
    )
    angle = float(rng.uniform(-15, 15)) if rng.random() < 0.4 else 0.0
    mirror = bool(rng.random() < 0.3)  # nose <-> tail
    pts = raw * np.array([stretch, 1.0])
    pts = turn(pts * np.array([-1.0 if mirror else 1.0, 1.0]), angle)
    return pts, {**params, "stretch": stretch, "angle": angle, "mirror": mirror}


# ---------------------------------------------- version 2: each places itself (nose at -x, at incidence)


def _airfoil(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A NACA 4-digit section, 6 to 30 % thick, symmetric or with 1 to 6 % camber at 20 to 60 % of the
    chord, at -10 to 20 degrees incidence."""
    t = int(rng.integers(6, 31))
    code = (
        f"00{t:02d}" if rng.random() < 0.4 else f"{int(rng.integers(1, 7))}{int(rng.integers(2, 7))}{t:02d}"
    )
    incidence = float(rng.uniform(-10, 20))
    return incline(presets.naca4_points(code, 257), incidence), {"code": code, "incidence": incidence}


def _plate_points(t: float, front: float | None, back: float | None) -> np.ndarray:
    """A flat plate of chord 1 (x from 0 to 1) and thickness t; each end semicircular (None) or square with
    corners of the given radius."""
    import shapely

    def end(x0: float, corner: float | None) -> Any:
        if corner is None:
            return shapely.Point(x0 + t / 2, 0.0).buffer(t / 2, quad_segs=32)
        core = shapely.box(x0 + corner, -t / 2 + corner, x0 + t - corner, t / 2 - corner)
        return core.buffer(corner, quad_segs=8)

    middle = shapely.box(t / 2, -t / 2, 1 - t / 2, t / 2)
    return polygon_outline(shapely.union_all([middle, end(0.0, front), end(1 - t, back)]))


def _plate(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A flat plate 4 to 15 % thick with semicircular ends, or either end square with a small corner radius,
    at -10 to 20 degrees incidence."""
    t = float(rng.uniform(0.04, 0.15))
    front, back = (float(rng.uniform(0.1, 0.3)) * t if rng.random() < 0.3 else None for _ in range(2))
    incidence = float(rng.uniform(-10, 20))
    params = {"thickness": t, "front_corner": front, "back_corner": back, "incidence": incidence}
    return incline(_plate_points(t, front, back), incidence), params


def _slender(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """An ellipse or a thin lens of aspect ratio (chord / thickness) 4 to 12, at -10 to 20 degrees
    incidence."""
    aspect = float(np.exp(rng.uniform(np.log(4.0), np.log(12.0))))
    kind: dict[str, Any]
    if rng.random() < 0.5:
        pts, kind = presets.ellipse_points(aspect, DENSE), {"kind": "ellipse"}
    else:
        upper = 0.5 if rng.random() < 0.6 else float(rng.uniform(0.3, 0.7))  # share of the thickness above
        pts, kind = _arcs(upper / aspect, (1 - upper) / aspect), {"kind": "lens", "upper_share": upper}
    incidence = float(rng.uniform(-10, 20))
    return incline(pts, incidence), {**kind, "aspect": aspect, "incidence": incidence}


def _torpedo_points(
    length: float, nose: float, tail: float, power: float, end: str, base: float
) -> np.ndarray:
    """The section of a body of revolution of thickness 1 with its nose at x = 0: an elliptic nose `nose`
    long, a straight mid-body and a tail r = base + (1/2 - base) (1 - s^power) (s from 0 to 1 along the
    tail), ending pointed (base 0), in a flat base or in a semicircular one of radius `base`."""
    theta = np.linspace(0.0, np.pi / 2, 49)
    front = np.stack([nose * (1 - np.cos(theta)), 0.5 * np.sin(theta)], 1)
    s = np.linspace(0.0, 1.0, 97)[1:]
    aft = np.stack([length - tail + s * tail, base + (0.5 - base) * (1 - s**power)], 1)
    upper = np.vstack([front, aft])  # nose to tail, the mid-body the segment between front and aft
    lower = upper[1:] * np.array([1.0, -1.0])
    rear = np.empty((0, 2))
    if end == "pointed":
        lower = lower[:-1]
    elif end == "rounded":
        phi = np.linspace(-np.pi / 2, np.pi / 2, 25)[1:-1]
        rear = np.stack([length + base * np.cos(phi), base * np.sin(phi)], 1)
    return np.vstack([lower, rear, upper[::-1]])


def _torpedo(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A section of a slender body of revolution, fineness (length / thickness) 3 to 10: an elliptic nose, a
    straight mid-body in most draws, a tapered tail ending pointed or in a small flat or rounded base; at -5
    to 10 degrees incidence."""
    fineness = float(rng.uniform(3.0, 10.0))
    nose = min(float(rng.uniform(0.5, 1.5)), 0.3 * fineness)
    tail = float(rng.uniform(0.35, 0.6)) * fineness
    if rng.random() < 0.3:  # no mid-body: the nose and the tail meet at the thickest section
        tail = fineness - nose
    power = float(rng.uniform(1.5, 3.0))
    end = ("pointed", "flat", "rounded")[int(rng.choice(3, p=[0.4, 0.3, 0.3]))]
    base = 0.0 if end == "pointed" else float(rng.uniform(0.05, 0.2))
    incidence = float(rng.uniform(-5, 10))
    params = {
        "fineness": fineness,
        "nose": nose,
        "tail": tail,
        "power": power,
        "end": end,
        "base": base,
        "incidence": incidence,
    }
    return incline(_torpedo_points(fineness, nose, tail, power, end, base), incidence), params


def _lobed(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A Fourier-radius body with a main mode of 2 to 8 lobes, one to four times as strong as the largest
    amplitude that keeps it convex, and up to two weaker modes, lobes pointing any way (random phases),
    stretched 1 to 3 times along the flow; its radius stays at least 0.35 of the mean."""
    main = int(rng.integers(2, 9))
    others = rng.choice([k for k in range(2, 9) if k != main], int(rng.integers(0, 3)), replace=False)
    modes = np.array([main, *others], dtype=int)
    # a single mode k of amplitude e stays convex while e < 1 / (k^2 + 1)
    strength = np.concatenate([[rng.uniform(1.0, 4.0)], rng.uniform(0.0, 1.0, len(others))])
    amplitude = strength / (modes**2 + 1)
    phase = rng.uniform(0.0, 2 * np.pi, len(modes))
    phi = 2 * np.pi * np.arange(DENSE) / DENSE
    wave = np.cos(modes[None, :] * phi[:, None] - phase[None, :]) @ amplitude
    amplitude = amplitude * min(1.0, 0.65 / -float(wave.min()))  # radius at least 0.35
    r = 1.0 + np.cos(modes[None, :] * phi[:, None] - phase[None, :]) @ amplitude
    stretch = float(rng.uniform(1.0, 3.0))
    params = {
        "modes": modes.tolist(),
        "amplitudes": amplitude.round(6).tolist(),
        "phases": phase.round(6).tolist(),
        "stretch": stretch,
    }
    return np.stack([stretch * r * np.cos(phi), r * np.sin(phi)], 1), params


def _unit_chord(p: np.ndarray) -> np.ndarray:
    """The outline scaled and moved to x from 0 to 1."""
    return (p - np.array([p[:, 0].min(), 0.0])) / float(np.ptp(p[:, 0]))


def _bumps(p: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
    """1 to 3 Gaussian bumps (outward) or dents (inward) along the normal of an outline of chord 1 (x from 0
    to 1), centred 8 to 85 % of the chord from the nose on either side; a dent takes at most 40 % of the
    local thickness, so the body stays whole."""
    p = resample(validate_points(p), DENSE)  # evenly spaced, counter-clockwise, a sharp tail kept
    tangent = np.roll(p, -1, 0) - np.roll(p, 1, 0)
    tangent /= np.linalg.norm(tangent, axis=1)[:, None]
    normal = np.stack([tangent[:, 1], -tangent[:, 0]], 1)  # outward, the outline being counter-clockwise
    up = normal[:, 1] > 0
    edge = np.linalg.norm(np.roll(p, -1, 0) - p, axis=1)
    s, total = np.concatenate([[0.0], np.cumsum(edge)[:-1]]), float(edge.sum())
    thick = float(properties.thickness(p))
    shift = np.zeros(len(p))
    bumps = []
    for _ in range(int(rng.integers(1, 4))):
        x = float(rng.uniform(0.08, 0.85))
        side = "upper" if rng.random() < 0.5 else "lower"
        here = int(np.argmin(np.where(up == (side == "upper"), np.abs(p[:, 0] - x), np.inf)))
        there = int(np.argmin(np.where(up != (side == "upper"), np.abs(p[:, 0] - x), np.inf)))
        width = float(rng.uniform(0.02, 0.08))
        height = float(rng.uniform(0.1, 0.35)) * thick
        if rng.random() < 0.4:
            height = -min(height, 0.4 * abs(float(p[here, 1] - p[there, 1])))
        gap = np.abs(s - s[here])
        shift += height * np.exp(-0.5 * (np.minimum(gap, total - gap) / width) ** 2)
        bumps.append({"x": x, "side": side, "width": width, "height": height})
    return p + shift[:, None] * normal, bumps


def _blunt(p: np.ndarray, cut: float, rounded: bool) -> np.ndarray:
    """The outline (nose at x = 0) cut at x = cut and closed there by a flat base, or by a semicircular one
    bulging aft."""
    import shapely

    body = shapely.Polygon(p)
    if not body.is_valid:
        raise ShapeError("the bumped outline intersects itself")
    lo, hi = body.bounds[1] - 1.0, body.bounds[3] + 1.0
    kept = body.intersection(shapely.box(-1.0, lo, cut, hi))
    if rounded:
        y0, _, y1 = body.intersection(shapely.LineString([(cut, lo), (cut, hi)])).bounds[1:]
        cap = shapely.Point(cut, 0.5 * (y0 + y1)).buffer(0.5 * (y1 - y0), quad_segs=16)
        kept = kept.union(cap.intersection(shapely.box(cut, lo, cut + 1.0, hi)))
    return polygon_outline(kept)


def _bumpy(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """An ellipse, NACA section or lens with bumps and dents (_bumps); its trailing edge as drawn (sharp but
    for the ellipse) in half the draws, else cut at 85 to 97 % of the chord and closed by a flat or rounded
    base; at -10 to 20 degrees incidence."""
    base = ("ellipse", "naca", "lens")[int(rng.integers(3))]
    shape: dict[str, Any]
    if base == "ellipse":
        aspect = float(np.exp(rng.uniform(np.log(1.5), np.log(5.0))))
        raw, shape = presets.ellipse_points(aspect, DENSE), {"aspect": aspect}
    elif base == "naca":
        t = int(rng.integers(10, 25))
        code = (
            f"00{t:02d}"
            if rng.random() < 0.5
            else f"{int(rng.integers(1, 7))}{int(rng.integers(2, 7))}{t:02d}"
        )
        raw, shape = presets.naca4_points(code, 361), {"code": code}
    else:
        aspect = float(rng.uniform(3.0, 8.0))
        raw, shape = _arcs(0.5 / aspect, 0.5 / aspect), {"aspect": aspect}
    pts, bumps = _bumps(_unit_chord(raw), rng)
    edge = ("as drawn", "flat", "rounded")[int(rng.choice(3, p=[0.5, 0.25, 0.25]))]
    cut = None if edge == "as drawn" else float(rng.uniform(0.85, 0.97))
    if cut is not None:
        pts = _blunt(pts, cut, edge == "rounded")
    incidence = float(rng.uniform(-10, 20))
    params = {
        "base": base,
        **shape,
        "bumps": bumps,
        "trailing_edge": edge,
        "cut": cut,
        "incidence": incidence,
    }
    return incline(pts, incidence), params


VERSION1_FAMILIES = ("bspline", "ellipse", "naca", "rect", "fourier", "lens")
FAMILIES: dict[str, Callable[[np.random.Generator], tuple[np.ndarray, dict]]] = {
    "bspline": _bspline,
    "ellipse": _ellipse,
    "naca": _naca,
    "rect": _rect,
    "fourier": _fourier,
    "lens": _lens,
    "airfoil": _airfoil,
    "plate": _plate,
    "slender": _slender,
    "torpedo": _torpedo,
    "lobed": _lobed,
    "bumpy": _bumpy,
}
