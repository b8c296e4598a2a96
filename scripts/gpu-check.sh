#!/usr/bin/env bash
# The GPU check: one script for a GPU machine that has CUDA, a C++ compiler and a CUDA PyTorch
# but no package registry and none of Debian's packages. It is sized for one H200 with 16 cores
# and ends within 9 minutes whatever happens: each stage has its own time limit, and none runs
# past POET_GPU_CHECK_BUDGET (540 s by default) from the start. Stages, each printing PASS or
# FAIL with its figures:
#   1. preflight   the carried packages unpacked (scripts/gpu-env.sh) and every library in them
#                  resolved by ldd; the tools; torch, CUDA, cuDNN and NCCL versions; the GPU; data;
#   2. build       poet_dist, poet_tests, poet_mpi_tests, train_bench and checkpoint_diff with all
#                  cores, against the PyTorch wheel's CUDA LibTorch (torch.utils.cmake_prefix_path)
#                  and the NCCL PyTorch loads; ldd of every built binary;
#   3. nccl        the communicator tests and the one-process CUDA tests, then `tiny` for 20 steps
#                  under mpiexec -np 1 with --backend nccl and with --backend mpi (CUDA tensors
#                  staged through host memory): parameters within 1e-5;
#   4. precision   `tiny` and `cpu-quick` on CUDA in fp32 and bf16: the loss falls, and the bf16
#                  validation loss after the same steps is within 2% of fp32's;
#   5. checkpoints `tiny` for 40 steps, against 20 steps, a stop and --resume auto to 40: the two
#                  step-40 checkpoints within 1e-6; sample and evaluate of that GPU checkpoint on
#                  the CPU alone (CUDA_VISIBLE_DEVICES=);
#   6. bench       one round of train_bench against bench/train_bench_python.py on the GPU, for the
#                  cpu-quick and tang-8gpu models, fp32 and bf16: tokens/s and their ratio.
# Stages 3 to 6 need the build and are skipped without it; the others run whatever failed before.
# The log goes to $OUT/gpu-check.log and the verdict, stage by stage with seconds and figures, to
# $OUT/summary.json (written after every stage); without OUT both go to /tmp/poet-gpu-check/out.
# The exit code is the number of stages that did not pass.
#
# What to carry to the GPU machine (64 MiB in all, with the working tree):
#   .gpu-deps/   scripts/gpu-deps.sh fills it on a Debian 12 machine (29 MB; the packages
#                and the libraries they load, checked here by scripts/gpu-rehearsal.sh);
#   the dataset  `build/bin/poet_dist prepare --output runs/tang.h5` on the full corpus (5.5 MB).
# Usage: scripts/gpu-check.sh [DATASET.h5]   (default runs/tang.h5)
# shellcheck disable=SC2317  # the stages are functions that the --stage call names
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/gpu-env.sh
source scripts/gpu-env.sh
work=/tmp/poet-gpu-check
build=$root/build-gpu

# ---------------------------------------------------------------------------
# A stage runs as `gpu-check.sh --stage NAME` under timeout: its own process, so that the limit
# ends everything it started. It reports figures through figure().

