#!/usr/bin/env bash
# The learned points of the Pareto report on the 9-block model (issues 16 and 18): LTMP thresholds
# for five MAC targets and Token Cropr at three rates with and without LLF, plus the dense
# fine-tuning control, each from the embedded models/cifar10-vit9-c2 on 45,000 training images (5,000 held out,
# seeded: choices are made there), then the full pareto sweep on the 10,000 test images with those
# points. Every run is resumable: rerun the script after an interruption and finished runs are
# skipped, an unfinished one continues from its checkpoint. About 2 hours on the 2-core machine;
# run it alone (mkdir -p ~/runs && nohup scripts/embedded-vit9.sh > ~/runs/vit9.log 2>&1 &). RETIME=1 times every
# point of the sweep again (accuracy from the cache), e.g. after it ran on a busy machine.
#
# Rates: 64 patches, 9 blocks. Without LLF a module after blocks 0-7 (R <= 7); with LLF after 0-6
# and the last block on every token (R <= 8). R = 3/5/7 and 4/6/8 give about 1.25/1.45/1.8 and
# 1.25/1.45/1.65 fewer MACs.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-models/cifar10-vit9-c2}
DATA=../shared/data/cifar10
RUNS=${RUNS:-$HOME/runs/vit9}
OUT=${OUT:-docs/results}
mkdir -p "$RUNS"

run() { # run DIR ARGS...: resume an unfinished run, skip a finished one (from the same model)
  local dir=$1; shift
  if [ -f "$dir.done" ]; then
    local from; from=$(cat "$dir.done")
    if [ -n "$from" ] && [ "$from" != "$MODEL" ]; then
      echo "$dir was trained from $from, not $MODEL: remove it or set RUNS" >&2; exit 2
    fi
    echo "== $dir: done"; return
  fi
  if [ -f "$dir/checkpoint.safetensors" ]; then
    # an unfinished run continues only on the model it started from (--resume reads its own settings)
    if [ ! -f "$dir.from" ]; then
      echo "$dir: started before runs recorded their model; taking it as $MODEL's" >&2
      echo "$MODEL" > "$dir.from"
    elif [ "$(cat "$dir.from")" != "$MODEL" ]; then
      echo "$dir was started from $(cat "$dir.from"), not $MODEL: remove it or set RUNS" >&2; exit 2
    fi
    ./vitrim "$@" --resume --out "$dir"
  else
    rm -rf "$dir" # an LTMP run (one epoch, no checkpoint) starts over
    echo "$MODEL" > "$dir.from"
    ./vitrim "$@" --out "$dir"
  fi
  echo "$MODEL" > "$dir.done"
}

for t in 0.30 0.40 0.50 0.60 0.75; do
  run "$RUNS/ltmp-$t" finetune --method ltmp --model "$MODEL" --data "$DATA/train.zip" --holdout 5000 --target "$t"
done
for r in 3 5 7; do
  run "$RUNS/cropr-$r" finetune --method cropr --model "$MODEL" --rate "$r" --data "$DATA/train.zip" --holdout 5000
done
for r in 4 6 8; do
  run "$RUNS/cropr-$r-llf" finetune --method cropr --model "$MODEL" --rate "$r" --llf --data "$DATA/train.zip" --holdout 5000
done
# the same budget on the dense model: is a gain from the scorer or from the extra training?
run "$RUNS/dense-ft" train --init "$MODEL" --data "$DATA/train.zip" --holdout 5000 --epochs 1 --lr 1e-4 --min-lr 1e-6 --warmup 0.1 --layer-decay 0.75

mkdir -p "$OUT/ltmp"
for t in 0.30 0.40 0.50 0.60 0.75; do
  # (pareto's cache knows a point by its file's content: changed thresholds are measured again)
  cp "$RUNS/ltmp-$t/thresholds.safetensors" "$OUT/ltmp/target-$t.safetensors"
  cp "$RUNS/ltmp-$t/metrics.jsonl" "$OUT/ltmp/target-$t.metrics.jsonl"
done
points=()
for t in 0.30 0.40 0.50 0.60 0.75; do points+=(--point "ltmp:file=$OUT/ltmp/target-$t.safetensors"); done
for d in cropr-3 cropr-5 cropr-7 cropr-4-llf cropr-6-llf cropr-8-llf; do
  points+=(--point "cropr@$RUNS/$d" --point "cropr:scorer=random@$RUNS/$d")
done
points+=(--point "none@$RUNS/dense-ft")
[ "${RETIME:-0}" = 1 ] && points+=(--retime)
./vitrim pareto --model "$MODEL" --data "$DATA/test.zip" "${points[@]}" --out "$OUT"
