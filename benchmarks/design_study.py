"""The design study (docs/design-study.md): minimum-drag bodies of fixed area at Re 1, 5, 10, 20 and 40
against the published ones, and a lifting section at two Reynolds numbers (the drag at Cl 0.2 and 0.4, the
best lift-to-drag ratio). Every design is optimised through the surrogate and through the full simulation with
its adjoint (SLSQP both), and every final design is simulated on the default grid, so the surrogate's optimum
and the simulation's stand side by side, judged alike.

Usage: python benchmarks/design_study.py [--model DIR] [--quick]
    -> docs/design-study/study.json, docs/design-study/*.png and docs/design-study.md (the tables written from
    the JSON, so a rerun keeps the page and the numbers together). About an hour on 2 cores; --quick runs
    one problem of each kind with few steps (a check of the script, written under benchmarks/out/).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from common import DOCS, OUT, ROOT, write_json

from geometry import parse_shape
from geometry.io import atomic_write_text
from optim import constraints as C
from optim.design import Options, load_surrogate, run, simulated_forces

AREA_RE = (1.0, 5.0, 10.0, 20.0, 40.0)
SECTION_RE = (10.0, 40.0)
SECTION = "naca:0012"  # the start section; its chord (about 3.09 D) is held, its thickness ratio kept >= 12%
PUBLISHED = {
    1.0: "CCHT21 / Kim & Kim 1995: a symmetric pointed lens about 3.25 x 1.3 r0, Cd 10.7 -> about 10.2"
}


def area_problem(re: float, backend: str, steps: int) -> Options:
    return Options(re=[re], backend=backend, steps=steps, limits=C.Limits(keep_area=True, symmetric=True))


def section_problems(chord: float, steps: int) -> dict[str, dict]:
    lim = {"keep_area": False, "chord": chord, "min_thickness_ratio": 0.12}
    return {
        "Cl 0.2": {"cl": 0.2, "limits": lim},
        "Cl 0.4": {"cl": 0.4, "limits": lim},
        "best L/D": {"objective": "lift-to-drag", "limits": lim},
    }


def one(spec: str, opts: Options, surrogate, tag: str) -> dict:
    """Optimise, then judge the final design by the default simulation."""
    t = time.perf_counter()
    try:
        done = run(parse_shape(spec), opts, surrogate)
    except ValueError as exc:  # a problem this model cannot pose (e.g. a section beyond its window)
        print(f"{tag:10s} Re {opts.re[0]:4g} {opts.backend:10s}: not run: {exc}", flush=True)
        return {"problem": tag, "re": opts.re[0], "backend": opts.backend, "error": str(exc)}
    wall = time.perf_counter() - t
    res = done.result
    sim = simulated_forces(res.final.points, opts.re, None)
    pts = res.final.points
    r0 = 0.5  # the start's radius, D = 1
    row = {
        "problem": tag,
        "re": opts.re[0],
        "backend": opts.backend,
        "status": res.status,
        "steps": res.history[-1]["step"] if res.history else 0,
        "wall_s": wall,
        "cd_initial": res.initial.cd,
        "cd_own": res.final.cd,
        "cl_own": res.final.cl,
        "cd_simulated": sim["cd"][0],
        "cl_simulated": sim["cl"][0],
        "incidence": res.final.incidence,
        "length_r0": float(np.ptp(pts[:, 0])) / r0,
        "thickness_r0": float(np.ptp(pts[:, 1])) / r0,
        "active": res.active,
        "feasible": res.final.feasible,
        "points": pts.tolist(),
    }
    print(
        f"{tag:10s} Re {opts.re[0]:4g} {opts.backend:10s}: {row['status']} after {row['steps']} steps, "
        f"{wall:.0f} s; Cd {row['cd_own']:.4f} (own), {row['cd_simulated']:.4f} simulated; Cl "
        f"{row['cl_simulated']:.3f}; {row['length_r0']:.2f} x {row['thickness_r0']:.2f} r0",
        flush=True,
    )
    return row


def figures(rows: list[dict], folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for kind, name in (("area", "fixed-area.png"), ("section", "sections.png")):
        mine = [r for r in rows if r["kind"] == kind and "error" not in r]
        if not mine:
            continue
        tags = sorted({r["problem"] for r in mine}, key=lambda t: [r["problem"] for r in mine].index(t))
        fig, axes = plt.subplots(len(tags), 1, figsize=(7, 2.2 * len(tags)), squeeze=False)
        for ax, tag in zip(axes[:, 0], tags, strict=True):
            for r in (r for r in mine if r["problem"] == tag):
                p = np.asarray(r["points"])
                p = np.vstack([p, p[:1]])
                style = "-" if r["backend"] == "surrogate" else "--"
                ax.plot(p[:, 0], p[:, 1], style, lw=1.2, label=f"Re {r['re']:g}, {r['backend']}")
            ax.set_aspect("equal")
            ax.set_title(tag, fontsize=9)
            ax.legend(fontsize=6, loc="upper right", ncol=2)
        fig.tight_layout()
        fig.savefig(folder / name, dpi=120)
        plt.close(fig)


def page(rows: list[dict], model: str, wall: float) -> str:
    """docs/design-study.md from the rows."""

    def pct(a: float, b: float) -> str:
        return f"{100 * (a / b - 1):+.2f}%"

    out = [
        "# Design study",
        "",
        "Written by `python benchmarks/design_study.py` (the tables and figures come from "
        "[design-study/study.json](design-study/study.json); do not edit them by hand). "
        f"Model: `{model}`; {wall / 60:.0f} minutes on this machine. Every final design is simulated on the "
        "default grid (16 cells per D), whichever backend optimised it.",
        "",
        "## Minimum drag at fixed area (symmetric, from the circle)",
        "",
        "| Re | backend | steps | s | Cd simulated (start -> design) | predicted | predicted - simulated | "
        "length x thickness (r0) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in (r for r in rows if r["kind"] == "area" and "error" not in r):
        pred = f"{r['cd_own']:.4f}" if r["backend"] == "surrogate" else "-"
        diff = pct(r["cd_own"], r["cd_simulated"]) if r["backend"] == "surrogate" else "-"
        out.append(
            f"| {r['re']:g} | {r['backend']} | {r['steps']} | {r['wall_s']:.0f} | "
            f"{r['cd_initial']:.4f} -> {r['cd_simulated']:.4f} | {pred} | {diff} | "
            f"{r['length_r0']:.2f} x {r['thickness_r0']:.2f} |"
        )
    out += ["", "Published: " + "; ".join(f"Re {k:g}: {v}" for k, v in PUBLISHED.items()) + ".", ""]
    out += ["![fixed-area optima](design-study/fixed-area.png)", ""]
    out += [
        f"## A lifting section ({SECTION} start: chord held, thickness at least 12% of it, incidence free)",
        "",
        "| problem | Re | backend | steps | s | Cd simulated | Cl simulated | L/D simulated | "
        "predicted Cd, Cl | "
        "incidence (deg) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in (r for r in rows if r["kind"] == "section" and "error" not in r):
        pred = f"{r['cd_own']:.4f}, {r['cl_own']:.3f}" if r["backend"] == "surrogate" else "-"
        out.append(
            f"| {r['problem']} | {r['re']:g} | {r['backend']} | {r['steps']} | {r['wall_s']:.0f} | "
            f"{r['cd_simulated']:.4f} | {r['cl_simulated']:.3f} | "
            f"{r['cl_simulated'] / r['cd_simulated']:.3f} | "
            f"{pred} | {r['incidence']:+.2f} |"
        )
    out += ["", "![lifting sections](design-study/sections.png)", ""]
    errors = [r for r in rows if "error" in r]
    if errors:
        out += ["Not run:", ""] + [
            f"- {r['problem']}, Re {r['re']:g}, {r['backend']}: {r['error']}" for r in errors
        ]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="surrogate model folder (default: the shipped model)")
    ap.add_argument("--quick", action="store_true", help="one problem of each kind, few steps")
    args = ap.parse_args()
    surrogate = load_surrogate(args.model)
    folder = (OUT / "design-study") if args.quick else (DOCS.parent / "design-study")
    folder.mkdir(parents=True, exist_ok=True)
    steps = 4 if args.quick else 60
    t0 = time.perf_counter()
    rows = []
    for re in AREA_RE[:1] if args.quick else AREA_RE:
        for backend in ("surrogate", "simulation"):
            rows.append(
                {"kind": "area", **one("circle", area_problem(re, backend, steps), surrogate, "area")}
            )
    chord = float(np.ptp(parse_shape(SECTION).points[:, 0]))
    problems = section_problems(chord, steps)
    for re in SECTION_RE[:1] if args.quick else SECTION_RE:
        for tag, kw in list(problems.items())[: 1 if args.quick else None]:
            for backend in ("surrogate", "simulation"):
                kw2 = {k: v for k, v in kw.items() if k != "limits"}
                opts = Options(
                    re=[re],
                    backend=backend,
                    steps=steps,
                    variables=16,
                    incidence="free",
                    limits=C.Limits(**kw["limits"]),
                    **kw2,
                )
                rows.append({"kind": "section", **one(SECTION, opts, surrogate, tag)})
    wall = time.perf_counter() - t0
    model = str(Path(surrogate.folder or "").resolve().relative_to(ROOT)) if surrogate.folder else "?"
    write_json(folder / "study.json", {"model": model, "wall_s": wall, "rows": rows})
    figures(rows, folder)
    target = folder / "design-study.md" if args.quick else DOCS.parent / "design-study.md"
    atomic_write_text(target, page(rows, model, wall) + "\n")
    print(f"wrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
