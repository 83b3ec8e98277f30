#!/usr/bin/env bash
# The machine a results folder was measured on: CPU name, family and model, and the FP32 FMA
# peak `vitrim bench --peak` measures on it (2 threads). Used by the *-results.sh scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -m1 'model name' /proc/cpuinfo
grep -m1 'cpu family' /proc/cpuinfo
grep -m1 '^model\s' /proc/cpuinfo
./vitrim bench --peak --arch deit_tiny_patch16_224 --batch 1 --reduce none --rounds 1 --warmup 1 2>/dev/null | grep 'FMA peak'
