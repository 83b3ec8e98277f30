#!/usr/bin/env bash
# Regenerates docs/results for the embedded CIFAR-10 model: the pareto sweep on the full test set
# and visualisations on samples/ and on ImageNet photos of CIFAR-10's classes (seen at 32×32).
# Needs ../shared/data; about 15 minutes on the 2-core machine, best on an otherwise idle one.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=docs/results
DATA=../shared/data
./vitrim pareto --out "$OUT" --data "$DATA/cifar10/test.zip"

# one photo per CIFAR-10 class from the ImageNet samples
PHOTOS=$(mktemp -d)
trap 'rm -rf "$PHOTOS"' EXIT
unzip -q -j "$DATA/imagenet-samples/images.zip" -d "$PHOTOS" \
  n02690373_airliner.jpg n04285008_sports_car.jpg n01531178_goldfinch.jpg n02123045_tabby.jpg \
  n02099601_golden_retriever.jpg n01644373_tree_frog.jpg n02389026_sorrel.jpg n03095699_container_ship.jpg \
  n03345487_fire_engine.jpg
./vitrim classify "$PHOTOS" --compare tome:r=12 | sed "s#$PHOTOS/#imagenet-samples/images.zip:#" > "$OUT/imagenet-photos.txt"

VIZ="$OUT/viz"
rm -rf "$VIZ"
for spec in tome:r=12 ppt:r=16,layers=1/2/3,threshold=6.57e-4 lgtm:r=12,dense=1,switch=2 topk:r=12 random:r=12; do
  ./vitrim visualize --reduce "$spec" --every-block --out "$VIZ" samples/cat_0000.jpg samples/ship_0000.jpg samples/horse_0001.jpg
done
./vitrim visualize --reduce tome:r=12 --every-block --out "$VIZ" "$PHOTOS"
./vitrim visualize --reduce ppt:r=16,layers=1/2/3,threshold=6.57e-4 --out "$VIZ" "$PHOTOS"
