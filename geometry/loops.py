"""Pieces of outline (polylines read from a DXF or SVG file) joined end to end into closed loops.

Drawings hold an outline as one closed polyline or as many open pieces (LINEs and ARCs, path segments) whose
ends meet within the drawing's precision. The readers flatten every piece to points, then ask `one_loop` for
the single closed outline a shape needs; anything else (several loops, an open chain, nothing) is a ShapeError
naming what was found, so a user knows what to fix in the drawing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geometry.errors import ShapeError

# Ends closer than this fraction of the drawing's size are the same point (CAD files store ends to about 1e-12
# of their size; hand-made drawings snapped to a grid are exact).
JOIN_TOLERANCE = 1e-6


@dataclass
class Chains:
    loops: list[np.ndarray]  # closed outlines, last point not repeated
    open: list[np.ndarray]  # chains whose ends do not meet
    tolerance: float  # absolute joining tolerance used


def drawing_size(pieces: list[np.ndarray]) -> float:
    """Largest extent of all the pieces' points (1 for an empty drawing)."""
    if not pieces:
        return 1.0
    p = np.concatenate(pieces)
    return max(float(np.ptp(p[:, 0])), float(np.ptp(p[:, 1])), 1e-300)


def join(pieces: list[np.ndarray], tolerance: float) -> Chains:
    """Join (n_i, 2) polylines whose ends meet within `tolerance` into chains; chains whose two ends meet are
    loops.

    Greedy: each chain grows at its end, then at its start, by the unused piece whose nearer end is closest.
    """
    pieces = [np.asarray(p, dtype=float) for p in pieces if len(p) >= 2]
    used = np.zeros(len(pieces), dtype=bool)
    starts = np.array([p[0] for p in pieces]).reshape(-1, 2)
    ends = np.array([p[-1] for p in pieces]).reshape(-1, 2)
    loops, chains = [], []

    def grow(chain: list[np.ndarray]) -> list[np.ndarray]:
        while not _meets(chain[0][0], chain[-1][-1], tolerance) and not used.all():
            tip = chain[-1][-1]
            d_start = np.where(used, np.inf, np.linalg.norm(starts - tip, axis=1))
            d_end = np.where(used, np.inf, np.linalg.norm(ends - tip, axis=1))
            i_s, i_e = int(np.argmin(d_start)), int(np.argmin(d_end))
            if min(d_start[i_s], d_end[i_e]) > tolerance:
                break
            i, flip = (i_s, False) if d_start[i_s] <= d_end[i_e] else (i_e, True)
            used[i] = True
            piece = pieces[i][::-1] if flip else pieces[i]
            chain.append(piece[1:])  # its first point is the chain's tip
        return chain

    for k in range(len(pieces)):
        if used[k]:
            continue
        used[k] = True
        points = np.concatenate(grow([pieces[k]]))
        if not _meets(points[0], points[-1], tolerance):  # grow the other way too, keeping the direction
            points = np.concatenate(grow([points[::-1]]))[::-1]
        if len(points) >= 4 and _meets(points[0], points[-1], tolerance):
            # zero-length segments are dropped; points closer than the joining tolerance are kept
            # (dense outlines)
            loops.append(_drop_repeats(points[:-1], tolerance * 1e-4))
        else:
            chains.append(points)
    return Chains(loops=loops, open=chains, tolerance=tolerance)


def one_loop(pieces: list[np.ndarray], source: str, what: str) -> np.ndarray:
    """The one closed outline formed by `pieces`, or a ShapeError naming what was found in `source`.

    `what` says in the user's words what the pieces were (e.g. "3 LINE, 1 ARC"), for the messages.
    """
    if not pieces:
        raise ShapeError(f"{source} holds no outline (found {what}); a shape file needs one closed outline")
    tol = JOIN_TOLERANCE * drawing_size(pieces)
    found = join(pieces, tol)
    if len(found.loops) == 1 and not found.open:
        return found.loops[0]
    if len(found.loops) > 1:
        extra = f" and {len(found.open)} open chain(s)" if found.open else ""
        raise ShapeError(
            f"{source} holds {len(found.loops)} closed loops{extra} (from {what}); a shape file must hold "
            "exactly one closed outline: delete the others or put them in another file"
        )
    a, b = found.open[0][0] + 0.0, found.open[0][-1] + 0.0  # + 0.0: no '-0' in the message
    gap = float(np.linalg.norm(b - a))
    extra = f" and {len(found.loops)} closed loop" if found.loops else ""
    n = len(found.open)
    raise ShapeError(
        f"{source} holds {n} open chain{'s' if n > 1 else ''}{extra} (from {what}): the ends "
        f"({a[0]:.6g}, {a[1]:.6g}) and ({b[0]:.6g}, {b[1]:.6g}) are {gap:.3g} apart, more than the joining "
        f"tolerance {tol:.3g}; a shape file must hold exactly one closed outline"
    )


def _meets(a: np.ndarray, b: np.ndarray, tolerance: float) -> bool:
    return bool(np.linalg.norm(a - b) <= tolerance)


def _drop_repeats(points: np.ndarray, tolerance: float) -> np.ndarray:
    """Drop points within `tolerance` of the previous kept point (zero-length segments)."""
    keep = [0]
    for i in range(1, len(points)):
        if np.linalg.norm(points[i] - points[keep[-1]]) > tolerance:
            keep.append(i)
    if len(keep) > 1 and np.linalg.norm(points[keep[-1]] - points[0]) <= tolerance:
        keep.pop()
    return points[keep]
