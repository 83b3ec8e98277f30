#!/usr/bin/env bash
# Training speed of a CIFAR-10 model shape (issue 18's docs/performance.md row, issue 23's SAM
# ratio): (1) full training steps on random images, no data loading (vitrim-bench TrainThroughput:
# dense, drop path, ToMe r=4 in the graph, SAM), medians of 5 rounds after two warm-up rounds;
# (2) one real epoch of `vitrim train` on 12,800 training images with and without drop path and
# RandAugment, and with ToMe r=4 in the graph: images/s with data loading and the seconds the loop waited for batches
# (metrics.csv data_wait_seconds). Run it alone on a quiet machine, ~10 minutes.
# Env: MODEL (models/cifar10-vit9: a 32x32, patch-4, 10-class model, the shape TrainThroughput
# builds), DATA (../shared/data/cifar10/train.zip), OUT (the runs' folder, default a new temporary one).
set -euo pipefail
cd "$(dirname "$0")/.."
JAVA=$(VITRIM_PRINT_JAVA=1 ./vitrim) # the JDK ./vitrim runs on (JDK 25 when installed: the AVX2 GEMM tile depends on it)
MODEL=${MODEL:-models/cifar10-vit9}
DATA=${DATA:-../shared/data/cifar10/train.zip}
OUT=${OUT:-$(mktemp -d)}
[ -f "$DATA" ] || { echo "train-speed.sh: $DATA is missing (the ../shared CIFAR-10 training zip)" >&2; exit 2; }
[ -f "$MODEL/config.json" ] || { echo "train-speed.sh: $MODEL/config.json is missing" >&2; exit 2; }
read -r DIM DEPTH HEADS MLP < <(python3 - "$MODEL/config.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["model_args"]
if a.get("img_size", 224) != 32 or a.get("patch_size") != 4 or float(a.get("mlp_ratio", 4)) % 1:
    sys.exit(f"train-speed.sh: {sys.argv[1]} is not a 32x32, patch-4 model with an integer MLP ratio")
print(a["embed_dim"], a["depth"], a["num_heads"], int(a.get("mlp_ratio", 4)))
PY
)
echo "runs and logs in $OUT"
scripts/machine.sh
mvn -q -B -Pbench -DskipTests -pl vitrim-bench -am package
"$JAVA" --add-modules jdk.incubator.vector -XX:+UseG1GC -cp vitrim-bench/target/vitrim-bench.jar io.vitrim.bench.TrainThroughput \
  "$DIM" "$DEPTH" "$HEADS" "$MLP" 128 5 10 2 none none+dp=0.1 tome:r=4 tome:r=4+dp=0.1 none+sam 2> "$OUT/throughput.err" \
  || { cat "$OUT/throughput.err" >&2; exit 1; }
echo "one epoch of vitrim train on 12,800 images (batch 128, --init $MODEL):"
printf '%-55s %8s %10s\n' "options" "img/s" "data wait"
for opts in "" "--drop-path 0.1" "--randaugment 2,9" "--drop-path 0.1 --randaugment 2,9" "--drop-path 0.1 --randaugment 2,9 --reduce tome:r=4"; do
  dir="$OUT/run-$(echo "x$opts" | tr -c 'a-z0-9' '_')"
  rm -rf "$dir"
  # shellcheck disable=SC2086
  ./vitrim train --init "$MODEL" --data "$DATA" --limit 12800 --epochs 1 --warmup 0 --lr 1e-5 $opts --out "$dir" > "$dir.log" 2>&1 \
    || { echo "train-speed.sh: vitrim train $opts failed:" >&2; tail -5 "$dir.log" >&2; exit 1; }
  python3 - "$dir/metrics.csv" "${opts:-(crop + flip only)}" <<'PY'
import csv, sys
row = list(csv.DictReader(open(sys.argv[1])))[-1]
print(f"{sys.argv[2]:<55} {float(row['images_per_s']):8.1f} {float(row['data_wait_seconds']):9.2f}s")
PY
done
