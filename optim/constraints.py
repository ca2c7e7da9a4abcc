"""The design constraints, as differentiable functions of the outline (torch, lengths in the start shape's D).

Inequalities are written g(points) <= 0 (vectors: one entry per vertex for the curvature bound), the area is
an equality. The centroid is fixed by construction: every backend measures the body about its own centroid,
and the result is returned centred. `check` rejects a set that no body can satisfy, naming the conflict,
before any work.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch

from geometry import properties

AREA = math.pi / 4  # the area of a body of equivalent diameter D = 1


class InfeasibleError(ValueError):
    """Constraints that no body satisfies: the message names the conflict and what would resolve it."""


@dataclass
class Limits:
    keep_area: bool = True  # area fixed at pi/4 (D = 1)
    min_thickness: float | None = None  # largest cross-flow section, at least this
    max_length: float | None = None  # extent along the flow
    max_height: float | None = None  # extent across the flow
    max_curvature: float | None = None  # |curvature| at every vertex, in 1/D (smoothness)
    symmetric: bool = False  # about the flow axis (held by the parametrisation)
    window: float | None = None  # largest |x| or |y| from the centroid, in D (the surrogate's window)
    max_ood: float | None = (
        None  # coverage score bound: stay this near the training shapes (surrogate.coverage)
    )
    chord: float | None = None  # the section's length along x before its incidence, held at this
    min_thickness_ratio: float | None = None  # the section's thickness over its chord, at least this
    coverage: dict | None = field(default=None, repr=False, compare=False)  # the model's training shapes

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "coverage"}


def check(limits: Limits) -> None:
    """Raise InfeasibleError when the limits contradict each other."""
    for name in ("min_thickness", "max_length", "max_height", "max_curvature", "max_ood", "chord"):
        v = getattr(limits, name)
        if v is not None and not (v > 0 and math.isfinite(v)):
            raise InfeasibleError(f"--{name.replace('_', '-')} must be a positive number; got {v}")
    r, c = limits.min_thickness_ratio, limits.chord
    if r is not None and not (0 < r < 1):
        raise InfeasibleError(f"--min-thickness-ratio must be between 0 and 1; got {r}")
    if c is not None and limits.max_length is not None and c > limits.max_length:
        raise InfeasibleError(
            f"--chord {c:g} is longer than --max-length {limits.max_length:g}; shorten the chord or "
            "lengthen the box"
        )
    if c is not None and limits.window is not None and c > 2 * limits.window:
        raise InfeasibleError(
            f"--chord {c:g} does not fit the surrogate's window (a chord of at most "
            f"{2 * limits.window:.2f} D); shorten it, or optimise with the full simulation"
        )
    if c is not None and limits.keep_area and limits.max_height is not None and c * limits.max_height < AREA:
        raise InfeasibleError(
            f"a body of fixed area pi/4 (D = 1) with chord {c:g} needs a height of at least {AREA / c:.3g}, "
            f"above --max-height {limits.max_height:g}; lengthen the chord, raise the height or free the area"
        )
    if r is not None and c is not None and limits.max_height is not None and r * c > limits.max_height:
        raise InfeasibleError(
            f"a thickness of {r:g} x chord {c:g} = {r * c:.3g} is above --max-height {limits.max_height:g}"
        )
    t, L, H = limits.min_thickness, limits.max_length, limits.max_height
    if t is not None and H is not None and t > H:
        raise InfeasibleError(
            f"--min-thickness {t:g} is larger than --max-height {H:g}: no body is both; lower one of them"
        )
    if limits.keep_area and L is not None and H is not None and L * H < AREA:
        raise InfeasibleError(
            f"a body of fixed area pi/4 (D = 1) does not fit in a {L:g} x {H:g} box "
            f"(area {L * H:.3g} < 0.785); enlarge --max-length or --max-height, or drop --keep-area"
        )
    if limits.keep_area and t is not None and limits.window is not None and t > 2 * limits.window:
        raise InfeasibleError(
            f"--min-thickness {t:g} is larger than the surrogate's window ({2 * limits.window:.2f} D)"
        )
    if not limits.keep_area and t is None and L is None and H is None and limits.chord is None:
        raise InfeasibleError(
            "without --keep-area the drag force shrinks with the body: give --min-thickness, --max-length, "
            "--max-height or --chord (something that keeps it from vanishing), or keep the area"
        )


def _curvature(p: torch.Tensor) -> torch.Tensor:
    """Turning angle per vertex over the mean length of its two edges: |curvature| of the polygon, in 1/D."""
    e_in = p - torch.roll(p, 1, 0)
    e_out = torch.roll(p, -1, 0) - p
    cross = e_in[:, 0] * e_out[:, 1] - e_in[:, 1] * e_out[:, 0]
    dot = (e_in * e_out).sum(1)
    turn = torch.atan2(cross, dot)
    return torch.abs(turn) / (0.5 * (torch.linalg.norm(e_in, dim=1) + torch.linalg.norm(e_out, dim=1)))


def equivalent_diameter(p: torch.Tensor) -> torch.Tensor:
    return properties.equivalent_diameter(p)


def inequalities(
    p: torch.Tensor, limits: Limits, flow: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """name -> g (vector), feasible where every entry is <= 0; lengths in the start shape's D.

    p is the section's outline (before its incidence: optim.incidence); `flow` the outline the flow sees (p
    itself when the incidence is fixed), which the window and the training shapes judge."""
    flow = p if flow is None else flow
    g: dict[str, torch.Tensor] = {}
    if limits.min_thickness is not None:
        g["min_thickness"] = (limits.min_thickness - properties.thickness(p)).reshape(1)
    if limits.max_length is not None:
        g["max_length"] = (p[:, 0].max() - p[:, 0].min() - limits.max_length).reshape(1)
    if limits.max_height is not None:
        g["max_height"] = (p[:, 1].max() - p[:, 1].min() - limits.max_height).reshape(1)
    if limits.max_curvature is not None:
        g["max_curvature"] = (_curvature(p) - limits.max_curvature) / limits.max_curvature
    if limits.min_thickness_ratio is not None:
        ratio = properties.thickness(p) / (p[:, 0].max() - p[:, 0].min())
        g["min_thickness_ratio"] = (limits.min_thickness_ratio - ratio).reshape(1)
    if limits.max_ood is not None and limits.coverage is not None:
        from surrogate.coverage import score_torch

        g["in_distribution"] = (score_torch(limits.coverage, flow) - limits.max_ood).reshape(1)
    if limits.window is not None:
        c = properties.centroid(flow)
        reach = torch.abs(flow - c).max() / equivalent_diameter(flow)
        g["window"] = (reach - limits.window).reshape(1)
    return g


def equalities(p: torch.Tensor, limits: Limits) -> dict[str, torch.Tensor]:
    """name -> h (vector), held at 0: the area (pi/4) and the chord of the section p."""
    h: dict[str, torch.Tensor] = {}
    if limits.keep_area:
        h["area"] = (properties.area(p) / AREA - 1.0).reshape(1)
    if limits.chord is not None:
        h["chord"] = ((p[:, 0].max() - p[:, 0].min()) / limits.chord - 1.0).reshape(1)
    return h


def violations(p: torch.Tensor, limits: Limits, flow: torch.Tensor | None = None) -> dict[str, float]:
    """name -> how far each constraint is violated (0 where it holds)."""
    v = {n: float(torch.clamp(g, min=0).max()) for n, g in inequalities(p, limits, flow).items()}
    v.update({n: float(torch.abs(h).max()) for n, h in equalities(p, limits).items()})
    return v


def violation(p: torch.Tensor, limits: Limits, flow: torch.Tensor | None = None) -> float:
    """The largest violation of any constraint (0 when feasible)."""
    return max(violations(p, limits, flow).values(), default=0.0)


def active(p: torch.Tensor, limits: Limits, tol: float = 2e-3, flow: torch.Tensor | None = None) -> list[str]:
    """The constraints that hold with equality (within tol) at p: the ones that shape the optimum."""
    out = [name for name, g in inequalities(p, limits, flow).items() if float(g.max()) > -tol]
    out += list(equalities(p, limits))
    if limits.symmetric:
        out.append("symmetric")
    return out
