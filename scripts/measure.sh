#!/usr/bin/env bash
# Re-measures the numbers in docs/performance.md on an otherwise idle machine (about 30 minutes on a
# Zen 5, longer on a Zen 4; the bench lines print the CPU family/model and its measured FMA peak).
# Usage: scripts/measure.sh [OUTDIR]   (logs land in OUTDIR, default bench-out/measure)
set -euo pipefail
cd "$(dirname "$0")/.."
JAVA=$(VITRIM_PRINT_JAVA=1 ./vitrim) # the JDK ./vitrim runs on (JDK 25 when installed: the AVX2 GEMM tile depends on it)
OUT="${1:-bench-out/measure}"
mkdir -p "$OUT"
T=2
METHODS=(--reduce tome:r=13 --reduce random:r=13 --reduce topk:r=13 --reduce ppt --reduce lgtm:r=13 --reduce lgtm:r=16,switch=2)
echo "== peak FMA throughput, JMH kernels are in vitrim-bench (mvn -Pbench)" | tee "$OUT/README"
./vitrim bench --arch deit_small_patch16_224 --batch 32 --threads $T --peak --breakdown "${METHODS[@]}" --warmup 30 --rounds 15 | tee "$OUT/deit_s_b32.txt"
# batch 1 moves between JVM processes by a few per cent: five forks, median and range
./vitrim bench --arch deit_small_patch16_224 --batch 1 --threads $T --peak --breakdown "${METHODS[@]}" --warmup 30 --rounds 80 --forks 5 | tee "$OUT/deit_s_b1.txt"
THREADS=$T scripts/bench-ort.sh | tee "$OUT/ort.txt"
echo "== GEMMs of 12 DeiT-S blocks at reduced token counts, weights cold (from memory) vs hot (cached)" | tee -a "$OUT/README"
"$JAVA" --add-modules jdk.incubator.vector -XX:+UseG1GC -cp vitrim-bench/target/vitrim-bench.jar io.vitrim.bench.ColdWeights $T 2>&1 \
  | grep -v '^WARNING: Using incubator modules' | tee "$OUT/cold_weights.txt"
