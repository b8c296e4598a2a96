#!/usr/bin/env bash
# Training throughput on the CPU, poet_dist against PyTorch's Python API (Debian's python3-torch:
# the same LibTorch), in fp32 and in bf16, in one run on this machine. The machine is shared and
# noisy, so each round runs every side in both precisions, for ROUNDS rounds, and each figure is
# a median over rounds. Options after ROUNDS go to both programs, which take the same ones:
# --config configs/NAME.toml, --batch, --seq-len, --warmup, --steps. (A GPU's comparison is
# scripts/gpu-check.sh's bench stage.)
#
# The Python rows:
#   usual code: nn.LSTM and full logits, under torch.autocast("cpu", dtype=torch.bfloat16) for
#     bf16, on packed rows (poet_dist's) and on padded ones (the homework's batching).
#   poet_dist's algorithm: the same packed rows computed as poet_dist computes them, in Python.
# What poet_dist does differently from the usual code, both in the algorithm row:
#   - the output layer: poet_dist forms the logits, softmax and gradients 512 rows at a time
#     (model/chunked_cross_entropy.cpp); the usual code materialises (B*T, V) logits (bf16 under
#     autocast), copies them to fp32 and runs cross_entropy and its backward over them;
#   - the LSTM: poet_dist runs one torch::lstm call a layer, time-major, with the dropout
#     between layers its own (model/dropout_masks.h: the same at any world size), where nn.LSTM makes
#     one multi-layer call; in fp32 this is the only LSTM difference;
#   - the LSTM in bf16: poet_dist casts each layer's weights, input and state to bf16 and runs
#     the whole cell in bf16 (model/poet_model.cpp hidden()); CPU autocast in torch 1.13 casts
#     only the products' inputs, so the cell state and output stay fp32 and the hidden state is
#     cast back to bf16 at every time step (the "python compute" lines read this off).
# So "algorithm" (poet_dist's algorithm over the usual code, both in Python) is what those
# choices are worth, and "language and runtime" (poet_dist over its algorithm in Python) is the
# rest: the Python interpreter, the chunk loop and autograd function in Python, torch.optim's
# AdamW and clipping against LibTorch's C++ ones. The two multiply to poet_dist over Python on
# the identical packed workload.
# Usage: bench/train_bench.sh DATASET.h5 [BUILD_DIR] [ROUNDS] [OPTIONS...]
set -euo pipefail
usage="usage: bench/train_bench.sh DATASET.h5 [BUILD_DIR] [ROUNDS] [OPTIONS...]"
data=${1:?$usage}
build=${2:-build}
rounds=${3:-3}
options=("${@:4}")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for option in "${options[@]}"; do
  case $option in
    --bf16) echo "train_bench.sh: every round runs fp32 and bf16; --bf16 is not an option here" >&2; exit 2 ;;
    --device*) echo "train_bench.sh: compares on the CPU; scripts/gpu-check.sh compares on a GPU" >&2; exit 2 ;;
  esac
done

results=""
for round in $(seq 1 "$rounds"); do
  echo "round $round"
  for precision in fp32 bf16; do
    flag=()
    [ "$precision" = fp32 ] || flag=(--bf16)
    cpp=$("$build/bin/train_bench" --data "$data" "${options[@]}" "${flag[@]}")
    py=$(/usr/bin/python3 "$here/train_bench_python.py" --data "$data" --poet-algorithm "${options[@]}" "${flag[@]}")
    printf '%s\n%s\n' "$cpp" "$py" | grep -v '^RESULT' | sed "s/^/  $precision  /"
    results+=$(printf '%s\n%s\n' "$cpp" "$py" | sed -n "s/^RESULT /$precision /p")$'\n'
  done
done

# The median over rounds of KEY in PRECISION.
median() { echo "$results" | sed -n "s/^$1 $2=//p" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
figures=()
for key in cpp python_poet_dist_alg python_packed python_padded; do
  figures+=("$(median fp32 "${key}_tokens_per_s")" "$(median bf16 "${key}_tokens_per_s")")
done
awk -v r="$rounds" -v f="${figures[*]}" 'BEGIN {
  split(f, v, " ")
  split("poet_dist|Python, poet_dist\047s algorithm|Python, usual code (bf16: autocast)|Python, usual code, padded (useful tokens)", name, "|")
  printf "%-46s %9s %9s %10s\n", "medians of " r " rounds, tokens/s", "fp32", "bf16", "bf16/fp32"
  for (i = 1; i <= 4; ++i) printf "%-46s %9.0f %9.0f %9.2fx\n", name[i], v[2*i-1], v[2*i], v[2*i] / v[2*i-1]
  printf "%-46s %9s %9s\n", "poet_dist vs Python", "fp32", "bf16"
  printf "%-46s %8.2fx %8.2fx  (target >= 2)\n", "  homework batching (usual code, padded)", v[1] / v[7], v[2] / v[8]
  printf "%-46s %8.2fx %8.2fx  (target >= 1.0)\n", "  identical packed workload (usual code)", v[1] / v[5], v[2] / v[6]
  printf "%-46s %8.2fx %8.2fx\n", "  = algorithm (Python: poet_dist\047s / usual)", v[3] / v[5], v[4] / v[6]
  printf "%-46s %8.2fx %8.2fx\n", "  x language and runtime (poet_dist / Python)", v[1] / v[3], v[2] / v[4]
  print "algorithm: chunked output layer and cross-entropy; a torch.lstm call a layer; in bf16, the whole LSTM cell in bf16 (autocast: products only)"
  print "language and runtime: Python interpreter, Python chunk loop and autograd function, torch.optim vs LibTorch C++"
}'
