#!/usr/bin/env bash
# fp32 against bf16 on this machine, side by side in one run: training speed (train_bench, the
# two precisions alternating for ROUNDS rounds, medians), the FLOP rate each reaches against the
# fp32 and bf16 matrix-product peaks measured in the same rounds, and quality: poet_dist train of
# CONFIG for STEPS steps in each precision, from the same seed, and the validation loss each ends
# at (computed in fp32 for both, so only the training differs).
# Usage: bench/precision_bench.sh DATASET.h5 [BUILD_DIR] [ROUNDS] [STEPS] [CONFIG]
set -euo pipefail
usage="usage: bench/precision_bench.sh DATASET.h5 [BUILD_DIR] [ROUNDS] [STEPS] [CONFIG]"
data=${1:?$usage}
build=${2:-build}
rounds=${3:-3}
steps=${4:-700}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
config=${5:-$root/configs/cpu-quick.toml}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# One train_bench run, its lines shown, its figures appended to array NAME as
# "TOKENS_PER_S ACHIEVED_GFLOPS PEAK_GFLOPS", read off
#   poet_dist flops  370.3 GFLOP/s achieved; LibTorch 1024x1024 bf16 matmul 931.7 GFLOP/s (40%)
#   RESULT cpp_tokens_per_s=8790.0
speed() {
  local -n into=$1
  local out
  out=$("$build/bin/train_bench" --data "$data" --config "$config" --warmup 2 --steps 10 "${@:2}")
  printf '%s\n' "$out" | grep -v '^RESULT' | sed 's/^/  /'
  into+=("$(printf '%s\n' "$out" | awk '/^RESULT cpp_tokens_per_s=/ {split($0, kv, "="); t = kv[2]}
    /^poet_dist flops/ {a = $3; for (i = 1; i <= NF; ++i) if ($i == "matmul") p = $(i + 1)}
    END {print t, a, p}')")
}

fp32=() bf16=()
for round in $(seq 1 "$rounds"); do
  echo "round $round"
  speed fp32
  speed bf16 --bf16
done

# The median of column COLUMN of the given "tokens achieved peak" lines.
median() {
  local column=$1
  shift
  printf '%s\n' "$@" | awk -v c="$column" '{print $c}' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}

# Quality: the same run in each precision. Sets PRECISION_loss (of its last evaluation) and
# PRECISION_s (its wall time); a run that fails ends the benchmark with its output.
quality() {
  local precision=$1 start
  start=$(date +%s.%N)
  "$build/bin/poet_dist" train --config "$config" --data "$data" --run-dir "$scratch/$precision" \
    --set "run.precision=$precision" --set "run.steps=$steps" --set run.eval_every=0 --set run.sample_every=0 \
    --set run.checkpoint_every=0 --set run.log_every=100000 >"$scratch/$precision.out" 2>&1 ||
    { cat "$scratch/$precision.out" >&2; exit 1; }
  printf -v "${precision}_s" '%s' "$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {print b - a}')"
  printf -v "${precision}_loss" '%s' "$(tail -n 1 "$scratch/$precision/metrics.jsonl" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["val_loss"])')"
}
echo "quality: $steps steps of $(basename "$config") in each precision"
quality fp32
quality bf16
grep -h --no-group-separator -A1 '^compute' "$scratch/fp32.out" "$scratch/bf16.out" | sed 's/^/  /'

peak32=$(median 3 "${fp32[@]}")
peak16=$(median 3 "${bf16[@]}")
awk -v r="$rounds" -v steps="$steps" -v t32="$(median 1 "${fp32[@]}")" -v t16="$(median 1 "${bf16[@]}")" \
  -v g32="$(median 2 "${fp32[@]}")" -v g16="$(median 2 "${bf16[@]}")" -v p32="$peak32" -v p16="$peak16" \
  -v l32="$fp32_loss" -v l16="$bf16_loss" -v s32="$fp32_s" -v s16="$bf16_s" 'BEGIN {
  printf "medians of %d rounds; matrix-product peaks (LibTorch 1024x1024): fp32 %.0f, bf16 %.0f GFLOP/s\n", r, p32, p16
  printf "precision  tokens/s  GFLOP/s  of fp32 peak  of bf16 peak  val loss after %d steps (seconds)\n", steps
  printf "fp32       %8.0f  %7.1f  %11.0f%%  %11.0f%%  %.4f (%.0f s)\n", t32, g32, 100 * g32 / p32, 100 * g32 / p16, l32, s32
  printf "bf16       %8.0f  %7.1f  %11.0f%%  %11.0f%%  %.4f (%.0f s)\n", t16, g16, 100 * g16 / p32, 100 * g16 / p16, l16, s16
  printf "bf16 / fp32 tokens/s: %.2fx (target >= 1.7)\n", t16 / t32
  printf "bf16 val loss vs fp32: %+.2f%% (target within 1%%)\n", 100 * (l16 - l32) / l32
}'
