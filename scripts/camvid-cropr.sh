#!/bin/bash
# Token Cropr's segmentation variant on models/camvid-vit9 (docs/segmentation.md, Results):
# fine-tune with LLF and the curriculum at two rates, then measure each on CamVid val (mIoU and
# speed-up against its own dense pass, in one process) and test (the reported mIoU).
#   R=104: 7 modules (the first prunes R+1) leave 39 of 768 patch tokens + the class token
#          before LLF, analytic MAC ratio 1.96
#   R=64:  319 patch tokens left, MAC ratio 1.50
# Resumable: a finished rate leaves RUNS/camvid-cropr-rR.done; an interrupted one resumes.
# ≈ 1 h on 2 cores. Env: RUNS (default ~/runs), OUT (default docs/results/camvid), DATA, RATES.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
RUNS=${RUNS:-$HOME/runs}
OUT=${OUT:-docs/results/camvid}
DATA=$(data_dir camvid-cropr.sh "${DATA:-../shared/data/camvid}")
RATES=${RATES:-104 64}
mkdir -p "$RUNS" "$OUT"
for R in $RATES; do
  M=$RUNS/camvid-cropr-r$R
  if [ ! -f "$M.done" ]; then
    res=(); [ -f "$M/checkpoint.safetensors" ] && res=(--resume)
    ./vitrim finetune --method cropr --model models/camvid-vit9 --rate "$R" --llf --curriculum \
      --data "$DATA/train.zip" --eval-data "$DATA/val.zip" --epochs 16 --batch 16 --out "$M" "${res[@]}" \
      2>&1 | tee -a "$M.log" | { grep --line-buffered "done:" || true; }
    touch "$M.done"
  fi
  cp "$M/metrics.csv" "$OUT/cropr-r$R-metrics.csv"
  ./vitrim pareto --model models/camvid-vit9 --data "$DATA/val.zip" --batch 16 --restore llf --no-grid \
    --point "cropr@$M" --point "none@$M" --out "$OUT/val-cropr-r$R"
  atomic "$OUT/test-cropr-r$R.json" ./vitrim eval --model "$M" --data "$DATA/test.zip" --batch 16 --json --reduce cropr --reduce none
done
