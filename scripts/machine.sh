#!/usr/bin/env bash
# The machine a results folder was measured on: CPU name, family and model, and the FP32 FMA
# peak `vitrim bench --peak` measures on it (2 threads). Used by the *-results.sh scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -m1 'model name' /proc/cpuinfo || echo "model name	: unknown"   # (x86 fields; other CPUs name themselves otherwise)
grep -m1 'cpu family' /proc/cpuinfo || echo "cpu family	: unknown"
grep -m1 '^model\s' /proc/cpuinfo || echo "model		: unknown"
out=$(./vitrim bench --peak --arch deit_tiny_patch16_224 --batch 1 --reduce none --rounds 1 --warmup 1 2>&1) \
  || { printf '%s\n' "$out" >&2; echo "machine.sh: vitrim bench --peak failed" >&2; exit 1; }
grep 'FMA peak' <<<"$out"
