"""What a dataset holds (`dragopt dataset info`) and pictures of it (`--plots`, `dragopt dataset show`)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np

from surrogate.datasets.data import Data, split_of
from surrogate.window import Window


def info(data: Data) -> dict:
    a, ok = data.arrays, data.ok
    fam: dict[str, int] = {}
    for f in a["family"][ok]:
        fam[str(f)] = fam.get(str(f), 0) + 1
    splits = split_of(a["points"][ok])
    reasons: dict[str, int] = {}
    for e in a["error"][~ok]:
        key = str(e).split(":")[0]
        reasons[key] = reasons.get(key, 0) + 1
    s = a["scale"][ok]  # loaded in window units: Re and Cd back on each body's own D
    re, cd = a["re"][ok] / s, a["cd"][ok] * s
    m = data.manifest
    return {
        "folder": str(data.folder),
        "samples": int(ok.sum()),
        "failures": int((~ok).sum()),
        "failure_reasons": reasons,
        "requested": int(m["n"]),
        "families": fam,
        "splits": {s: int((splits == s).sum()) for s in ("train", "val", "test")},
        "re_min": float(re.min()) if ok.any() else None,
        "re_max": float(re.max()) if ok.any() else None,
        "shrunk": int((s > 1).sum()),  # bodies shown shrunk on the window (surrogate.window)
        "cd_min": float(cd.min()) if ok.any() else None,
        "cd_max": float(cd.max()) if ok.any() else None,
        "settings_hash": m["settings_hash"],
        "settings": m["settings"],
        "shards": len(m["shards"]),
        "solve_s_median": float(np.median(a["wall_s"][ok])) if ok.any() else None,
        "sensitivity_s_median": _median(a["sensitivity_s"][ok]),
        "newton_steps_median": float(np.median(a["steps"][ok])) if ok.any() else None,
    }


def _median(x: np.ndarray) -> float | None:
    """The median of the finite values (None when there are none: an older dataset)."""
    x = x[np.isfinite(x)]
    return float(np.median(x)) if len(x) else None


def _plt() -> ModuleType:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plots(data: Data, folder: str | Path) -> list[Path]:
    """re_hist.png, cd_hist.png and shapes.png (a gallery of the first 48 bodies) in `folder`."""
    plt = _plt()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    a, ok = data.arrays, data.ok
    out = []
    for key, label in (("re", "Reynolds number"), ("cd", "Cd")):
        fig, ax = plt.subplots(figsize=(6, 4))
        v = a[key][ok]
        ax.hist(v, bins=np.geomspace(v.min(), v.max(), 40))
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("samples")
        ax.set_title(f"{label}: {len(v)} samples")
        fig.tight_layout()
        out.append(folder / f"{key}_hist.png")
        fig.savefig(out[-1], dpi=100)
        plt.close(fig)
    rows = np.flatnonzero(ok)[:48]
    fig, axs = plt.subplots(6, 8, figsize=(16, 12))
    ext = data.manifest["settings"]["window"]["extent"]
    for ax in axs.flat:
        ax.axis("off")
    for ax, r in zip(axs.flat, rows, strict=False):
        p = a["points"][r]
        ax.fill(p[:, 0], p[:, 1], color="tab:blue", alpha=0.7)
        ax.set_xlim(-ext, ext)
        ax.set_ylim(-ext, ext)
        ax.set_aspect("equal")
        ax.set_title(
            f"#{a['index'][r]} {a['family'][r]}  Re {a['re'][r]:.3g}  Cd {a['cd'][r]:.3g}", fontsize=7
        )
    fig.tight_layout()
    out.append(folder / "shapes.png")
    fig.savefig(out[-1], dpi=80)
    plt.close(fig)
    return out


def show(data: Data, index: int, path: str | Path) -> dict:
    """The body of sample `index` (its number in the dataset) with u, v, p on the window and its forces."""
    a = data.arrays
    where = np.flatnonzero(a["index"] == index)
    if len(where) == 0:
        raise ValueError(
            f"sample {index} is not in {data.folder}; "
            f"stored indices are {int(a['index'].min())} to {int(a['index'].max())}"
        )
    r = int(where[0])
    if not a["ok"][r]:
        raise ValueError(f"sample {index} failed when it was simulated ({a['error'][r]}); it has no fields")
    plt = _plt()
    w = Window.from_dict(data.manifest["settings"]["window"])
    c = w.centres()
    p = a["points"][r]
    fig, axs = plt.subplots(1, 3, figsize=(16, 5))
    for ax, field, name in zip(axs, a["fields"][r], ("u", "v", "p"), strict=True):
        im = ax.pcolormesh(c, c, field.T, shading="auto", cmap="RdBu_r" if name != "u" else "viridis")
        ax.fill(p[:, 0], p[:, 1], color="0.85", ec="k", lw=0.8)
        ax.set_aspect("equal")
        ax.set_title(name)
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle(
        f"sample {index} ({a['family'][r]}), Re {a['re'][r]:.3g}: Cd {a['cd'][r]:.4f} (pressure "
        f"{a['cd_pressure'][r]:.4f}, viscous {a['cd_viscous'][r]:.4f}), Cl {a['cl'][r]:+.4f}"
    )
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return {k: float(a[k][r]) for k in ("re", "cd", "cd_pressure", "cd_viscous", "cl")}
