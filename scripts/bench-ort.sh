#!/usr/bin/env bash
# vitrim vs ONNX Runtime on the same DeiT-S weights, batch 32 and batch 1, in one process each.
# Needs Debian's PyTorch for the export (apt-get install -y python3-torch python3-onnx libopenblas0-pthread).
# Env: OUT (the exported model, default bench-out), THREADS (2), WARMUP (20), ROUNDS (15), PY (/usr/bin/python3).
set -euo pipefail
cd "$(dirname "$0")/.."
JAVA=$(VITRIM_PRINT_JAVA=1 ./vitrim) # the JDK ./vitrim runs on (JDK 25 when installed: the AVX2 GEMM tile depends on it)
OUT="${OUT:-bench-out}"
THREADS="${THREADS:-2}"
if [[ ! -f "$OUT/check.safetensors" ]]; then # written last: an export cut short is done again
  OMP_WAIT_POLICY=PASSIVE "${PY:-/usr/bin/python3}" scripts/python/export_onnx.py --arch deit_small_patch16_224 --out "$OUT"
fi
mvn -q -B -Pbench -DskipTests -pl vitrim-bench -am package
for b in 32 1; do
  "$JAVA" --add-modules jdk.incubator.vector -XX:+UseG1GC -jar vitrim-bench/target/vitrim-bench.jar "$OUT" "$b" "$THREADS" "${WARMUP:-20}" "${ROUNDS:-15}" 2>&1 \
    | grep -v '^WARNING: Using incubator modules'
done
