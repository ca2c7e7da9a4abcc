# Sourced by the prepared GPU-machine runs (device_train.sh, device_ensemble.sh): the wheels carried in .whl, the
# training set carried in .devdata (benchmarks/device_data.py), the output folder, a clock, and DEV (cuda or cpu).
# With PY=.venv/bin/python the same runs try out on this machine.
PY=${PY:-python3}
OUT=${OUT:-.devrun/out}
mkdir -p .devrun "$OUT"
OUT=$(realpath "$OUT")
T0=$(date +%s)
stamp() { echo "[$(($(date +%s) - T0)) s] $*"; }
if [ "$PY" = python3 ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target .devrun/site .whl/*.whl \
    2>/dev/null || exit 1
  export PYTHONPATH=$PWD/.devrun/site:$PWD
fi
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=3
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
nproc
if [ -z "${NO_DATA:-}" ]; then  # NO_DATA=1: a run on the committed test set alone (device_ddp.sh)
  [ -f .devrun/train/manifest.json ] || $PY benchmarks/device_data.py unpack .devdata/train.pack .devrun/train || exit 1
  stamp "data ready"
fi
DEV=$($PY -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
