#!/usr/bin/env bash
# Regenerates docs/results/encoders (docs/encoders.md, Results): on each encoder family's small
# tower with seeded random weights — DINOv2-S with registers, CLIP ViT-B/16, SigLIP ViT-B/16,
# EVA02-S — (1) `vitrim bench` of every method at batch 32 and batch 1 on the first photos
# (speed-up against `none` in one process, MAC ratio beside it) and (2) how far each method moves the pooled embedding on
# the 1,000 ImageNet sample photos (`vitrim embed --compare`: cosine similarity to the dense
# embedding). Then tables.md and drift.svg (scripts/python/encoder_table.py, standard library).
# About 45 minutes on the 2-core machine; run it alone. Env: OUT, PHOTOS (a zip or folder of photos), ROUNDS, WARMUP (seconds), PY (default /usr/bin/python3).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
OUT=${OUT:-docs/results/encoders}
PHOTOS=${PHOTOS:-../shared/data/imagenet-samples/images.zip}
ROUNDS=${ROUNDS:-5}
WARMUP=${WARMUP:-10}
PY=${PY:-/usr/bin/python3}
mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# arch, then the methods: PPT and top-k score by the class token's attention, which SigLIP lacks
ARCHS=(vit_small_patch14_reg4_dinov2 vit_base_patch16_clip_224 vit_base_patch16_siglip_224 eva02_small_patch14_224)
methods() {
  local m=(tome:r=4 tome:r=8 tome:r=13 random:r=8 random:r=13 lgtm:r=13 ltmp:merge=0.9,prune=off)
  [[ "$1" == *siglip* ]] || m+=(ppt topk:r=13)
  # EVA02's MIM towers average the patch tokens: ToMe's size-weighted pooling (its MAE patch) beside timm's mean
  [[ "$1" == eva02* ]] && m+=(tome:r=8,pool=wavg tome:r=13,pool=wavg lgtm:r=13,pool=wavg ltmp:merge=0.9,prune=off,pool=wavg ppt:pool=wavg)
  printf '%s\n' "${m[@]}"
}
# all timings first, then the embedding drift (no timing; it can share the machine)
for a in "${ARCHS[@]}"; do
  red=()
  while read -r s; do red+=(--reduce "$s"); done < <(methods "$a")
  for b in 32 1; do
    [ -f "$OUT/bench-$a-b$b.json" ] && continue
    # the machine beside the timings (only when they are taken: a drift-only rerun may share the CPU)
    [ -n "${MACHINE_DONE:-}" ] || { atomic "$OUT/machine.txt" scripts/machine.sh; MACHINE_DONE=1; }
    # timed on the photos themselves (the first $b): LTMP and PPT reduce photos differently from noise
    # batch 1 is quick and noisier: six times the rounds
    ./vitrim bench --arch "$a" --img-size 224 --batch "$b" --images "$PHOTOS" --rounds $((b == 1 ? 6 * ROUNDS : ROUNDS)) --warmup "$WARMUP" \
      --reduce none "${red[@]}" --json > "$TMP/b.json"
    mv "$TMP/b.json" "$OUT/bench-$a-b$b.json"
  done
done
for a in "${ARCHS[@]}"; do
  [ -f "$OUT/drift-$a.json" ] && continue
  cmp=()
  while read -r s; do cmp+=(--compare "$s"); done < <(methods "$a")
  ./vitrim embed --arch "$a" --img-size 224 "$PHOTOS" --out "$TMP/e.npy" --json "${cmp[@]}" > "$TMP/d.json"
  mv "$TMP/d.json" "$OUT/drift-$a.json"
done
atomic "$OUT/tables.md" "$PY" scripts/python/encoder_table.py "$OUT"
