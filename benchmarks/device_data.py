"""Carry a training set to the lent GPU machine, which takes at most 64 MiB with the whole checkout (~25 MB).

`pack` keeps what training reads (train and validation samples: u, v, p, Re, Cd, Cl and the scalars) and drops
what the sampler regenerates (the polygons: `make_case(settings, index)` redraws them to 1e-15 D; the polygons
of samples the sampler did not draw, such as `dragopt refine`'s designs, are carried). The fields are
stored as 14-bit fixed point per sample and channel (error at most 6e-5 of the channel's largest value, well
under float16's), second differences along x, bytes split, lzma: about 7.7 kB a sample instead of 48 kB.

`unpack` rebuilds a dataset folder with the same settings (and settings hash) that `dragopt train` loads. The
samples' Cp and stations are not carried (stored as NaN); the folder is for training, not for evaluation.

    python benchmarks/device_data.py pack data/datasets/train .devdata/train.pack
    python benchmarks/device_data.py unpack .devdata/train.pack .devrun/train
"""

from __future__ import annotations

import argparse
import io
import json
import lzma
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BITS = 14
SCALARS = (
    "re",
    "cd",
    "cd_pressure",
    "cd_viscous",
    "cl",
    "cl_pressure",
    "cl_viscous",
    "cd_momentum",
    "cl_momentum",
    "residual",
    "wall_s",
    "steps",
    "factorisations",
    "index",
)


def _encode(fields: np.ndarray, bits: int = BITS) -> tuple[bytes, np.ndarray]:
    scale = np.abs(fields).max(axis=(2, 3), keepdims=True).astype(np.float64) / (2 ** (bits - 1) - 1)
    scale[scale == 0] = 1.0
    q = np.round(fields / scale).astype(np.int32)
    d = np.diff(np.diff(q, axis=3, prepend=0), axis=3, prepend=0).astype(np.int16)
    raw = d.view(np.uint8).reshape(-1, 2)
    return lzma.compress(np.concatenate([raw[:, 0], raw[:, 1]]).tobytes(), preset=9), scale


def _decode(blob: bytes, scale: np.ndarray, shape: tuple) -> np.ndarray:
    raw = np.frombuffer(lzma.decompress(blob), np.uint8)
    half = len(raw) // 2
    d = np.stack([raw[:half], raw[half:]], 1).copy().view(np.int16).reshape(shape).astype(np.int32)
    q = np.cumsum(np.cumsum(d, axis=3), axis=3)
    return (q * scale).astype(np.float32)


def pack(src: str, dst: str, bits: int = BITS) -> None:
    from surrogate.datasets import data as dataset

    d = dataset.load(src)
    rows = np.sort(np.concatenate([dataset.indices(d, "train"), dataset.indices(d, "val")]))
    a = d.arrays
    blob, scale = _encode(a["fields"][rows].astype(np.float64), bits)
    arrays = {k: a[k][rows] for k in SCALARS}
    arrays.update(family=a["family"][rows], fields_scale=scale, fields_lzma=np.frombuffer(blob, np.uint8))
    # samples of families the sampler does not draw (e.g. dragopt refine's) cannot be redrawn: their outlines
    # are carried
    own = ~np.isin(a["family"][rows], list(d.manifest["settings"]["sampler"]["mix"]))
    arrays.update(own_index=a["index"][rows][own], own_points=a["points"][rows][own])
    meta = {
        "settings": d.manifest["settings"],
        "settings_hash": d.manifest["settings_hash"],
        "fingerprint": dataset.fingerprint(d.manifest),
        "fields_shape": list(a["fields"][rows].shape),
        "cp_shape": list(a["cp"].shape[1:]),
        "stations_shape": list(a["stations"].shape[1:]),
        "source": src,
    }
    arrays["meta"] = np.array(json.dumps(meta))
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    Path(dst).write_bytes(buf.getvalue())
    err = np.abs(_decode(blob, scale, a["fields"][rows].shape) - a["fields"][rows]).max(axis=(2, 3))
    rel = float((err / np.abs(a["fields"][rows]).max(axis=(2, 3))).max())
    print(
        f"{dst}: {len(rows)} samples, {len(buf.getvalue()) / 1e6:.1f} MB;"
        f" field error at most {rel:.1e} of max"
    )


def unpack(src: str, out: str) -> None:
    from surrogate.datasets import cases, store
    from surrogate.datasets import data as dataset

    z = np.load(src)
    meta = json.loads(str(z["meta"]))
    settings = meta["settings"]
    fields = _decode(z["fields_lzma"].tobytes(), z["fields_scale"], tuple(meta["fields_shape"]))
    n = len(fields)
    own = dict(zip(z["own_index"].tolist(), z["own_points"], strict=True)) if "own_index" in z else {}

    def outline(i: int) -> np.ndarray:
        return own[i] if i in own else cases.make_case(settings, i)["points"]

    points = np.stack([outline(int(i)) for i in z["index"]])
    arrays = {k: z[k] for k in SCALARS}
    arrays.update(
        family=z["family"],
        params=np.array(["{}"] * n),
        points=points,
        fields=fields,
        ok=np.ones(n, bool),
        case=np.array([""] * n),
        error=np.array([""] * n),
        cp=np.full((n, *meta["cp_shape"]), np.nan, np.float32),
        stations=np.full((n, *meta["stations_shape"]), np.nan, np.float32),
    )
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    shards = {}
    for k in range(0, n, 256):
        part = {key: v[k : k + 256] for key, v in arrays.items()}
        name = store.shard_name(k // 256)
        sha = store.write_shard(folder / name, part, meta["settings_hash"])
        shards[name] = {
            "count": len(part["index"]),
            "ok": len(part["index"]),
            "failed": 0,
            "sha256": sha,
            "start": int(part["index"][0]),
        }
    manifest = {
        "format_version": store.FORMAT_VERSION,
        "settings": settings,
        "settings_hash": meta["settings_hash"],
        "n": n,
        "shards": shards,
        "counts": {"samples": n, "stored": n, "failures": 0},
        "carried_from": {"source": meta["source"], "fingerprint": meta["fingerprint"]},
    }
    store.write_manifest(folder, manifest)
    d = dataset.load(folder)
    counts = {s: len(dataset.indices(d, s)) for s in dataset.SPLITS}
    print(f"{out}: {n} samples, splits {counts} (the source's test split was not carried)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=("pack", "unpack"))
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument(
        "--bits",
        type=int,
        default=BITS,
        help="pack: fixed-point bits of the fields (default 14; 12 makes the pack 20%% smaller, "
        "10 a third smaller, for when the tracked tree leaves less of the 64 MiB the GPU machine takes)",
    )
    args = p.parse_args()
    if args.what == "pack":
        pack(args.src, args.dst, args.bits)
    else:
        unpack(args.src, args.dst)
