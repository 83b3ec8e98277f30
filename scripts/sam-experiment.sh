#!/usr/bin/env bash
# Issue 23's experiment (docs/training.md, "The experiment"): two fine-tunes of the embedded model,
# identical but for the optimizer (AdamW, SAM rho 0.05) - same seed, data order, augmentation and
# schedule, fixed in advance -; the sharpness of the start point and both results (plain SAM
# radius 0.05 and ASAM's 0.5, 1,000 test images); then the pareto sweep of ToMe, LGTM, DFE only,
# PPT and random on both. Every step is resumable: rerun
# after an interruption, finished steps are skipped, an unfinished fine-tune continues from its
# checkpoint; last, drops.md and drops.svg (scripts/python/sam_fronts.py). Run it alone
# (mkdir -p ~/runs && nohup scripts/sam-experiment.sh > ~/runs/sam.log 2>&1 &).
# Env: MODEL (default models/cifar10-vit9-c2), EPOCHS (3), RUNS (~/runs/sam), OUT (docs/results/sam).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
MODEL=${MODEL:-models/cifar10-vit9-c2}
EPOCHS=${EPOCHS:-3}
DATA=../shared/data/cifar10
RUNS=${RUNS:-$HOME/runs/sam}
OUT=${OUT:-docs/results/sam}
mkdir -p "$RUNS" "$OUT"

step() { # step NAME CMD...: skip a finished step
  local name=$1; shift
  if [ -f "$RUNS/$name.done" ]; then echo "== $name: done"; return; fi
  echo "== $name: $*"
  "$@"
  touch "$RUNS/$name.done"
}
finetune() { # finetune DIR ARGS...: resume from the checkpoint if there is one (step skips a finished one)
  local dir=$1; shift
  if [ -f "$dir/checkpoint.safetensors" ]; then
    ./vitrim train --resume --out "$dir"
  else
    rm -rf "$dir"
    ./vitrim train --init "$MODEL" --data "$DATA/train.zip" --epochs "$EPOCHS" --lr 1e-4 --min-lr 1e-6 --warmup 0.1 "$@" --out "$dir"
  fi
}

[ -f "$OUT/machine.txt" ] || atomic "$OUT/machine.txt" scripts/machine.sh # the machine of the first run
step ft-adamw finetune "$RUNS/ft-adamw"
step ft-sam finetune "$RUNS/ft-sam" --optimizer sam --rho 0.05

sharp() { # sharp NAME DIR: both sharpness figures of one model, as JSON
  ./vitrim eval --model "$2" --data "$DATA/test.zip" --sharpness 0.05 --json > "$RUNS/sharp-$1.json.tmp"
  mv "$RUNS/sharp-$1.json.tmp" "$OUT/sharpness-$1.json"
  ./vitrim eval --model "$2" --data "$DATA/test.zip" --sharpness 0.5 --sharpness-adaptive --json > "$RUNS/asam-$1.json.tmp"
  mv "$RUNS/asam-$1.json.tmp" "$OUT/sharpness-asam-$1.json"
}
step sharp-start sharp start "$MODEL"
step sharp-adamw sharp adamw "$RUNS/ft-adamw"
step sharp-sam sharp sam "$RUNS/ft-sam"

# DFE only = LGTM whose local phase ends where it starts (switch = dense)
DFE=()
for r in 4 8 12 16 20; do DFE+=(--point "lgtm:r=$r,dense=1,switch=1"); done
step pareto-adamw ./vitrim pareto --model "$RUNS/ft-adamw" --data "$DATA/test.zip" --methods tome,lgtm,ppt,random "${DFE[@]}" \
  --out "$OUT/adamw"
step pareto-sam ./vitrim pareto --model "$RUNS/ft-sam" --data "$DATA/test.zip" --methods tome,lgtm,ppt,random "${DFE[@]}" \
  --out "$OUT/sam"
# the drops from each model's own dense top-1, at matched MACs, both fronts in one figure
python3 scripts/python/sam_fronts.py "$OUT/adamw" "$OUT/sam" "$OUT"
