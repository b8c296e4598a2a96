#!/usr/bin/env bash
# Training throughput, poet_dist against PyTorch's Python API (Debian's python3-torch: the same
# LibTorch), in one run on this machine. The machine is shared and noisy, so the two alternate
# for ROUNDS rounds and each side's median is compared. Options after ROUNDS go to both programs,
# which take the same ones: --config configs/NAME.toml, --batch, --seq-len, --warmup, --steps,
# --device, --bf16.
# Usage: bench/train_bench.sh DATASET.h5 [BUILD_DIR] [ROUNDS] [OPTIONS...]
set -euo pipefail
usage="usage: bench/train_bench.sh DATASET.h5 [BUILD_DIR] [ROUNDS] [OPTIONS...]"
data=${1:?$usage}
build=${2:-build}
rounds=${3:-3}
options=("${@:4}")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

results=""
for round in $(seq 1 "$rounds"); do
  echo "round $round"
  cpp=$("$build/bin/train_bench" --data "$data" "${options[@]}")
  py=$(/usr/bin/python3 "$here/train_bench_python.py" --data "$data" "${options[@]}")
  printf '%s\n%s\n' "$cpp" "$py" | grep -v '^RESULT' | sed 's/^/  /'
  results+=$(printf '%s\n%s\n' "$cpp" "$py" | grep '^RESULT')$'\n'
done

median() { echo "$results" | sed -n "s/^RESULT $1=//p" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
c=$(median cpp_tokens_per_s)
padded=$(median python_padded_tokens_per_s)
packed=$(median python_packed_tokens_per_s)
awk -v c="$c" -v p="$padded" -v k="$packed" -v r="$rounds" 'BEGIN {
  printf "medians of %d rounds: poet_dist %.0f, Python padded %.0f (useful), Python packed %.0f tokens/s\n", r, c, p, k
  printf "poet_dist useful tokens/s vs Python padded (homework batching): %.2fx (target >= 2)\n", c / p
  printf "poet_dist vs Python on the identical packed workload:          %.2fx (target >= 1.0)\n", c / k
}'
