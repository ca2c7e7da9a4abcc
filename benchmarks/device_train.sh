#!/bin/bash
# One prepared run on the lent GPU machine: candidates for the shipped model, and the four methods
# fine-tuning the same supervised model for the same wall time.
#  0. wheels (shapely, phiflow, phiml) into .devrun/site; the training set from .devdata/train.pack
#     (benchmarks/device_data.py: the checkout and the set must fit in 64 MiB);
#  1. three supervised runs side by side on the GPU for P1_S seconds each (U-Net base 32 batch 32 and 64, base 24);
#  2. from the best of them on the validation split: supervised, dp, sip and hig (with the field loss, weight 1;
#     hig also at a tenth of its learning rate) and dp alone, side by side for P2_S seconds each;
#  3. every model evaluated on data/datasets/test and on the validation split; models (weights, card, metrics)
#     and the evaluations come back under $OUT.
# Run from the repository root:   bash benchmarks/device_train.sh      (PY=.venv/bin/python P1_S=20 P2_S=10 to try)
set -u
P1=${P1_S:-240}
P2=${P2_S:-110}
source benchmarks/device_setup.sh

train() {  # name, then train's options
  local name=$1
  shift
  $PY -m app.cli train --data .devrun/train --out .devrun/m/$name --device "$DEV" --steps 1000000 --eval-every 2000 \
    -q "$@" >.devrun/$name.log 2>&1
  echo "$name rc $? $(tail -1 .devrun/$name.log)"
}
best_of() {  # the model with the lowest validation Cd error median
  $PY - "$@" <<'EOF'
import json, sys
scores = {}
for name in sys.argv[1:]:
    try:
        scores[name] = json.load(open(f".devrun/m/{name}/model.json"))["val_metrics"]["cd_rel_err_median"]
    except (OSError, KeyError, TypeError, ValueError):
        pass
print(min(scores, key=scores.get))
EOF
}

train sup32 --method supervised --base 32 --max-seconds "$P1" &
train sup32b64 --method supervised --base 32 --batch 64 --max-seconds "$P1" &
train sup24 --method supervised --base 24 --max-seconds "$P1" &
wait
stamp "phase 1 done"
B=$(best_of sup32 sup32b64 sup24)
BATCH=$([ "$B" = sup32b64 ] && echo 64 || echo 32)
stamp "fine-tuning from $B (batch $BATCH)"
train ft-supervised --method supervised --init .devrun/m/$B --lr 1e-4 --batch $BATCH --max-seconds "$P2" &
train ft-dp --method dp --init .devrun/m/$B --field-weight 1 --batch $BATCH --max-seconds "$P2" &
train ft-sip --method sip --init .devrun/m/$B --field-weight 1 --batch $BATCH --max-seconds "$P2" &
train ft-hig --method hig --init .devrun/m/$B --field-weight 1 --batch $BATCH --max-seconds "$P2" &
train ft-hig-lr0.03 --method hig --init .devrun/m/$B --field-weight 1 --lr 0.03 --batch $BATCH --max-seconds "$P2" &
train ft-dp-alone --method dp --init .devrun/m/$B --batch $BATCH --max-seconds "$P2" &
wait
stamp "phase 2 done"
for m in .devrun/m/*/; do
  n=$(basename "$m")
  $PY -m app.cli evaluate --model "$m" --data data/datasets/test --device "$DEV" -q --json .devrun/m/$n/test.json >/dev/null &
  $PY -m app.cli evaluate --model "$m" --data .devrun/train --split val --device "$DEV" -q --json .devrun/m/$n/val.json >/dev/null &
done
wait
stamp "evaluated"
$PY - <<'EOF' | tee "$OUT/summary.txt"
import json, pathlib
for m in sorted(pathlib.Path(".devrun/m").iterdir()):
    card = json.loads((m / "model.json").read_text())
    t = json.loads((m / "test.json").read_text()) if (m / "test.json").exists() else {}
    v = json.loads((m / "val.json").read_text()) if (m / "val.json").exists() else {}
    print(f"{m.name:14s} steps {card.get('step')} in {card.get('wall_s', 0):.0f} s; val Cd median "
          f"{100 * v.get('cd_rel_err_median', float('nan')):.3f}%; test Cd median "
          f"{100 * t.get('cd_rel_err_median', float('nan')):.3f}% p95 {100 * t.get('cd_rel_err_p95', float('nan')):.3f}%"
          f" max {100 * t.get('cd_rel_err_max', float('nan')):.2f}%; Cl/Cd {100 * t.get('cl_err_rel_cd_median', float('nan')):.3f}%;"
          f" field {100 * t.get('field_rel_err', float('nan')):.2f}%")
EOF
cat .devrun/*.log | grep -v "^$" | tail -40 >"$OUT/logs.txt"
(cd .devrun/m && tar czf "$OUT/models-sup.tgz" --exclude=train_state.pt sup* && tar czf "$OUT/models-ft.tgz" --exclude=train_state.pt ft-*)
ls -la "$OUT"
stamp "done"
