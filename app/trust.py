"""How far the page's predicted numbers can be trusted: the model's measured errors on unseen bodies, read
from its card (the one source the README's numbers come from too), and its validity range."""

from __future__ import annotations

from typing import Any


def measured(card: dict[str, Any]) -> dict[str, str]:
    """Quantity -> its measured error on the card's test set, in words ({} when the card has none)."""
    m = card.get("test_metrics") or {}
    out = {}
    if "cd_rel_err_median" in m:
        out["Cd"] = f"{100 * m['cd_rel_err_median']:.3f}% median, {100 * m['cd_rel_err_p95']:.3f}% p95"
    if "cl_err_rel_cd_median" in m:
        out["Cl"] = f"{100 * m['cl_err_rel_cd_median']:.3f}% of Cd median"
    if "cd_pressure_err_rel_cd_median" in m:
        out["pressure part"] = f"{100 * m['cd_pressure_err_rel_cd_median']:.2f}% of Cd median"
    if "cp_rms_err" in m:
        out["Cp"] = f"{m['cp_rms_err']:.3f} RMS"
    return out


def caption(card: dict[str, Any]) -> str:
    """One line for a predicted number: the measured errors and where they were measured."""
    errs = measured(card)
    if not errs:
        return "This model's card records no test-set errors: check the design with the full simulation."
    m = card["test_metrics"]
    where = f"{m.get('n', '?')} unseen bodies ({m.get('data', 'its test set')})"
    return "Measured on " + where + ": " + "; ".join(f"{k} {v}" for k, v in errs.items()) + "."


def validity(card: dict[str, Any], window_reach: float) -> str:
    """The range the model was trained for, in words."""
    r = (card.get("dataset") or {}).get("re") or {}
    return (
        f"Trained for Re {r.get('min', '?'):g} to {r.get('max', '?'):g} on bodies reaching at most "
        f"{window_reach:.2f} D from their centroid; outside that, use the full simulation."
    )


def validity_box(surrogate: Any, points: Any, re: float) -> tuple[str, str]:
    """("info" or "warning", text): what the surrogate can and cannot do for this body at this Re, said before
    any run: whether it takes the body (its reach against the window's), the trained Re range, the distance to
    the training shapes and, for an ensemble, its members' agreement."""
    if surrogate is None:
        return "warning", "No surrogate loaded: only the full simulation can judge this body."
    from geometry.shape import Shape
    from optim.verify import ood
    from surrogate.window import reach

    shape = Shape.from_points(points)
    limit = surrogate.window_reach
    r = reach(shape.points)
    if not surrogate.model.window.holds(shape.points):
        return "warning", (
            f"The surrogate cannot judge this body: it reaches {r:.2f} D from its centroid, the surrogate "
            f"takes at most {limit:.2f} D. Choose 'Drag from: Full simulation' to optimise it; Compare "
            "simulates it."
        )
    o = ood(surrogate, shape, re)
    lo, hi = o["re_range"]
    parts = [
        f"reach {r:.2f} D of at most {limit:.2f} D",
        f"Re {re:.3g} ({'inside' if lo <= re <= hi else 'outside'} the trained {lo:g} to {hi:g})",
    ]
    if "score" in o:
        parts.append(f"distance to the training shapes {o['score']:.2f} (1: as near as 95% of unseen shapes)")
    if o.get("cd_spread") is not None:
        parts.append(f"members agree on Cd to {100 * o['cd_spread']:.2f}%")
    kind = "warning" if o["warnings"] else "info"
    return kind, "For this body, the surrogate: " + "; ".join(parts) + "."
