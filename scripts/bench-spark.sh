#!/usr/bin/env bash
# Spark local[2] throughput against `vitrim classify` on the same images and threads
# (docs/performance.md, "Spark"). Both rates are steady-state: `vitrim classify` is timed on the
# input once and three times in one process, and the difference divided by the extra images
# (JVM start, model load and JIT warm-up cancel out); the Spark job runs --repeat 4 times in one
# session and reports the median of runs 2-4. Both run on the same JVM (./vitrim-spark's: JAVA_HOME
# or the PATH's java), so ./vitrim is told not to pick a newer JDK. Run on an otherwise idle machine.
#   scripts/bench-spark.sh [ZIP] [SPEC]     (default: ../shared/data/cifar10/test.zip, none)
set -euo pipefail
cd "$(dirname "$0")/.."
ZIP="${1:-../shared/data/cifar10/test.zip}"
SPEC="${2:-none}"
[[ -f "$ZIP" ]] || { echo "bench-spark: $ZIP: no such file" >&2; exit 2; }
N="$(unzip -Z1 "$ZIP" | grep -ciE '\.(jpe?g|png|webp|bmp|gif)$' || true)"
(( N > 0 )) || { echo "bench-spark: $ZIP: no images" >&2; exit 2; }

export VITRIM_PREFER_NEWEST_JDK=0
# seconds a command takes; a failing command fails the script (a command substitution ignores set -e)
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null || return; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'; }
calc() { awk "BEGIN { print $1 }"; }

./vitrim classify "$ZIP" --threads 2 --reduce "$SPEC" --json >/dev/null   # builds the jar if needed
t1=$(secs ./vitrim classify "$ZIP" --threads 2 --reduce "$SPEC" --json)
t3=$(secs ./vitrim classify "$ZIP" "$ZIP" "$ZIP" --threads 2 --reduce "$SPEC" --json)
classify=$(calc "2 * $N / ($t3 - $t1)")
printf 'vitrim classify: %d images in %.2f s, 3x in %.2f s -> %.1f images/s\n' "$N" "$t1" "$t3" "$classify"

tmpd="$(mktemp -d)"
trap 'rm -rf "$tmpd"' EXIT
for threads in 1 2; do
  out="$tmpd/bench-$threads.parquet"
  line=$(./vitrim-spark classify --master 'local[2]' --input "$ZIP" --output "$out" --reduce "$SPEC" \
         --threads "$threads" --repeat 4 2>"$tmpd/spark.err") || { cat "$tmpd/spark.err" >&2; exit 1; }
  rate=$(sed -E 's/.*"images_per_s":([0-9.]+).*/\1/' <<<"$line")
  printf 'vitrim-spark local[2], model threads %d: %s images/s = %.3f x vitrim classify   %s\n' \
    "$threads" "$rate" "$(calc "$rate / $classify")" "$line"
done
