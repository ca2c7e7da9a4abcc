"""The method comparison's report: the runs' test metrics as mean and spread over seeds, the HIG sweep, the
cost of an update, validation error against CPU time with the seeds' spread as a band, and the conclusion the
numbers give (a difference smaller than the seeds' spread is called a tie)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from geometry.io import atomic_write_text

COLUMNS = (
    ("cd_rel_err_median", "Cd err median", 100),
    ("cd_rel_err_p95", "p95", 100),
    ("cd_rel_err_max", "max", 100),
    ("cl_err_rel_cd_median", "Cl err / Cd", 100),
    ("cd_pressure_err_rel_cd_median", "split err / Cd", 100),
    ("cp_rms_err_median", "Cp RMS err", 1),
    ("field_rel_err", "field err", 100),
    ("grad_cosine_median", "grad cosine", 1),
)


def groups(runs: list[dict]) -> dict[tuple[str, str, str], list[dict]]:
    """The main runs by (start, method, budget), their seeds together (the HIG sweep left out)."""
    out: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for r in runs:
        if "tau" not in r:
            out[(r["start"], r["method"], r["budget"])].append(r)
    return dict(out)


def _cell(values: list, scale: float) -> str:
    if any(x is None or not np.isfinite(x) for x in values):
        return (
            "diverged"
            if len(values) == 1
            else f"{sum(x is None or not np.isfinite(x) for x in values)} diverged"
        )
    v = np.asarray(values, dtype=float) * scale
    unit = "%" if scale == 100 else ""
    if len(v) == 1:
        return f"{v[0]:.3g}{unit}"
    return f"{v.mean():.3g} ± {v.std(ddof=1):.2g}{unit}"


def write(out: Path, result: dict) -> None:
    """report.md and val_vs_cpu.png in `out`."""
    grouped = groups(result["runs"])
    head = (
        "| start | method | budget | seeds | lr | updates | CPU s | "
        + " | ".join(c[1] for c in COLUMNS)
        + " |"
    )
    lines = ["# Method comparison", "", _setup(result), "", head, "|" + "---|" * (7 + len(COLUMNS))]
    for start, m in result.get("start_metrics", {}).items():
        cells = [_cell([m[k]], s) if k in m else "" for k, _, s in COLUMNS]
        lines.append(f"| {start} | (the start) | | | | | | " + " | ".join(cells) + " |")
    for (start, method, budget), rs in grouped.items():
        cells = [_cell([r[k] for r in rs], s) for k, _, s in COLUMNS]
        updates, cpu = _cell([r["updates"] for r in rs], 1), _cell([r["cpu_s"] for r in rs], 1)
        lines.append(
            f"| {start} | {method} | {budget} | {len(rs)} | {rs[0]['lr']:g} | {updates} | {cpu} | "
            + " | ".join(cells)
            + " |"
        )
    lines += ["", "## Learning rates (validation Cd error median at the end of the budget)", ""]
    lines += ["| start | budget | method | rate: error | best | inside |", "|---|---|---|---|---|---|"]
    for start, budget, method, kept in sweeps(out):
        tried = ", ".join(
            f"{float(r):g}: {100 * e:.3g}%" for r, e in sorted(kept["errors"].items(), key=_rate)
        )
        lines.append(
            f"| {start} | {budget} | {method} | {tried} | {kept['best']:g} | "
            + ("yes |" if kept["inside"] else "no |")
        )
    lines += ["", "## HIG: truncation tau and batch size (rough start, equal updates)", ""]
    lines += ["| tau | batch | Cd err median | Cp RMS err |", "|---|---|---|---|"]
    for r in (r for r in result["runs"] if "tau" in r and not r.get("diverged")):
        lines.append(
            f"| {r['tau']:g} | {r['batch']} | {100 * r['cd_rel_err_median']:.3g}% | "
            f"{r['cp_rms_err_median']:.3g} |"
        )
    lines += ["", "## Cost of an update", "", "| method | s / update | MB / update |", "|---|---|---|"]
    for method, c in result["cost"].items():
        if "error" in c:
            lines.append(f"| {method} | failed: {c['error']} | |")
        else:
            lines.append(f"| {method} | {c['update_s']:.3f} | {c['update_mb']:.0f} |")
    lines += ["", "![validation error against CPU time](val_vs_cpu.png)", "", "## Conclusion", ""]
    lines += conclusion(grouped)
    atomic_write_text(out / "report.md", "\n".join(lines) + "\n")
    _plot(out, grouped)


def sweeps(out: Path) -> list[tuple[str, str, str, dict]]:
    """The kept learning-rate sweeps (start, budget, method, {errors, best, inside}) under out/sweeps."""
    found = sorted(out.glob("sweeps/*/*/*.json"))
    return [(f.parent.parent.name, f.parent.name, f.stem, json.loads(f.read_text())) for f in found]


def _rate(item: tuple[str, float]) -> float:
    return float(item[0])


def _setup(result: dict) -> str:
    p = result["protocol"]
    return (
        f"U-Net base {p['base']}, batch {p['batch']}, physics loss over `{p['outputs']}` outputs; rough "
        f"start {p['pretrain_steps']} supervised steps"
        + (f", second start `{p['converged']}`" if p.get("converged") else "")
        + f"; {p['seeds']} seeds; budgets {p['updates']} updates "
        "and "
        f"{p['cpu_seconds']:g} s of the training process's CPU time; rates swept on the validation split "
        "at each budget (best strictly inside the range). Test split of the dataset; "
        "mean ± standard deviation over seeds."
    )


def conclusion(grouped: dict[tuple[str, str, str], list[dict]]) -> list[str]:
    """Per start and budget, the method with the lowest mean test Cd error, and whether its lead exceeds the
    seeds' spread (two standard deviations of the difference), is a tie, or cannot be judged (fewer than two
    seeds). A diverged run counts as the worst (an infinite error)."""
    lines = []
    for start, budget in sorted({(s, b) for s, _, b in grouped}):
        rows = {
            m: np.nan_to_num(np.asarray([r["cd_rel_err_median"] for r in rs], float), nan=np.inf)
            for (s, m, b), rs in grouped.items()
            if (s, b) == (start, budget)
        }
        if len(rows) < 2:
            continue
        best, second = sorted(rows, key=lambda m: float(np.mean(rows[m])))[:2]
        a, b = rows[best], rows[second]
        if len(a) < 2 or len(b) < 2:
            verdict = "no spread measured (fewer than two seeds)"
        elif not np.isfinite(a).all():
            verdict = "every method diverged on some seed"
        else:
            gap, spread = np.mean(b) - np.mean(a), np.sqrt(np.var(a, ddof=1) + np.var(b, ddof=1))
            verdict = (
                "ahead beyond the seeds' spread" if gap > 2 * spread else "a tie within the seeds' spread"
            )
        lines.append(
            f"- {start} start, equal {budget}: {best} {100 * np.mean(a):.3g}% against {second} "
            f"{100 * np.mean(b):.3g}% (test Cd error median): {verdict}."
        )
    return lines


def _plot(out: Path, grouped: dict[tuple[str, str, str], list[dict]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    starts = sorted({s for s, _, b in grouped if b == "cpu"})  # the curves are of the equal-CPU-time runs
    fig, axes = plt.subplots(1, len(starts), figsize=(6 * len(starts), 4.2), squeeze=False)
    for ax, start in zip(axes[0], starts, strict=True):
        for (s, method, budget), rs in grouped.items():
            if s != start or budget != "cpu" or not all(r["curve"] and not r.get("diverged") for r in rs):
                continue
            n = min(len(r["curve"]) for r in rs)
            t = np.mean([[c[0] for c in r["curve"][:n]] for r in rs], 0)
            e = 100 * np.asarray([[c[1] for c in r["curve"][:n]] for r in rs])
            line = ax.plot(t, e.mean(0), "o-", markersize=3, label=method)[0]
            ax.fill_between(t, e.min(0), e.max(0), color=line.get_color(), alpha=0.2)
        ax.set_title(f"{start} start: validation Cd error (median) over seeds")
        ax.set_xlabel("training CPU time (s)")
        ax.set_ylabel("%")
        ax.set_yscale("log")
        if ax.lines:
            ax.legend()
    fig.tight_layout()
    fig.savefig(out / "val_vs_cpu.png", dpi=100)
    plt.close(fig)