figure() {  # KEY VALUE: one of the stage's figures, printed and kept for summary.json
  local value=${2//$'\n'/ }
  printf '  %-24s %s\n' "$1" "$value"
  printf '%s\t%s\n' "$1" "$value" >>"$work/figures/$POET_GPU_STAGE.tsv"
}

# What every stage process runs in: the carried packages, and the NCCL that PyTorch loads (found
# by the build stage, so that one process holds one NCCL).
stage_env() {
  poet_deps_env
  nccl_lib=$(cat "$work/nccl-library" 2>/dev/null || true)
  [ -z "$nccl_lib" ] || export LD_LIBRARY_PATH=${nccl_lib%/*}:$LD_LIBRARY_PATH
}

seconds_since() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}'; }

# The metrics of a run directory: the first and last training loss and the last validation loss.
losses() {
  poet_host_python - "$1/metrics.jsonl" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
vals = [r["val_loss"] for r in rows if "val_loss" in r]
print(rows[0]["loss"], rows[-1]["loss"], vals[-1] if vals else "nan", rows[-1]["step"])
EOF
}

gtest_counts() {  # GTEST_OUTPUT: "N passed, M skipped"
  local passed skipped
  passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\{0,1\}\./\1/p' <<<"$1")
  skipped=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) tests\{0,1\}, listed below:/\1/p' <<<"$1")
  echo "${passed:-0} passed, ${skipped:-0} skipped"
}

# The number in checkpoint_diff's "largest parameter difference 3.1e-07 (lstm.weight_hh_l0); ...".
largest_difference() { sed -n 's/^largest parameter difference \([^ ]*\) .*/\1/p' <<<"$1"; }

# poet_dist train on the GPU, its log in RUN_DIR.log and its summary lines on stdout.
train() {  # RUN_DIR ARGS...
  local run=$1
  shift
  "$build/bin/poet_dist" train --data "$POET_GPU_DATA" --run-dir "$run" --progress plain --set run.device=cuda "$@" \
    >"$run.log" 2>&1 || { tail -20 "$run.log"; return 1; }
  { grep -E "^(poet_dist train|compute|eval |done )" "$run.log" || true; } | sed 's/^/    /'
}

stage_preflight() {
  local ok=0 start tool found libs
  start=$(date +%s.%N)
  poet_deps_unpack
  figure unpack_s "$(seconds_since "$start")"
  figure gpu_deps_mb "$(du -sm .gpu-deps | cut -f1)"
  poet_deps_env
  for tool in cmake ninja c++ pkg-config nvcc mpiexec; do
    found=$(command -v "$tool" || true)
    [ -n "$found" ] || [ "$tool" != nvcc ] || found=$(command -v /usr/local/cuda/bin/nvcc || true)
    if [ -z "$found" ]; then echo "  missing: $tool"; ok=1; fi
    figure "$tool" "${found:-missing} $({ "${found:-false}" --version 2>/dev/null || true; } |
      grep -Eo '[0-9]+\.[0-9]+(\.[0-9]+)?' | head -1)"
  done
  figure gpu "$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo none)"
  local versions
  versions=$(poet_host_python -c 'import torch
nccl = torch.cuda.nccl.version()
print(torch.__version__, torch.version.cuda, torch.backends.cudnn.version(),
      ".".join(map(str, nccl)) if isinstance(nccl, tuple) else nccl, torch.cuda.is_available())') || ok=1
  read -r torch cuda cudnn nccl available <<<"${versions:-none none none none False}"
  figure torch "$torch"
  figure torch_cuda "$cuda"
  figure cudnn "$cudnn"
  figure torch_nccl "$nccl"
  figure cuda_available "$available"
  [ "$available" = True ] || ok=1
  mapfile -t libs < <(find "$POET_DEPS" -type f -name '*.so*')
  poet_ldd_check "${libs[@]}" >"$work/ldd-carried.txt" || ok=1
  grep -A3 "^ldd: /" "$work/ldd-carried.txt" | head -20 || true
  figure carried_libraries "${#libs[@]}"
  figure carried_not_found "$(grep -c "^ldd: /" "$work/ldd-carried.txt" || true)"
  figure dataset "$POET_GPU_DATA"
  if [ -f "$POET_GPU_DATA" ]; then
    figure dataset_mb "$(stat -c %s "$POET_GPU_DATA" | awk '{printf "%.1f", $1 / 1e6}')"
  else
    echo "  no dataset there: make one with poet_dist prepare --output runs/tang.h5, and carry it"
    ok=1
  fi
  return "$ok"
}

stage_build() {
  local start extra=() found torch_prefix nccl cmake_used nvcc version
  # Where the wheel's LibTorch is, and which libnccl PyTorch has loaded once NCCL is asked for.
  found=$(poet_host_python -c 'import torch, torch.utils
print(torch.utils.cmake_prefix_path)
try:
    torch.cuda.nccl.version()
except Exception:  # a PyTorch without NCCL: the CUDA toolkit then lends its own
    pass
print(next((line.split()[-1] for line in open("/proc/self/maps") if "/libnccl" in line), ""))')
  torch_prefix=$(sed -n 1p <<<"$found")
  nccl=$(sed -n 2p <<<"$found")
  export POET_CMAKE_PREFIX=$torch_prefix
  figure libtorch "$torch_prefix"
  if [ -n "$nccl" ] && [ -e "${nccl%/lib/*}/include/nccl.h" ]; then
    extra+=(-DNCCL_INCLUDE_DIR="${nccl%/lib/*}/include" -DNCCL_LIBRARY="$nccl")
    echo "$nccl" >"$work/nccl-library"
    figure nccl "$nccl, the one PyTorch loads"
  else
    figure nccl "the CUDA toolkit's (PyTorch loads ${nccl:-none}, without headers beside it)"
  fi
  stage_env
  # The toolkit of the nvcc on PATH, else CUDA's default place.
  nvcc=$(realpath "$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)")
  figure cuda_toolkit "${nvcc%/bin/nvcc}"
  start=$(date +%s.%N)
  # The carried CMake is the one the rehearsal proved; should it fail against this CUDA or this
  # LibTorch, the machine's own CMake (often newer) gets one try, so one stage does not cost the run.
  for cmake_used in "$(command -v cmake)" "$(PATH=$POET_HOST_PATH command -v cmake || true)"; do
    [ -n "$cmake_used" ] || continue
    rm -rf "$build"
    if "$cmake_used" -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCUDAToolkit_ROOT="${nvcc%/bin/nvcc}" \
      -DCMAKE_CUDA_COMPILER="$nvcc" \
      "${poet_cmake_args[@]}" "${extra[@]}" >"$work/configure.log" 2>&1; then
      break
    fi
    echo "  configure failed with $cmake_used:"
    { grep -A5 "CMake Error" "$work/configure.log" || tail -5 "$work/configure.log"; } | head -20 | sed 's/^/    /' || true
    cmake_used=""
  done
  [ -n "$cmake_used" ] || return 1
  figure cmake_used "$cmake_used"
  figure configure_s "$(seconds_since "$start")"
  { grep -E "poet_dist:|Found (Torch|MPI_C|HDF5)" "$work/configure.log" || true; } | sed 's/^/    /'
  start=$(date +%s.%N)
  "$cmake_used" --build "$build" -j "$(nproc)" \
    --target poet_dist poet_tests poet_mpi_tests train_bench checkpoint_diff >"$work/build.log" 2>&1 ||
    { { grep -B2 -A10 -m3 "error" "$work/build.log" || true; } | head -40; tail -5 "$work/build.log"; return 1; }
  figure build_s "$(seconds_since "$start")"
  figure jobs "$(nproc)"
  version=$("$build/bin/poet_dist" version)
  echo "    ${version//$'\n'/$'\n'    }"
  grep -q "^NCCL *yes" <<<"$version" || { echo "  poet_dist was built without NCCL"; return 1; }
  poet_ldd_check "$build"/bin/{poet_dist,poet_tests,poet_mpi_tests,train_bench,checkpoint_diff}
}

stage_nccl() {
  local tests diff
  tests=$(timeout 60 "$poet_mpiexec" -np 1 "$build/bin/poet_mpi_tests" --gtest_color=no --gtest_filter='*Nccl*:*Cuda*:MpiCommunicator.*' 2>&1) ||
    { echo "$tests" | tail -30; return 1; }
  figure mpi_tests "$(gtest_counts "$tests")"
  tests=$(timeout 60 "$build/bin/poet_tests" --gtest_color=no --gtest_filter='*Cuda*:*Gpu*:CommunicatorChoice.*' 2>&1) ||
    { echo "$tests" | tail -30; return 1; }
  figure gpu_tests "$(gtest_counts "$tests")"
  # fp32: at world size 1 both all-reduces leave the gradients as they are, so any difference is
  # the backend's; deterministic cuBLAS keeps the GPU's own arithmetic out of it.
  export CUBLAS_WORKSPACE_CONFIG=:4096:8
  for backend in nccl mpi; do
    echo "  tiny, mpiexec -np 1, --backend $backend"
    "$poet_mpiexec" -np 1 "$build/bin/poet_dist" train --config configs/tiny.toml --data "$POET_GPU_DATA" \
      --run-dir "$work/runs/backend-$backend" --progress plain --backend "$backend" --set run.device=cuda \
      --set run.precision=fp32 --set run.steps=20 --set run.checkpoint_every=20 \
      >"$work/runs/backend-$backend.log" 2>&1 || { tail -20 "$work/runs/backend-$backend.log"; return 1; }
    { grep -E "^(poet_dist train|eval |done )" "$work/runs/backend-$backend.log" || true; } | sed 's/^/    /'
  done
  diff=$("$build/bin/checkpoint_diff" "$work/runs/backend-nccl/checkpoints/ckpt-00000020.pt" \
    "$work/runs/backend-mpi/checkpoints/ckpt-00000020.pt" --tolerance 1e-5 2>&1) || { echo "  $diff"; return 1; }
  echo "  $diff"
  figure nccl_vs_mpi_max_diff "$(largest_difference "$diff")"
}

stage_precision() {
  local config precision steps fp32_val="" ok=0 first last val step
  for config in tiny cpu-quick; do
    # cpu-quick's 700 steps are cut to 300 (the schedule with them), validated at the end only.
    steps=40
    [ "$config" = tiny ] || steps=300
    for precision in fp32 bf16; do
      echo "  $config, $precision, $steps steps"
      train "$work/runs/$config-$precision" --config "configs/$config.toml" --set run.precision="$precision" \
        --set run.steps="$steps" --set run.eval_every="$steps" --set run.sample_every="$steps" \
        --set run.checkpoint_every="$steps" --set run.log_every=50 || return 1
      read -r first last val step <<<"$(losses "$work/runs/$config-$precision")"
      figure "${config}_${precision}_first_loss" "$first"
      figure "${config}_${precision}_last_loss" "$last"
      figure "${config}_${precision}_val_loss_step_$step" "$val"
      awk -v a="$first" -v b="$last" 'BEGIN {exit !(b < a)}' || { echo "  the loss did not fall"; ok=1; }
      if [ "$precision" = fp32 ]; then fp32_val=$val; else
        figure "${config}_bf16_vs_fp32_val_pct" "$(awk -v a="$val" -v b="$fp32_val" 'BEGIN {printf "%+.3f", 100 * (a - b) / b}')"
        awk -v a="$val" -v b="$fp32_val" 'BEGIN {d = (a - b) / b; exit !(d <= 0.02 && d >= -0.02)}' ||
          { echo "  bf16's validation loss is not within 2% of fp32's"; ok=1; }
      fi
    done
  done
  return "$ok"
}

stage_checkpoints() {
  local whole=$work/runs/resume-whole split=$work/runs/resume-split diff
  export CUBLAS_WORKSPACE_CONFIG=:4096:8
  echo "  tiny, 40 steps"
  train "$whole" --config configs/tiny.toml --set run.steps=40
  echo "  tiny, 20 steps, then --resume auto to 40"
  train "$split" --config configs/tiny.toml --set run.steps=40 --stop-after-steps 20
  train "$split" --config configs/tiny.toml --set run.steps=40 --resume auto
  diff=$("$build/bin/checkpoint_diff" "$whole/checkpoints/ckpt-00000040.pt" "$split/checkpoints/ckpt-00000040.pt" \
    --tolerance 1e-6 2>&1) || { echo "  $diff"; return 1; }
  echo "  $diff"
  figure resumed_vs_whole_max_diff "$(largest_difference "$diff")"
  echo "  the GPU checkpoint on the CPU alone"
  CUDA_VISIBLE_DEVICES='' "$build/bin/poet_dist" sample --checkpoint "$whole/checkpoints/ckpt-00000040.pt" --num 2 \
    >"$work/sample.log" 2>&1 || { tail -20 "$work/sample.log"; return 1; }
  head -12 "$work/sample.log" | sed 's/^/    /'
  CUDA_VISIBLE_DEVICES='' "$build/bin/poet_dist" evaluate --checkpoint "$whole/checkpoints/ckpt-00000040.pt" --num 1 \
    >"$work/evaluate.log" 2>&1 || { tail -20 "$work/evaluate.log"; return 1; }
  tail -5 "$work/evaluate.log" | sed 's/^/    /'
  figure cpu_sample_evaluate ok
}

stage_bench() {
  local config precision flag cpp py c p d ok=0
  for config in cpu-quick tang-8gpu; do
    for precision in fp32 bf16; do
      flag=()
      [ "$precision" = fp32 ] || flag=(--bf16)
      cpp=$(timeout 90 "$build/bin/train_bench" --data "$POET_GPU_DATA" --device cuda --config "configs/$config.toml" \
        "${flag[@]}" --warmup 3 --steps 15 2>&1) || { echo "$cpp" | tail -10; ok=1; continue; }
      # poet_host_python's environment, spelt out: timeout runs programs, not shell functions.
      py=$(timeout 90 env LD_LIBRARY_PATH="$POET_HOST_LD_LIBRARY_PATH" PATH="$POET_HOST_PATH" \
        python3 bench/train_bench_python.py --data "$POET_GPU_DATA" --device cuda \
        --config "configs/$config.toml" "${flag[@]}" --warmup 3 --steps 15 2>&1) || { echo "$py" | tail -10; ok=1; continue; }
      printf '%s\n%s\n' "$cpp" "$py" | grep -v '^RESULT' | sed "s/^/    /"
      c=$(sed -n 's/^RESULT cpp_tokens_per_s=//p' <<<"$cpp")
      p=$(sed -n 's/^RESULT python_packed_tokens_per_s=//p' <<<"$py")
      d=$(sed -n 's/^RESULT python_padded_tokens_per_s=//p' <<<"$py")
      figure "${config}_${precision}_poet_dist_tokens_per_s" "$c"
      figure "${config}_${precision}_python_packed_tokens_per_s" "$p"
      figure "${config}_${precision}_python_padded_tokens_per_s" "$d"
      figure "${config}_${precision}_poet_dist_over_python_packed" "$(awk -v c="$c" -v p="$p" 'BEGIN {printf "%.2f", c / p}')"
    done
  done
  return "$ok"
}

if [ "${1:-}" = --stage ]; then
  export POET_GPU_STAGE=$2
  stage_env
  "stage_$2"
  exit
fi

# ---------------------------------------------------------------------------
# The run: stages in order, each under its limit, a summary after each

export POET_GPU_DATA
POET_GPU_DATA=$(realpath -m "${1:-runs/tang.h5}")
out=${OUT:-$work/out}
rm -rf "$work"
mkdir -p "$work/figures" "$work/runs" "$out"
exec > >(tee "$out/gpu-check.log") 2>&1
budget=${POET_GPU_CHECK_BUDGET:-540}
start=$(date +%s)

summary() {  # writes $out/summary.json from $work/stages.tsv and the figures
  poet_host_python - "$work" "$out/summary.json" "$(($(date +%s) - start))" <<'EOF'
import json, math, os, sys
work, path, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3])
stages = []
for line in open(os.path.join(work, "stages.tsv")):
    name, status, secs, limit, code, reason = line.rstrip("\n").split("\t")
    figures = {}
    tsv = os.path.join(work, "figures", name + ".tsv")
    if os.path.exists(tsv):
        for row in open(tsv):
            key, _, value = row.rstrip("\n").partition("\t")
            try:
                number = float(value)
                figures[key] = number if math.isfinite(number) else value
            except ValueError:
                figures[key] = value
    stages.append({"name": name, "status": status, "seconds": float(secs), "limit_s": int(limit),
                   "exit": int(code), "reason": reason, "figures": figures})
verdict = "PASS" if len(stages) == 6 and all(s["status"] == "PASS" for s in stages) else "FAIL"
json.dump({"verdict": verdict, "seconds": seconds, "stages": stages}, open(path, "w"), indent=2, ensure_ascii=False)
EOF
}

failed=0
built=0
: >"$work/stages.tsv"
run_stage() {  # NAME LIMIT: runs the stage, or skips it when it needs the build or time is out
  local name=$1 limit=$2 left status reason="" code=0 begin seconds
  left=$((budget - ($(date +%s) - start)))
  [ "$limit" -le "$left" ] || limit=$((left > 0 ? left : 0))
  echo
  echo "== $name (limit ${limit} s; $(($(date +%s) - start)) s since the start)"
  begin=$(date +%s.%N)
  if [ "$name" != preflight ] && [ "$name" != build ] && [ "$built" = 0 ]; then
    status=SKIP reason="needs the build"
  elif [ "$limit" -lt 10 ]; then
    status=SKIP reason="no time left of the ${budget} s budget"
  else
    timeout -k 10 "$limit" "$root/scripts/gpu-check.sh" --stage "$name" || code=$?
    if [ "$code" = 0 ]; then status=PASS
    elif [ "$code" = 124 ] || [ "$code" = 137 ]; then status=FAIL reason="time limit of $limit s"
    else status=FAIL reason="exit $code"; fi
  fi
  seconds=$(seconds_since "$begin")
  [ "$status" = PASS ] || failed=$((failed + 1))
  [ "$name" != build ] || [ "$status" != PASS ] || built=1
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$seconds" "$limit" "$code" "$reason" >>"$work/stages.tsv"
  summary
  echo "$status $name ($seconds s)${reason:+: $reason}$(awk -F'\t' '{printf "%s%s=%s", (NR > 1 ? ", " : ": "), $1, $2}' \
    "$work/figures/$name.tsv" 2>/dev/null || true)"
}

run_stage preflight 60
run_stage build 300
run_stage nccl 90
run_stage precision 150
run_stage checkpoints 90
run_stage bench 180

cp "$work/configure.log" "$work/build.log" "$out/" 2>/dev/null || true
echo
echo "== verdict ($(($(date +%s) - start)) s)"
awk -F'\t' '{printf "  %-12s %-4s %7.1f s  %s\n", $1, $2, $3, $6}' "$work/stages.tsv"
echo "gpu-check: $([ "$failed" = 0 ] && echo PASS || echo "FAIL ($failed of 6 stages did not pass)"); summary in $out/summary.json"
exit "$failed"
