#!/usr/bin/env bash
# Data-parallel scaling on two cores: the same model and global batch trained as mpiexec -np 1
# with 2 threads and as mpiexec -np 2 with 1 thread each (gradients all-reduced in buckets during
# backward). Both go through mpiexec with one binding policy, each rank bound to as many cores as
# it has threads (--map-by slot:PE=N --bind-to core), so both use the same two cores; the
# bindings are printed (on a 2-core machine Open MPI reports np=1's as "bound to all available
# processors"). The two alternate for ROUNDS rounds. Each run's figures are medians over its steps
# after warm-up, from rank 0's metrics.jsonl: tokens/s (the global batch's tokens over the step's
# time, so the same measure at either world size), and the share of the step spent waiting on
# communication (comm_s over the step's seconds, which are the step's tokens over its tokens/s).
# The summary gives medians over rounds. np=2 runs at the defaults, then with the MPI progress
# thread and without it (distributed.progress_thread on and off): the step time it saves, and the share of the gradient bytes
# whose all-reduce had completed when backward ended (median over the traced steps of each run's
# --trace, from each bucket's done_in_backward). The model and batch are CONFIG's
# (configs/cpu-quick.toml unless given).
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

# Run NAME: RANKS processes of THREADS threads each, each bound to THREADS cores, with the
# further train options given; the run goes to $scratch/NAME, its trace to $scratch/NAME.json,
# the job summary to $scratch/summary-NAME and the bindings to $scratch/bindings-NAME.
train() {
  local name=$1 ranks=$2 threads=$3
  shift 3
  rm -rf "${scratch:?}/$name"
  mpiexec -np "$ranks" --map-by "slot:PE=$threads" --bind-to core --report-bindings \
    "$build/bin/poet_dist" "${common[@]}" --run-dir "$scratch/$name" --set "run.threads=$threads" \
    --trace "$scratch/$name.json" "$@" >"$scratch/summary-$name" 2>"$scratch/stderr" ||
    { cat "$scratch/stderr" >&2; exit 1; }
  grep 'MCW rank' "$scratch/stderr" >"$scratch/bindings-$name" ||
    { echo "scaling_bench: mpiexec --report-bindings reported no bindings" >&2; exit 1; }
}

# The median over a trace's steps of the share of gradient bytes all-reduced when backward ended.
done_in_backward() {
  python3 - "$1" <<'PY'
import json, statistics, sys
steps = {}
for e in json.load(open(sys.argv[1]))["traceEvents"]:
    if e.get("ph") == "X" and e["name"].startswith("all_reduce bucket "):
        # Buckets are numbered from 0 each step: a step's buckets follow its bucket 0.
        if e["name"] == "all_reduce bucket 0":
            steps[len(steps)] = [0, 0]
        step = steps[len(steps) - 1]
        step[0] += e["args"]["bytes"] * e["args"]["done_in_backward"]
        step[1] += e["args"]["bytes"]
print(f"{statistics.median(done / total for done, total in steps.values()):.4f}")
PY
}

# "TOKENS_PER_S COMM_SHARE" of a metrics.jsonl: medians over the steps after warm-up.
step_medians() {
  python3 - "$1" "$warmup" <<'PY'
import json, statistics, sys
records = [json.loads(line) for line in open(sys.argv[1])]
shares, rates = [], []
for before, r in list(zip([{"tokens": 0}] + records, records))[int(sys.argv[2]):]:
    step_s = (r["tokens"] - before["tokens"]) / r["tokens_per_s"]
    rates.append(r["tokens_per_s"])
    shares.append(r["comm_s"] / step_s)
print(f"{statistics.median(rates):.1f} {statistics.median(shares):.4f}")
PY
}

one=() two=() wait_share=() on=() on_wait=() off=() off_wait=() overlap=() off_overlap=()
for round in $(seq 1 "$rounds"); do
  train np1 1 2
  np1=$(step_medians "$scratch/np1/metrics.jsonl")
  train np2 2 1
  np2=$(step_medians "$scratch/np2/metrics.jsonl")
  train np2-on 2 1 --set distributed.progress_thread=on
  np2_on=$(step_medians "$scratch/np2-on/metrics.jsonl")
  train np2-off 2 1 --set distributed.progress_thread=off
  np2_off=$(step_medians "$scratch/np2-off/metrics.jsonl")
  a=${np1% *} b=${np2% *} share=${np2#* } d=${np2_on% *} on_share=${np2_on#* } c=${np2_off% *} off_share=${np2_off#* }
  if [ "$round" = 1 ]; then
    sed 's/^/np=1 x 2 threads: /' "$scratch/bindings-np1"
    sed 's/^/np=2 x 1 thread:  /' "$scratch/bindings-np2"
    sed -n 's/^ *\(\(bf16\|fp32\): run\.precision.*\)/precision: \1/p' "$scratch/summary-np2"
  fi
  awk -v r="$round" -v a="$a" -v b="$b" -v s="$share" -v d="$d" -v u="$on_share" -v c="$c" -v t="$off_share" 'BEGIN {
    printf "round %d: np=1 x 2 threads %.0f tokens/s; np=2 x 1 thread %.0f tokens/s, %.1f%% of the step waiting on communication; with the progress thread %.0f tokens/s, %.1f%% waiting; without it %.0f tokens/s, %.1f%% waiting\n", r, a, b, 100 * s, d, 100 * u, c, 100 * t
  }'
  one+=("$a") two+=("$b") wait_share+=("$share") on+=("$d") on_wait+=("$on_share") off+=("$c") off_wait+=("$off_share")
  overlap+=("$(done_in_backward "$scratch/np2-on.json")") off_overlap+=("$(done_in_backward "$scratch/np2-off.json")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
a=$(median "${one[@]}")
b=$(median "${two[@]}")
s=$(median "${wait_share[@]}")
d=$(median "${on[@]}")
u=$(median "${on_wait[@]}")
c=$(median "${off[@]}")
t=$(median "${off_wait[@]}")
o=$(median "${overlap[@]}")
p=$(median "${off_overlap[@]}")
tokens=$(sed -n 's/^model .*; \([0-9,]*\) tokens a step$/\1/p' "$scratch/summary-np2" | tr -d ,)
awk -v a="$a" -v b="$b" -v s="$s" -v d="$d" -v u="$u" -v c="$c" -v t="$t" -v o="$o" -v p="$p" -v n="$tokens" -v r="$rounds" 'BEGIN {
  printf "medians of %d rounds: np=1 x 2 threads %.0f, np=2 x 1 thread %.0f tokens/s\n", r, a, b
  printf "np=2 / np=1: %.2fx (target >= 0.9)\n", b / a
  printf "np=2 communication wait: %.1f%% of the step\n", 100 * s
  printf "np=2 progress thread: on %.0f, off %.0f tokens/s; step %.1f ms on, %.1f ms off (saved %.1f ms, %.1f%%)\n", d, c, 1000 * n / d, 1000 * n / c, 1000 * n / c - 1000 * n / d, 100 * (1 - c / d)
  printf "np=2 communication wait: %.1f%% of the step with the progress thread, %.1f%% without\n", 100 * u, 100 * t
  printf "np=2 gradient bytes all-reduced before backward ended: %.0f%% with the progress thread, %.0f%% without\n", 100 * o, 100 * p
}'
