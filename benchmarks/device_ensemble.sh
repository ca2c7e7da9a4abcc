#!/bin/bash
# One prepared run on the lent GPU machine: the five members of an ensemble surrogate, side by side on
# the GPU. Member k: supervised pre-training of the base-32 U-Net on a bootstrap resample (--bootstrap --seed k) for
# P1_S seconds, then DP fine-tuning on the same resample for P2_S seconds (the shipped model's recipe,
# docs/surrogate.md); then each evaluated on data/datasets/test. Each member comes back as $OUT/member-k.tgz.
# Run from the repository root with .whl and .devdata carried (benchmarks/device_data.py; see device_train.sh):
#   bash benchmarks/device_ensemble.sh          (PY=.venv/bin/python K=2 P1_S=10 P2_S=5 to try on a CPU)
set -u
K=${K:-5}
P1=${P1_S:-240}
P2=${P2_S:-120}
source benchmarks/device_setup.sh

member() {  # k
  local k=$1 m=.devrun/e/member-$1
  $PY -m app.cli train --data .devrun/train --out $m-sup --device "$DEV" --steps 1000000 --eval-every 4000 -q \
    --method supervised --base 32 --bootstrap --seed "$k" --max-seconds "$P1" >.devrun/member-$k.log 2>&1 &&
    $PY -m app.cli train --data .devrun/train --out $m --device "$DEV" --steps 1000000 --eval-every 4000 -q \
      --method dp --init $m-sup --bootstrap --seed "$k" --max-seconds "$P2" >>.devrun/member-$k.log 2>&1 &&
    $PY -m app.cli evaluate --model $m --data data/datasets/test --device "$DEV" -q --json $m/test.json >/dev/null
  echo "member $k rc $? $(tail -1 .devrun/member-$k.log)"
}
for k in $(seq 0 $((K - 1))); do member "$k" & done
wait
stamp "trained"
$PY - <<'EOF' | tee "$OUT/summary.txt"
import json, pathlib
for m in sorted(pathlib.Path(".devrun/e").glob("member-?")):
    t = json.loads((m / "test.json").read_text()) if (m / "test.json").exists() else {}
    c = json.loads((m / "model.json").read_text())
    print(f"{m.name}: {c.get('step')} dp steps; test Cd median {100 * t.get('cd_rel_err_median', float('nan')):.3f}% "
          f"p95 {100 * t.get('cd_rel_err_p95', float('nan')):.3f}% max {100 * t.get('cd_rel_err_max', float('nan')):.2f}%")
EOF
for k in $(seq 0 $((K - 1))); do
  (cd .devrun/e && tar czf "$OUT/member-$k.tgz" --exclude=train_state.pt --exclude=metrics.jsonl member-$k)
done
cat .devrun/member-*.log | grep -v "^$" | tail -20 >"$OUT/logs.txt"
ls -la "$OUT"
stamp "done"
