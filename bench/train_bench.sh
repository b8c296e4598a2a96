#!/usr/bin/env bash
# Training throughput, poet_dist against PyTorch's Python API (Debian's python3-torch: the same
# LibTorch), in one run on this machine. Usage: bench/train_bench.sh DATASET.h5 [BUILD_DIR]
set -euo pipefail
data=${1:?usage: bench/train_bench.sh DATASET.h5 [BUILD_DIR]}
build=${2:-build}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

cpp=$("$build/bin/train_bench" --data "$data")
echo "$cpp" | grep -v '^RESULT'
py=$(/usr/bin/python3 "$here/train_bench_python.py" --data "$data")
echo "$py" | grep -v '^RESULT'

value() { echo "$cpp$py" | sed -n "s/^RESULT $1=//p"; }
c=$(value cpp_tokens_per_s)
padded=$(value python_padded_tokens_per_s)
packed=$(value python_packed_tokens_per_s)
awk -v c="$c" -v p="$padded" -v k="$packed" 'BEGIN {
  printf "poet_dist useful tokens/s vs Python padded (homework batching): %.2fx (target >= 2)\n", c / p
  printf "poet_dist vs Python on the identical packed workload:          %.2fx (target >= 1.0)\n", c / k
}'
