#!/usr/bin/env bash
# Data-parallel scaling on this machine's cores: the same model and global batch trained as one
# process with 2 threads and as mpiexec -np 2 with 1 thread each (gradients all-reduced in
# buckets during backward). The two alternate for ROUNDS rounds; each run's figure is the median
# of its per-step tokens/s after warm-up, and the ratio is of the medians over rounds. The model
# and batch are CONFIG's (configs/cpu-quick.toml unless given).
# Usage: bench/scaling_bench.sh DATASET.h5 [BUILD_DIR] [ROUNDS] [STEPS] [CONFIG]
set -euo pipefail
data=${1:?usage: bench/scaling_bench.sh DATASET.h5 [BUILD_DIR] [ROUNDS] [STEPS] [CONFIG]}
build=${2:-build}
rounds=${3:-3}
steps=${4:-40}
warmup=5  # steps left out of each run's figures: allocation and cache warm-up
[ "$steps" -gt "$warmup" ] || { echo "scaling_bench: STEPS must be more than the $warmup warm-up steps" >&2; exit 2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
config=${5:-$root/configs/cpu-quick.toml}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none

# Without evaluation or samples: only training steps are timed.
common=(train --config "$config" --data "$data" --backend mpi
        --set "run.steps=$steps" --set run.eval_every=0 --set run.sample_every=0 --set run.checkpoint_every=0
        --set run.log_every=1000)

# The median of FIELD of a metrics.jsonl over the steps after warm-up, times SCALE.
step_median() {
  python3 - "$@" "$warmup" <<'PY'
import json, statistics, sys
path, field, scale, warmup = sys.argv[1:]
values = [json.loads(line)[field] for line in open(path)][int(warmup):]
print(f"{statistics.median(values) * float(scale):.1f}")
PY
}

one=() two=()
for round in $(seq 1 "$rounds"); do
  "$build/bin/poet_dist" "${common[@]}" --run-dir "$scratch/np1" --set run.threads=2 >/dev/null
  a=$(step_median "$scratch/np1/metrics.jsonl" tokens_per_s 1)
  mpiexec -np 2 --bind-to core "$build/bin/poet_dist" "${common[@]}" --run-dir "$scratch/np2" --set run.threads=1 >/dev/null
  b=$(step_median "$scratch/np2/metrics.jsonl" tokens_per_s 1)
  comm=$(step_median "$scratch/np2/metrics.jsonl" comm_s 1000)
  echo "round $round: np=1 x 2 threads $a tokens/s; np=2 x 1 thread $b tokens/s (median wait on communication $comm ms a step)"
  one+=("$a") two+=("$b")
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
a=$(median "${one[@]}")
b=$(median "${two[@]}")
awk -v a="$a" -v b="$b" -v r="$rounds" 'BEGIN {
  printf "medians of %d rounds: np=1 x 2 threads %.0f, np=2 x 1 thread %.0f tokens/s\n", r, a, b
  printf "np=2 / np=1: %.2fx (target >= 0.9)\n", b / a
}'
