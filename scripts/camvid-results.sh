#!/usr/bin/env bash
# Regenerates docs/results/camvid for the CamVid segmentation model (docs/segmentation.md):
# the dense model on the test set (and per test sequence); every method swept on the *val* set
# (pruned tokens restored before the last block, llf, and after it, output), timed segmenting at
# batch 16; per method the best val point at >= 1.5x and >= 2x measured speed-up
# (scripts/python/seg_pick.py), then only those points on the 233 test images; the comparison
# figures; the independent mIoU check on 20 test images. Needs ../shared/data and Debian's
# python3 with numpy and PIL; about 30 minutes on the 2-core machine, best on an otherwise idle
# one. Points already measured (points.jsonl in each sweep folder) are reused, and machine.txt
# is written only with them: delete the folder to measure everything again.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
MODEL=${MODEL:-models/camvid-vit9}
OUT=${OUT:-docs/results/camvid}
DATA=$(data_dir camvid-results.sh "${DATA:-../shared/data/camvid}")
# a quick smoke test of this script: SMOKE="--limit 8 --rounds 1 --warmup 0" SMOKE_METHODS=tome,random,ppt
SMOKE=${SMOKE:-}
SMOKE_METHODS=${SMOKE_METHODS:-}
# numpy and PIL (Debian python3-numpy, python3-pil) for the independent mIoU check
PY=${PY:-/usr/bin/python3}
mkdir -p "$OUT"
FIG=$(mktemp -d)
SUB=$(mktemp -d)
trap 'rm -rf "$FIG" "$SUB"' EXIT

if [ ! -f "$OUT/machine.txt" ]; then
  atomic "$OUT/machine.txt" scripts/machine.sh
fi
atomic "$OUT/test-dense.json" ./vitrim eval --model "$MODEL" --data "$DATA/test.zip" --batch 16 --json
# per test sequence: 0001TP (dusk; 62 other frames of it are in the training set), Seq05VD (never trained on)
for seq in 0001TP Seq05VD; do
  rm -rf "${SUB:?}"/*
  (cd "$SUB" && unzip -q "$DATA/test.zip" "images/${seq}_*" "labels/${seq}_*")
  atomic "$OUT/test-dense-$seq.json" ./vitrim eval --model "$MODEL" --data "$SUB" --batch 16 --json
done

# the default grid jumps from no merging to 3.4x at ltmp:merge=0.95 on 768 tokens of street scene
# (sky and road are alike): finer thresholds and ToMe's decreasing schedule fill 1.5-2.5x
EXTRA=(--point ltmp:merge=0.99,prune=off --point ltmp:merge=0.98,prune=off --point ltmp:merge=0.97,prune=off
       --point tome:r=54,schedule=decreasing --point tome:r=65,schedule=decreasing
       --point lgtm:r=130,dense=2,switch=5 --point lgtm:r=150,dense=2,switch=5)
LLF_METHODS=()
OUTPUT_METHODS=(--methods random,topk,ppt,ltmp)
if [ -n "$SMOKE" ]; then
  EXTRA=()
  [ -n "$SMOKE_METHODS" ] && LLF_METHODS=(--methods "$SMOKE_METHODS") && OUTPUT_METHODS=(--methods "$SMOKE_METHODS")
fi
./vitrim pareto --model "$MODEL" --data "$DATA/val.zip" --batch 16 --restore llf $SMOKE "${LLF_METHODS[@]}" \
  "${EXTRA[@]}" --out "$OUT/val-llf"
./vitrim pareto --model "$MODEL" --data "$DATA/val.zip" --batch 16 --restore output $SMOKE "${OUTPUT_METHODS[@]}" \
  "${EXTRA[@]:0:6}" --out "$OUT/val-output"
atomic "$OUT/picks.txt" "$PY" scripts/python/seg_pick.py llf="$OUT/val-llf" output="$OUT/val-output"

# the picks on the test set, once each per restore mode (a merge-only pick, restore "-", under llf)
for restore in llf output; do
  red=()
  while read -r spec; do red+=(--reduce "$spec"); done < <(awk -v R="$restore" \
    '($2 == R || ($2 == "-" && R == "llf")) && !seen[$4]++ { print $4 }' "$OUT/picks.txt")
  rm -f "$OUT/test-$restore.json"
  [ ${#red[@]} -eq 0 ] && continue
  atomic "$OUT/test-$restore.json" ./vitrim eval --model "$MODEL" --data "$DATA/test.zip" --batch 16 --restore "$restore" --json "${red[@]}"
done

# figures: photo | ground truth | dense | the ~2x picks of ToMe, random, PPT and LTMP
rm -rf "${SUB:?}"/*
(cd "$FIG" && unzip -q "$DATA/test.zip" images/0001TP_008550.jpg labels/0001TP_008550.png \
   images/Seq05VD_f02370.jpg labels/Seq05VD_f02370.png images/0001TP_009300.jpg labels/0001TP_009300.png)
cmp=()
while read -r t r m spec rest; do
  if [ "$t" = 2.0 ] && { [ "$r" = llf ] || [ "$r" = - ]; } && [[ "$m" =~ ^(tome|random|ppt|ltmp)$ ]]; then cmp+=(--compare "$spec"); fi
done < "$OUT/picks.txt"
# made aside, replacing the committed figures only when all are done
rm -rf "$OUT/figures.tmp"
./vitrim segment --model "$MODEL" --restore llf "${cmp[@]}" "$FIG" --out "$OUT/figures.tmp"
rm -f "$OUT"/figures.tmp/*.mask.png "$OUT"/figures.tmp/*.overlay.png
rm -rf "$OUT/figures" && mv "$OUT/figures.tmp" "$OUT/figures"

# independent mIoU: 20 test images, vitrim eval vs numpy on vitrim segment's class-id masks
(cd "$SUB" && unzip -q "$DATA/test.zip" && ls images | sort | awk 'NR % 11 == 1' | head -20 > keep \
   && for f in images/*; do grep -qxF "$(basename "$f")" keep || { rm "$f" "labels/$(basename "${f%.*}").png"; }; done && rm keep)
atomic "$OUT/check-20-eval.json" ./vitrim eval --model "$MODEL" --data "$SUB" --json
./vitrim segment --model "$MODEL" --ids "$SUB" --out "$SUB/masks" > /dev/null
atomic "$OUT/check-20-numpy.json" "$PY" scripts/python/miou_check.py "$SUB/masks" "$SUB" --classes 11 --ignore 11
atomic "$OUT/tables.md" "$PY" scripts/python/seg_table.py "$OUT"
