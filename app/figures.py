"""The app's figures, drawn by the browser with hover, pan and zoom: Vega-Lite specs (outlines, histories,
curves, Cp) and Plotly figures (the fields with their streamlines, the rotatable 3D preview); matplotlib
(Agg) only traces the streamlines. Drawing only: every number comes from the packages."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

CURRENT = "#1f5fa8"


def _closed(p: np.ndarray) -> np.ndarray:
    return np.vstack([p, p[:1]])


ZOOM = [{"name": "zoom", "select": "interval", "bind": "scales"}]  # drag to pan, scroll to zoom


def outline_spec(initial: np.ndarray, current: np.ndarray) -> dict:
    """A Vega-Lite spec of the design over the start shape: drawn by the browser, so a live update costs the
    server far less than a matplotlib figure would (docs/inverse-design.md)."""
    return outlines_spec({"design": current, "start": initial}, colors=[CURRENT, "#888888"])


def field_of(state: np.ndarray, name: str) -> np.ndarray:
    """The speed |u| or the pressure (n, n) of a state (3, n, n)."""
    u, v, p = state
    return np.hypot(u, v) if name == "speed" else p


def streamlines(state: np.ndarray, extent: float, points: np.ndarray) -> np.ndarray:
    """Streamlines of a state (3, n, n) on the window, only in the fluid (the velocity is masked inside the
    body): (N, 2) points, the lines separated by NaN rows. Traced by matplotlib's streamplot, drawn by the
    browser."""
    from matplotlib.path import Path as Polygon

    u, v, _ = state
    n = u.shape[0]
    c = (np.arange(n) + 0.5) / n * 2 * extent - extent
    X, Y = np.meshgrid(c, c, indexing="ij")
    inside = Polygon(np.asarray(points)).contains_points(np.stack([X.ravel(), Y.ravel()], 1)).reshape(n, n)
    gone = inside | ~np.isfinite(u) | ~np.isfinite(v)
    um, vm = np.ma.masked_where(gone, u), np.ma.masked_where(gone, v)
    ax = Figure().subplots()  # no pyplot: its global state is shared by the sessions' threads
    lines = ax.streamplot(c, c, um.T, vm.T, density=1.1).lines.get_segments()
    gap = np.full((1, 2), np.nan)
    return np.vstack([np.vstack([np.asarray(seg), gap]) for seg in lines]) if lines else np.zeros((0, 2))


def field_chart(
    field: np.ndarray,
    extent: float,
    points: np.ndarray,
    title: str,
    label: str,
    symmetric: bool = False,
    lines: np.ndarray | None = None,
) -> Any:
    """A Plotly view of a field (n, n) on the window (indexing [x, y]): hover for the value, drag to zoom,
    equal axis scales; the body filled, streamlines when given. `symmetric`: a colour scale about zero."""
    import plotly.graph_objects as go

    n = field.shape[0]
    c = (np.arange(n) + 0.5) / n * 2 * extent - extent
    lim = float(np.nanpercentile(np.abs(field), 99)) if np.isfinite(field).any() else 1.0
    lim = lim if np.isfinite(lim) and lim > 0 else 1.0
    heat = go.Heatmap(
        z=field.T,
        x=c,
        y=c,
        colorscale="RdBu_r" if symmetric else "Viridis",
        zmin=-lim if symmetric else None,
        zmax=lim if symmetric else None,
        colorbar={"title": label, "len": 0.8},
        hovertemplate="x %{x:.2f}, y %{y:.2f}: %{z:.3g}<extra></extra>",
    )
    q = _closed(np.asarray(points))
    traces = [heat]
    if lines is not None and len(lines):
        traces.append(
            go.Scatter(
                x=lines[:, 0],
                y=lines[:, 1],
                mode="lines",
                line={"color": "white", "width": 0.8},
                hoverinfo="skip",
                showlegend=False,
            )
        )
    traces.append(
        go.Scatter(
            x=q[:, 0],
            y=q[:, 1],
            fill="toself",
            mode="lines",
            fillcolor="rgb(50,50,50)",
            line={"color": "rgb(50,50,50)"},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    fig = go.Figure(traces)
    fig.update_layout(
        title={"text": title, "font": {"size": 13}},
        height=420,
        margin={"l": 10, "r": 10, "t": 36, "b": 10},
        xaxis={"range": [-extent, extent], "title": "x / D", "constrain": "domain"},
        yaxis={"range": [-extent, extent], "scaleanchor": "x", "scaleratio": 1, "constrain": "domain"},
    )
    return fig


def flow(
    state: np.ndarray, extent: float, points: np.ndarray, title: str = "", quantity: str = "speed"
) -> Any:
    """A state (3, n, n) on the window as a Plotly colour map of the speed or the pressure, with streamlines
    (only in the fluid) and the body."""
    return field_chart(
        field_of(state, quantity),
        extent,
        points,
        title,
        "|u| / U" if quantity == "speed" else "p / (rho U^2)",
        symmetric=quantity != "speed",
        lines=streamlines(state, extent, points),
    )


def difference(a: np.ndarray, b: np.ndarray, extent: float, points: np.ndarray, title: str) -> Any:
    """a - b (n, n) on the window as a Plotly colour map, symmetric about zero."""
    return field_chart(a - b, extent, points, title, "difference", symmetric=True)


def history_chart(cd: list[float], pred: list[float] | None = None) -> dict:
    """A Vega-Lite spec of Cd against the step (and the surrogate's prediction of a trust-region run)."""
    rows = [{"design": "Cd", "step": k, "Cd": float(c)} for k, c in enumerate(cd)]
    rows += [{"design": "Cd predicted", "step": k, "Cd": float(c)} for k, c in enumerate(pred or [])]
    return curves_spec(rows, "step", "Cd")


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


def show(fig: Any) -> None:
    """Draw a Plotly figure on the page, as wide as its column."""
    import streamlit as st

    st.plotly_chart(fig, use_container_width=True)
