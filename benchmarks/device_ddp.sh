#!/bin/bash
# One prepared run on a lent GPU machine: the CUDA path of data-parallel training (NCCL).
# NCCL refuses two ranks on one GPU, so on a 1-GPU machine the run is a torchrun job of one process: the DDP wrapper,
# NCCL's all-reduces and HIG's Jacobian all-gather, all on CUDA. Its weights are compared with a plain CUDA run on the
# same batches, as tests/test_ddp.py compares two gloo processes with one; with 2 or more GPUs `--ddp 2` (one rank a
# GPU) is compared too. Data: the committed test set, so only the wheels are carried (.whl, device_train.sh).
#   bash benchmarks/device_ddp.sh          (PY=.venv/bin/python tries it on a CPU, where the job uses gloo)
set -u
NO_DATA=1 source benchmarks/device_setup.sh
R=.devrun/ddp
rm -rf $R && mkdir -p $R
GPUS=$($PY -c "import torch; print(torch.cuda.device_count())")
for method in supervised dp hig; do
  args=(train --data data/datasets/test --method $method --base 8 --batch 8 --steps 20 --eval-every 100 -q
    --device "$DEV")
  [ $method = hig ] && args+=(--lr 0.05)
  $PY -m app.cli "${args[@]}" --out $R/$method-one || echo "$method: the single run failed"
  $PY -m torch.distributed.run --standalone --nproc_per_node 1 -m app.cli "${args[@]}" --out $R/$method-torchrun ||
    echo "$method: the torchrun job failed"
  [ "$GPUS" -ge 2 ] && { $PY -m app.cli "${args[@]}" --ddp 2 --out $R/$method-ddp2 || echo "$method: --ddp 2 failed"; }
  stamp "$method done"
done
$PY - "$R" "$DEV" <<'PYEOF' | tee "$OUT/ddp.txt"
import sys, pathlib, torch
from safetensors.torch import load_file
root, dev = pathlib.Path(sys.argv[1]), sys.argv[2]
print(f"device {dev}; torch {torch.__version__}; GPUs {torch.cuda.device_count()}")
for method in ("supervised", "dp", "hig"):
    one = root / f"{method}-one" / "model.safetensors"
    for other in ("torchrun", "ddp2"):
        f = root / f"{method}-{other}" / "model.safetensors"
        if not (one.exists() and f.exists()):
            print(f"{method} {other}: not run" + ("" if other == "ddp2" else " (failed)"))
            continue
        a, b = load_file(str(one)), load_file(str(f))
        apart = torch.cat([(a[k] - b[k]).flatten() for k in a]).norm()
        size = torch.cat([a[k].flatten() for k in a]).norm()
        print(f"{method} {other}: weights apart {float(apart):.3e} (|w| {float(size):.3e}, relative {float(apart / size):.1e})")
PYEOF
stamp "done"
