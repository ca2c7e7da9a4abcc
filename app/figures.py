"""The app's figures: Vega-Lite specs the browser draws (outlines, histories, curves, Cp: hover, pan and
zoom), matplotlib (Agg) for the fields with streamlines, and Plotly for the rotatable 3D preview. Drawing
only: every number comes from the packages."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

INITIAL, CURRENT = "0.55", "#1f5fa8"


def _closed(p: np.ndarray) -> np.ndarray:
    return np.vstack([p, p[:1]])


def _design(ax: Axes, points: np.ndarray, label: str | None = None) -> None:
    c = _closed(points)
    ax.fill(c[:, 0], c[:, 1], color=CURRENT, alpha=0.15)
    ax.plot(c[:, 0], c[:, 1], color=CURRENT, lw=2.0, label=label)


def _frame(fig: Figure, ax: Axes, title: str, x: str, y: str) -> Figure:
    """Equal scales, labels and grid of an outline plot."""
    ax.set_aspect("equal", adjustable="datalim")
    ax.margins(0.08)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.grid(alpha=0.25)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def _curves(fig: Figure, ax: Axes, x: str, y: str) -> Figure:
    """Labels, grid and legend of a line plot."""
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.grid(alpha=0.25)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def outlines(initial: np.ndarray, current: np.ndarray | None = None, title: str = "") -> Figure:
    """The current design over the start shape (D units, flow from the left)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    q = _closed(initial)
    ax.plot(q[:, 0], q[:, 1], "--", color=INITIAL, lw=1.2, label="start")
    if current is not None:
        _design(ax, current, "design")
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    return _frame(fig, ax, title or "flow from the left", "x / D", "y / D")


ZOOM = [{"name": "zoom", "select": "interval", "bind": "scales"}]  # drag to pan, scroll to zoom


def outline_spec(initial: np.ndarray, current: np.ndarray) -> dict:
    """A Vega-Lite spec of the design over the start shape: drawn by the browser, so a live update costs the
    server far less than a matplotlib figure would (docs/inverse-design.md)."""
    return outlines_spec({"design": current, "start": initial}, colors=[CURRENT, "#888888"])


def field_of(state: np.ndarray, name: str) -> np.ndarray:
    """The speed |u| or the pressure (n, n) of a state (3, n, n)."""
    u, v, p = state
    return np.hypot(u, v) if name == "speed" else p


def flow(
    state: np.ndarray, extent: float, points: np.ndarray, title: str = "", quantity: str = "speed"
) -> Figure:
    """A state (3, n, n) on the window (indexing [x, y]) as a colour map of the speed or the pressure, with
    streamlines and the body."""
    u, v, p = state
    n = u.shape[0]
    c = (np.arange(n) + 0.5) / n * 2 * extent - extent
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    field = field_of(state, quantity)
    cmap = "viridis" if quantity == "speed" else "RdBu_r"
    lim = None if quantity == "speed" else float(np.nanpercentile(np.abs(p), 99))
    im = ax.imshow(
        field.T,
        origin="lower",
        extent=(-extent, extent, -extent, extent),
        cmap=cmap,
        vmin=None if lim is None else -lim,
        vmax=lim,
    )
    from matplotlib.path import Path as Polygon

    X, Y = np.meshgrid(c, c, indexing="ij")
    inside = Polygon(np.asarray(points)).contains_points(np.stack([X.ravel(), Y.ravel()], 1)).reshape(n, n)
    um, vm = np.ma.masked_where(inside, u), np.ma.masked_where(inside, v)  # streamlines only in the fluid
    ax.streamplot(c, c, um.T, vm.T, color="w", linewidth=0.6, density=1.1, arrowsize=0.6)
    q = _closed(points)
    ax.fill(q[:, 0], q[:, 1], color="0.2")
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    ax.set_xlabel("x / D")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8, label="|u| / U" if quantity == "speed" else "p / (rho U^2)")
    fig.tight_layout()
    return fig


def difference(a: np.ndarray, b: np.ndarray, extent: float, points: np.ndarray, title: str) -> Figure:
    """a - b (n, n) on the window, symmetric colour scale."""
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    d = a - b
    lim = float(np.nanpercentile(np.abs(d), 99)) or 1.0
    im = ax.imshow(
        d.T, origin="lower", extent=(-extent, extent, -extent, extent), cmap="PuOr", vmin=-lim, vmax=lim
    )
    q = _closed(points)
    ax.fill(q[:, 0], q[:, 1], color="0.2")
    ax.set_aspect("equal")
    ax.set_xlabel("x / D")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig


def cp(curves: list[tuple[str, np.ndarray, np.ndarray]]) -> Figure:
    """Surface Cp against the arc-length fraction from the nose, for (label, stations (M, 2), cp (M,))
    curves."""
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for label, stations, values in curves:
        s = np.asarray(stations)
        seg = np.linalg.norm(np.diff(np.vstack([s, s[:1]]), axis=0), axis=1)
        frac = np.concatenate([[0.0], np.cumsum(seg)[:-1]]) / seg.sum()
        ax.plot(frac, values, ".-", ms=3, label=label)
    ax.axhline(0.0, color="0.6", lw=0.8)
    return _curves(fig, ax, "arc length from the first station / perimeter", "Cp")


