"""How far a body is from the shapes a model was trained on: the out-of-distribution measure of a design.

Each shape (D = 1, centroid at the origin) is described by its signed distance on a 16 x 16 grid over +-1.6 D,
after the shrinking that fits it to the network's window (surrogate.window: a body reaching farther than
`fit` is shown divided by reach / fit, as the training data stores it); the distance of two shapes is the RMS
difference of their descriptors, in window units. A model folder keeps its training
shapes' descriptors (`coverage.npz`) and a reference: the 95th percentile of the nearest-training-shape
distances of its validation shapes, which are unseen shapes from the same distribution. A design's `score` is
its nearest distance over that reference: above 1 it is farther from every training shape than 95% of unseen
in-distribution shapes are.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from geometry.io import atomic_write_bytes
from geometry.raster import signed_distance_fast

FILE = "coverage.npz"
GRID, EXTENT = 16, 1.6


def _queries() -> torch.Tensor:
    c = (np.arange(GRID) + 0.5) / GRID * 2 * EXTENT - EXTENT
    X, Y = np.meshgrid(c, c, indexing="ij")
    return torch.as_tensor(np.stack([X.ravel(), Y.ravel()], 1))


def descriptors(points: np.ndarray) -> np.ndarray:
    """(B, K, 2) or (K, 2) normalised outlines -> (B, GRID * GRID) signed distances (float32)."""
    p = np.asarray(points, dtype=np.float64)
    p = p[None] if p.ndim == 2 else p
    q = _queries()
    with torch.no_grad():
        return np.stack([signed_distance_fast(torch.as_tensor(s), q).numpy() for s in p]).astype(np.float32)


def shown(cov: dict, points: np.ndarray) -> np.ndarray:
    """A normalised outline (D = 1) as the network's window shows it (shrunk when it reaches beyond `fit`)."""
    fit = cov.get("fit")
    reach = float(np.abs(points).max())
    return points / max(1.0, reach / fit) if fit else points


def score_torch(cov: dict, points: torch.Tensor) -> torch.Tensor:
    """The score of an outline in any units and place (normalised here), differentiable in its points: a
    design constraint that keeps the optimiser where the surrogate was trained."""
    from geometry import properties

    q = (points - properties.centroid(points)) / properties.equivalent_diameter(points)
    s = float(np.abs(q.detach().cpu().numpy()).max()) / cov["fit"] if cov.get("fit") else 1.0
    desc = signed_distance_fast(q / max(1.0, s), _queries().to(points.dtype))
    train = torch.from_numpy(cov["train"])
    with torch.no_grad():  # the nearest training shape; the distance to it then carries the gradient
        j = int(torch.cdist(desc.detach().float()[None], train).argmin())
    d2 = ((train[j].to(points.dtype) - desc) ** 2).mean()
    return torch.sqrt(d2) / cov["reference"]


def nearest(desc: np.ndarray, train: np.ndarray) -> np.ndarray:
    """RMS descriptor distance (D) from each row of desc to its nearest training row."""
    desc, train = np.asarray(desc, np.float64), np.asarray(train, np.float64)  # float32 cancels near 0
    d2 = (desc**2).sum(1)[:, None] + (train**2).sum(1)[None] - 2 * desc @ train.T
    return np.sqrt(np.maximum(d2.min(1), 0.0) / desc.shape[1])


def build(train_points: np.ndarray, val_points: np.ndarray, fit: float) -> dict[str, np.ndarray]:
    """Coverage data from training and validation outlines as the window shows them; `fit` is the reach
    beyond which a body is shrunk (surrogate.window.Window.fit_half_width)."""
    train = descriptors(train_points)
    ref = nearest(descriptors(val_points), train)
    return {
        "train": train.astype(np.float16),
        "reference": np.array(np.percentile(ref, 95)),
        "fit": np.array(float(fit)),
    }


def save(folder: str | Path, cov: dict[str, np.ndarray]) -> None:
    """The coverage data into the model folder (atomically)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **cov)  # type: ignore[arg-type]
    atomic_write_bytes(Path(folder) / FILE, buf.getvalue())


def load(folder: str | Path) -> dict[str, np.ndarray] | None:
    """The model's coverage data, or None when it has none (an older model: no shape distance is reported)."""
    path = Path(folder) / FILE
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            fit = float(z["fit"]) if "fit" in z.files else None  # older models: bodies never shrunk
            return {"train": z["train"].astype(np.float32), "reference": float(z["reference"]), "fit": fit}
    except (OSError, ValueError, KeyError):
        return None


def score(cov: dict, points: np.ndarray) -> dict[str, float]:
    d = float(nearest(descriptors(shown(cov, np.asarray(points))), cov["train"])[0])
    return {"shape_distance": d, "reference": cov["reference"], "score": d / cov["reference"]}
