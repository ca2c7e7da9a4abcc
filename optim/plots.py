"""Figures of a design run: the outline as it evolved, and the drag history (matplotlib, written
atomically)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from geometry.io import atomic_write_bytes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Snapshot = tuple[int, np.ndarray]  # (step, outline points)


def _save(fig: Figure, path: str | Path) -> None:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def shapes_figure(snapshots: list[Snapshot], title: str = "") -> Figure:
    """Outlines at a few steps, light to dark, the final one bold."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    colours = plt.cm.viridis(np.linspace(0.15, 0.85, max(len(snapshots), 2)))
    for k, (step, p) in enumerate(snapshots):
        q = np.vstack([p, p[:1]])
        last = k == len(snapshots) - 1
        style = {"lw": 2.2, "color": "k"} if last else {"lw": 1.0, "color": colours[k], "alpha": 0.9}
        ax.plot(q[:, 0], q[:, 1], label=f"step {step}" + (" (final)" if last else ""), **style)
    ax.set_aspect("equal")
    ax.set_xlabel("x / D")
    ax.set_ylabel("y / D")
    ax.annotate(
        "flow",
        xy=(0.08, 0.92),
        xytext=(0.0, 0.92),
        xycoords="axes fraction",
        arrowprops={"arrowstyle": "->"},
        va="center",
    )
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    return fig


def history_figure(history: list[dict], title: str = "") -> Figure:
    """Drag (and the simulated drag of a trust-region run) and the constraint violation against the step."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(2, 1, figsize=(6.5, 4.5), sharex=True, height_ratios=(3, 1))
    steps = [h["step"] for h in history]
    ax.plot(steps, [h["cd"] for h in history], "o-", ms=3, label="Cd")
    if history and "cd_pred" in history[0]:
        ax.plot(steps, [h["cd_pred"] for h in history], "s--", ms=3, label="Cd predicted (surrogate)")
    ax.set_ylabel("Cd")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    bx.semilogy(steps, [max(h["violation"], 1e-12) for h in history], ".-", color="tab:red")
    bx.set_ylabel("violation")
    bx.set_xlabel("step")
    bx.grid(alpha=0.3)
    return fig


def write(out_dir: str | Path, snapshots: list[Snapshot], history: list[dict], title: str) -> list[Path]:
    """DIR/shapes.png and DIR/history.png; returns their paths."""
    out_dir = Path(out_dir)
    paths = [out_dir / "shapes.png", out_dir / "history.png"]
    _save(shapes_figure(snapshots, title), paths[0])
    _save(history_figure(history, title), paths[1])
    return paths


def pick(snapshots: list[Snapshot], k: int = 6) -> list[Snapshot]:
    """k snapshots evenly spaced, the first and the last included."""
    if len(snapshots) <= k:
        return snapshots
    idx = np.unique(np.linspace(0, len(snapshots) - 1, k).round().astype(int))
    return [snapshots[i] for i in idx]
