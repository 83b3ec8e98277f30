#!/usr/bin/env bash
# Regenerates docs/results for the embedded CIFAR-10 model (models/cifar10-vit9-c2, 9 blocks):
# the pareto report on the full test set (scripts/embedded-vit9.sh: it first trains the learned
# points — LTMP thresholds, Token Cropr, the dense control; about 2 hours, resumable), then
# visualisations on samples/ and on ImageNet photos of CIFAR-10's classes (seen at 32×32).
# PARETO=0 makes only the visualisations (a few minutes). Needs ../shared/data; best on an
# otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
OUT=docs/results
DATA=../shared/data
if [ "${PARETO:-1}" != 0 ]; then
  scripts/embedded-vit9.sh
fi

# a photo for nine of the ten CIFAR-10 classes from the ImageNet samples (they hold no deer)
PHOTOS=$(mktemp -d)
trap 'rm -rf "$PHOTOS"' EXIT
unzip -q -j "$DATA/imagenet-samples/images.zip" -d "$PHOTOS" \
  n02690373_airliner.jpg n04285008_sports_car.jpg n01531178_goldfinch.jpg n02123045_tabby.jpg \
  n02099601_golden_retriever.jpg n01644373_tree_frog.jpg n02389026_sorrel.jpg n03095699_container_ship.jpg \
  n03345487_fire_engine.jpg
photos() { ./vitrim classify "$PHOTOS" --compare tome:r=8 | sed "s#$PHOTOS/#imagenet-samples/images.zip:#"; }
atomic "$OUT/imagenet-photos.txt" photos

# the pictures are made aside and replace the committed ones only when all of them are done
VIZ="$OUT/viz.tmp"
rm -rf "$VIZ"
# 64 patches, 9 blocks: r = 8 per block is about 2.2x fewer MACs
for spec in tome:r=8 ppt:r=16,layers=2/5/7,threshold=6.57e-4 lgtm:r=8,dense=2,switch=5 topk:r=8 random:r=8 \
    ltmp:file=$OUT/ltmp/target-0.50.safetensors; do
  ./vitrim visualize --reduce "$spec" --every-block --out "$VIZ" samples/cat_0000.jpg samples/ship_0000.jpg samples/horse_0001.jpg
done
./vitrim visualize --reduce tome:r=8 --every-block --out "$VIZ" "$PHOTOS"
./vitrim visualize --reduce ppt:r=16,layers=2/5/7,threshold=6.57e-4 --out "$VIZ" "$PHOTOS"
rm -rf "$OUT/viz" && mv "$VIZ" "$OUT/viz"
