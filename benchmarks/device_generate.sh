#!/bin/bash
# One prepared run on the lent GPU machine (16 cores, no MKL: the solver uses SuperLU there):
#  1. generation throughput with 1 worker (benchmarks/generation.py) on the same machine, for the scaling;
#  2. shards 12-15 of the training set (seed 0, n 4096) with 16 workers; the finished shards and their
#     manifest come back under $OUT, and a local `dragopt generate` rerun into the same folder adopts them.
# Run from the repository root with the shapely wheel in .whl/ (see docs/design-notes.md).
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target .devrun/site .whl/*.whl || exit 1
export PYTHONPATH=$PWD/.devrun/site:$PWD PYTHONUNBUFFERED=1
nproc
python3 -c "import torch, numpy, scipy, shapely; print('torch', torch.__version__, 'numpy', numpy.__version__, 'scipy', scipy.__version__)"
(cd benchmarks && timeout 150 python3 generation.py --workers ${BENCH_WORKERS:-1} --ray --n ${BENCH_N:-8} --out "$OUT/device_generation.json")
T0=$(date +%s)
timeout "${GEN_S:-400}" python3 -m app.cli generate --out .devrun/train --n 4096 --seed 0 --shards "${SHARDS:-12:16}" \
  --workers "${GEN_WORKERS:-16}" -q
echo "generate rc $? wall $(($(date +%s) - T0)) s; shards $(ls .devrun/train/shard-*.npz 2>/dev/null | wc -l);" \
  "work files $(ls .devrun/train/work 2>/dev/null | wc -l)"
cp .devrun/train/shard-*.npz .devrun/train/manifest.json "$OUT"/ 2>/dev/null
ls -la "$OUT"
