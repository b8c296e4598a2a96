#!/usr/bin/env bash
# Data-parallel scaling on this machine's cores: the same model and global batch trained as one
# process with 2 threads and as mpiexec -np 2 with 1 thread each (gradients all-reduced in
# buckets during backward). The two alternate for ROUNDS rounds; each run's figure is the median
# of its per-step tokens/s after warm-up, and the ratio is of the medians over rounds.
# Usage: bench/scaling_bench.sh DATASET.h5 [BUILD_DIR] [ROUNDS] [STEPS]
set -euo pipefail
data=${1:?usage: bench/scaling_bench.sh DATASET.h5 [BUILD_DIR] [ROUNDS] [STEPS]}
build=${2:-build}
rounds=${3:-3}
steps=${4:-40}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none

# The cpu-quick model, without evaluation or samples: only training steps are timed.
common=(train --config "$root/configs/cpu-quick.toml" --data "$data" --backend mpi
        --set "run.steps=$steps" --set run.eval_every=0 --set run.sample_every=0 --set run.checkpoint_every=0
        --set run.log_every=1000)

# Median tokens/s of the steps after the first five (allocation and cache warm-up).
step_median() {
  python3 - "$1" <<'PY'
import json, statistics, sys
rates = [json.loads(line)["tokens_per_s"] for line in open(sys.argv[1])][5:]
print(f"{statistics.median(rates):.0f}")
PY
}

one=() two=()
for round in $(seq 1 "$rounds"); do
  "$build/bin/poet_dist" "${common[@]}" --run-dir "$scratch/np1" --set run.threads=2 >/dev/null
  a=$(step_median "$scratch/np1/metrics.jsonl")
  mpiexec -np 2 --bind-to core "$build/bin/poet_dist" "${common[@]}" --run-dir "$scratch/np2" --set run.threads=1 >/dev/null
  b=$(step_median "$scratch/np2/metrics.jsonl")
  comm=$(python3 -c "import json,statistics;print(f'{statistics.median([json.loads(l)[\"comm_s\"] for l in open(\"$scratch/np2/metrics.jsonl\")][5:])*1000:.1f}')")
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