def history_spec(cd: list[float], feasible: list[bool]) -> dict:
    """A Vega-Lite spec of Cd against the step, its axis scaled to the data (not from zero), infeasible steps
    marked: drawn by the browser, cheap to update live."""
    rows = [
        {"step": k, "Cd": float(c), "design": "feasible" if ok else "infeasible"}
        for k, (c, ok) in enumerate(zip(cd, feasible, strict=True))
    ]
    x = {"field": "step", "type": "quantitative", "title": "step"}
    y = {"field": "Cd", "type": "quantitative", "title": "Cd", "scale": {"zero": False}}
    return {
        "data": {"values": rows},
        "width": 520,
        "height": 200,
        "layer": [
            {"params": ZOOM, "mark": {"type": "line", "color": CURRENT}, "encoding": {"x": x, "y": y}},
            {
                "mark": {"type": "point", "filled": True},
                "encoding": {
                    "x": x,
                    "y": y,
                    "color": {
                        "field": "design",
                        "type": "nominal",
                        "scale": {"domain": ["feasible", "infeasible"], "range": [CURRENT, "#d62728"]},
                    },
                },
            },
        ],
    }


def history(cd: list[float], pred: list[float] | None = None) -> Figure:
    """Cd against the step (and the surrogate's prediction of a trust-region run)."""
    fig, ax = plt.subplots(figsize=(6.4, 2.6))
    ax.plot(cd, "o-", ms=3, color=CURRENT, label="Cd")
    if pred:
        ax.plot(pred, "s--", ms=3, color="tab:orange", label="Cd predicted")
    return _curves(fig, ax, "step", "Cd")


def outlines_spec(named: dict[str, np.ndarray], colors: list[str] | None = None, unit: str = "D") -> dict:
    """A Vega-Lite spec of several outlines overlaid (in `colors`, in order, when given), equal axis scales
    in a 2:1 chart; coordinates in `unit`."""
    rows = []
    for name, p in named.items():
        q = _closed(np.asarray(p))
        rows += [{"x": float(x), "y": float(y), "i": i, "design": name} for i, (x, y) in enumerate(q)]
    both = np.vstack(list(named.values()))
    pad = 0.1 if unit == "D" else 0.05 * float(np.ptp(both, 0).max())
    lo, hi = both.min(0) - pad, both.max(0) + pad
    half = 0.5 * max(hi[0] - lo[0], 2 * (hi[1] - lo[1]))
    mid = (lo + hi) / 2
    return {
        "data": {"values": rows},
        "params": ZOOM,
        "mark": {"type": "line", "strokeWidth": 2},
        "width": 520,
        "height": 260,
        "encoding": {
            "x": {
                "field": "x",
                "type": "quantitative",
                "title": f"x / {unit}",
                "scale": {"domain": [mid[0] - half, mid[0] + half]},
            },
            "y": {
                "field": "y",
                "type": "quantitative",
                "title": f"y / {unit}",
                "scale": {"domain": [mid[1] - half / 2, mid[1] + half / 2]},
            },
            "order": {"field": "i"},
            "color": {
                "field": "design",
                "type": "nominal",
                **({"scale": {"domain": list(named), "range": colors}} if colors else {}),
            },
        },
    }


def curves_spec(
    rows: list[dict], x: str, y: str, log_x: bool = False, points: list[dict] | None = None
) -> dict:
    """A Vega-Lite spec of curves (rows with `x`, `y` and "design"), scaled to the data, with optional marked
    points (e.g. simulated values) over them; hover shows the numbers."""
    xs = {"field": x, "type": "quantitative", "scale": {"type": "log"} if log_x else {"zero": False}}
    ys = {"field": y, "type": "quantitative", "scale": {"zero": False}}
    color = {"field": "design", "type": "nominal"}
    layers = [
        {
            "params": ZOOM,
            "data": {"values": rows},
            "mark": "line",
            "encoding": {"x": xs, "y": ys, "color": color, "tooltip": [color, xs, ys]},
        }
    ]
    if points:
        layers.append(
            {
                "data": {"values": points},
                "mark": {"type": "point", "filled": True, "size": 80, "shape": "diamond"},
                "encoding": {"x": xs, "y": ys, "color": color, "tooltip": [color, xs, ys]},
            }
        )
    return {"width": 520, "height": 260, "layer": layers}


def cp_spec(curves: list[tuple[str, np.ndarray, np.ndarray]]) -> dict:
    """Surface Cp against the arc-length fraction from the first station, as figures.cp draws it, for the
    browser: hover for the numbers, drag and scroll to pan and zoom."""
    rows = []
    for label, stations, values in curves:
        s = np.asarray(stations)
        seg = np.linalg.norm(np.diff(np.vstack([s, s[:1]]), axis=0), axis=1)
        frac = np.concatenate([[0.0], np.cumsum(seg)[:-1]]) / seg.sum()
        rows += [
            {"design": label, "arc": float(a), "Cp": float(c)} for a, c in zip(frac, values, strict=True)
        ]
    spec = curves_spec(rows, "arc", "Cp")
    spec["layer"][0]["mark"] = {"type": "line", "point": True}
    return spec


def mesh_3d(vertices: np.ndarray, faces: np.ndarray) -> Any:
    """A rotatable Plotly view of a triangle mesh, equal axis scales (the exported solid)."""
    import plotly.graph_objects as go

    v, f = np.asarray(vertices), np.asarray(faces)
    body = go.Mesh3d(
        x=v[:, 0], y=v[:, 1], z=v[:, 2], i=f[:, 0], j=f[:, 1], k=f[:, 2], color=CURRENT, flatshading=True
    )
    fig = go.Figure(body)
    fig.update_layout(scene={"aspectmode": "data"}, margin={"l": 0, "r": 0, "t": 0, "b": 0}, height=420)
    return fig


def show(fig: Figure) -> None:
    """Draw a matplotlib figure on the page and free it."""
    import streamlit as st

    st.pyplot(fig, clear_figure=True)
    plt.close(fig)
