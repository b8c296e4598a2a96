#!/usr/bin/env bash
# The GPU check: one script for a GPU machine that has CUDA, a C++ compiler and a CUDA PyTorch
# but no package registry and none of Debian's packages. It is sized for one H200 with 16 cores
# and ends within 9 minutes whatever happens: each stage has its own time limit (the run_stage
# lines at the end), the limits add up to no more than POET_GPU_CHECK_BUDGET (540 s by default),
# and no stage runs past that budget from the start. Stages, in the order they run (correctness
# first, once there is a build; speed last), each printing PASS or FAIL with its figures:
#   1. preflight   the carried packages unpacked (scripts/gpu-env.sh) and every library in
#                  them resolved by ldd; the tools; python3 and whether it imports numpy, h5py and
#                  torch; torch, CUDA, cuDNN and NCCL versions; the GPU; the dataset;
#   2. build       poet_dist, poet_tests, poet_mpi_tests, train_bench and checkpoint_diff
#                  with all cores, against the PyTorch wheel's CUDA LibTorch
#                  (torch.utils.cmake_prefix_path) and the NCCL PyTorch loads; ldd of each binary;
#   3. nccl        the communicator tests and the one-process CUDA tests, the MPI backend's
#                  CUDA staging also under mpiexec -np 2 (two ranks sharing the GPU; NCCL needs
#                  one each), then `tiny` for 20 steps under mpiexec -np 1 with --backend nccl and
#                  with --backend mpi, each run's summary naming its backend: the parameters'
#                  exact difference, and within 1e-5;
#   4. checkpoints `tiny` with 2 layers and dropout (masks by tensor operations on CUDA) for 40 steps,
#                  against 20 steps, a stop and --resume auto from step 20 to 40: the exact
#                  difference, and within 1e-6; sample (in traditional characters too: OpenCC
#                  from the relocated packages) and evaluate of that checkpoint on the CPU alone;
#   5. precision   `tiny` and `cpu-quick` on CUDA in fp32 and bf16: the summary says the
#                  output layer computed in the precision asked for, the loss falls, bf16's
#                  validation loss after the same steps is within 2% of fp32's; tokens/s of each;
#   6. bench       train_bench against bench/train_bench_python.py on the GPU, for the
#                  tang-8gpu and cpu-quick models, fp32 and bf16: tokens/s and their ratio. The
#                  Python side gets the model and batch that train_bench printed, as flags.
# Stages 3 to 6 need the build and are skipped without it; the others run whatever failed before.
# The log goes to $OUT/gpu-check.log and the verdict, stage by stage with seconds and figures, to
# $OUT/summary.json (written after every stage, so a stage cut short keeps the figures it had);
# without OUT both go to /tmp/poet-gpu-check/out. The exit code is the number of stages that did
# not pass.
#
# What to carry to the GPU machine, with the working tree (their sizes: README.md, **GPUs.**):
#   .gpu-deps/   scripts/gpu-deps.sh fills it on a Debian 12 machine (the packages and the
#                libraries they load, checked here by scripts/gpu-rehearsal.sh);
#   the dataset  `build/bin/poet_dist prepare --output runs/tang.h5` on the full corpus.
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

# The metrics of a run directory: the first and last training loss, the last validation loss,
# the last step, and the median tokens/s of the steps after the fifth (CUDA's start-up left out).
losses() {
  poet_host_python - "$1/metrics.jsonl" <<'EOF'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
vals = [r["val_loss"] for r in rows if "val_loss" in r]
rates = [r["tokens_per_s"] for r in rows if r["step"] > 5] or [r["tokens_per_s"] for r in rows]
print(rows[0]["loss"], rows[-1]["loss"], vals[-1] if vals else "nan", rows[-1]["step"], round(statistics.median(rates)))
EOF
}

gtest_counts() {  # GTEST_OUTPUT: "N passed, M skipped", summed over the ranks that printed them
  awk '/^\[  PASSED  \] [0-9]+ tests?\./ {p += $4} /^\[  SKIPPED \] [0-9]+ tests?, listed below:/ {s += $4}
    END {printf "%d passed, %d skipped\n", p, s}' <<<"$1"
}

# Fails, naming it, unless TEST passed COUNT times (once a rank) in GTEST_OUTPUT: a CUDA test that
# skipped has proven nothing.
passed_on_every_rank() {  # GTEST_OUTPUT TEST COUNT
  local times
  times=$(grep -c "^\[       OK \] $2 " <<<"$1" || true)
  [ "$times" = "$3" ] || { echo "  $2 passed on $times of $3 ranks"; grep -F "$2" <<<"$1" | sed 's/^/    /'; return 1; }
}

# The figure in checkpoint_diff's "largest parameter difference 3.1e-07 (lstm.weight_hh_l0); ...",
# or the tensors it names as not finite.
largest_difference() {
  if grep -q '^not finite: ' <<<"$1"; then
    echo "not finite: $(sed -n 's/^not finite: \([^ ]*\).*/\1/p' <<<"$1" | paste -sd ' ')"
  else
    sed -n 's/^largest parameter difference \([^ ]*\) .*/\1/p' <<<"$1"
  fi
}

# Two checkpoints compared with --tolerance 0 first, for the figure and whether they are
# bit-identical, then at TOLERANCE for the verdict.
compare_checkpoints() {  # A B TOLERANCE NAME: figures NAME_max_diff and NAME_bit_identical
  local exact code=0 verdict
  exact=$("$build/bin/checkpoint_diff" "$1" "$2" --tolerance 0 2>&1) || code=$?
  printf '%s\n' "$exact" | sed 's/^/  /'
  [ "$code" -le 1 ] || return 1
  figure "$4_max_diff" "$(largest_difference "$exact")"
  figure "$4_bit_identical" "$([ "$code" = 0 ] && echo yes || echo no)"
  verdict=$("$build/bin/checkpoint_diff" "$1" "$2" --tolerance "$3" 2>&1) || { printf '%s\n' "$verdict" | sed 's/^/  /'; return 1; }
  echo "  within $3"
}

# cuDNN copies the LSTM's weights, and LibTorch warns, on every call when they are not in its own
# buffer (model/poet_model.cpp flatten_for_cudnn): a run that shows the warning fails.
weights_in_place() {  # LOG
  ! grep -q "single contiguous chunk of memory" "$1" || { echo "  cuDNN compacted the LSTM's weights: see $1"; return 1; }
}

# poet_dist train on the GPU, its log in RUN_DIR.log and its summary lines on stdout. No samples:
# they cost time and show nothing here.
train() {  # RUN_DIR ARGS...
  local run=$1
  shift
  "$build/bin/poet_dist" train --data "$POET_GPU_DATA" --run-dir "$run" --progress plain --set run.device=cuda \
    --set run.sample_every=0 "$@" >"$run.log" 2>&1 || { tail -20 "$run.log"; return 1; }
  { grep -E "^(poet_dist train|compute|  +(bf16|fp32): run.precision|eval |done )" "$run.log" || true; } | sed 's/^/    /'
  weights_in_place "$run.log"
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
  # The Python side of the bench stage needs numpy, h5py and torch in the machine's own python3
  # (any 3.x that PyTorch supports: the check passes it the model as flags, not a TOML file).
  local python modules
  python=$(poet_host_python -c 'import sys; print(sys.executable, sys.version.split()[0])' 2>&1) || ok=1
  figure python3 "${python:-missing}"
  modules=$(poet_host_python - <<'EOF' 2>&1
import importlib
for name in ("numpy", "h5py"):  # and torch, imported below for its versions
    try:
        print(name, importlib.import_module(name).__version__)
    except Exception as e:  # each missing module is reported; none stops the others
        print(name, "MISSING", type(e).__name__ + ":", e)
EOF
  ) || ok=1
  figure python_numpy "$(sed -n 's/^numpy //p' <<<"$modules")"
  figure python_h5py "$(sed -n 's/^h5py //p' <<<"$modules")"
  if grep -q " MISSING " <<<"$modules" || ! grep -q "^h5py " <<<"$modules"; then
    echo "  python3 cannot import what bench/train_bench_python.py needs:"
    printf '%s\n' "$modules" | sed 's/^/    /'
    ok=1
  fi
  local versions
  versions=$(poet_host_python -c 'import torch
nccl = torch.cuda.nccl.version()
print(torch.__version__, torch.version.cuda, torch.backends.cudnn.version(),
      ".".join(map(str, nccl)) if isinstance(nccl, tuple) else nccl, torch.cuda.is_available())') ||
    { echo "  python3 cannot import torch, or ask it for CUDA's versions (the traceback above)"; ok=1; }
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
  local tests backend log first
  tests=$(timeout 30 "$poet_mpiexec" -np 1 "$build/bin/poet_mpi_tests" --gtest_color=no \
    --gtest_filter='*Nccl*:*Cuda*:MpiCommunicator.*' 2>&1) || { echo "$tests" | tail -30; return 1; }
  figure mpi_tests_np1 "$(gtest_counts "$tests")"
  passed_on_every_rank "$tests" NcclCommunicator.AllReduceOnTheGpu 1
  # At one rank the staged all-reduce sums one value, which it cannot get wrong; two ranks share
  # the GPU through MPI (the NCCL tests stay out: NCCL needs a GPU for each rank).
  tests=$(timeout 30 "$poet_mpiexec" -np 2 --oversubscribe "$build/bin/poet_mpi_tests" --gtest_color=no \
    --gtest_filter='MpiCommunicator.*:-*Nccl*' 2>&1) || { echo "$tests" | tail -30; return 1; }
  figure mpi_tests_np2 "$(gtest_counts "$tests")"
  passed_on_every_rank "$tests" MpiCommunicator.CudaTensorsAreStagedThroughTheHost 2
  tests=$(timeout 40 "$build/bin/poet_tests" --gtest_color=no --gtest_filter='*Cuda*:*Gpu*:CommunicatorChoice.*' 2>&1) ||
    { echo "$tests" | tail -30; return 1; }
  figure gpu_tests "$(gtest_counts "$tests")"
  if grep -E '^\[  SKIPPED \] [^ ]*Cuda' <<<"$tests"; then echo "  a CUDA test skipped on a GPU machine"; return 1; fi
  # fp32: at world size 1 both all-reduces leave the gradients as they are, so any difference is
  # the backend's; deterministic cuBLAS keeps the GPU's own arithmetic out of it.
  export CUBLAS_WORKSPACE_CONFIG=:4096:8
  for backend in nccl mpi; do
    echo "  tiny, mpiexec -np 1, --backend $backend"
    log=$work/runs/backend-$backend.log
    timeout 30 "$poet_mpiexec" -np 1 "$build/bin/poet_dist" train --config configs/tiny.toml --data "$POET_GPU_DATA" \
      --run-dir "$work/runs/backend-$backend" --progress plain --backend "$backend" --set run.device=cuda \
      --set run.precision=fp32 --set run.steps=20 --set run.checkpoint_every=20 --set run.sample_every=0 \
      >"$log" 2>&1 || { tail -20 "$log"; return 1; }
    weights_in_place "$log" || return 1
    { grep -E "^(poet_dist train|eval |done )" "$log" || true; } | sed 's/^/    /'
    # The summary's first line names the communicator that ran (trainer/training_run_setup.cpp).
    first=$(grep -m1 "^poet_dist train: " "$log" || true)
    figure "${backend}_run" "${first#poet_dist train: }"
    grep -q "^poet_dist train: 1 process ($backend) on 1 node, CUDA, " <<<"$first" ||
      { echo "  --backend $backend did not run as one CUDA process with $backend"; return 1; }
  done
  compare_checkpoints "$work/runs/backend-nccl/checkpoints/ckpt-00000020.pt" \
    "$work/runs/backend-mpi/checkpoints/ckpt-00000020.pt" 1e-5 nccl_vs_mpi
}

stage_precision() {
  local config precision steps fp32_val="" ok=0 first last val step rate compute expected
  for config in tiny cpu-quick; do
    # cpu-quick's run is cut to 300 steps (the schedule with them), validated at the end only.
    steps=40
    [ "$config" = tiny ] || steps=300
    for precision in fp32 bf16; do
      echo "  $config, $precision, $steps steps"
      train "$work/runs/$config-$precision" --config "configs/$config.toml" --set run.precision="$precision" \
        --set run.steps="$steps" --set run.eval_every="$steps" \
        --set run.checkpoint_every="$steps" --set run.log_every=50 || return 1
      # An ignored run.precision would pass the 2% check below: the summary's compute line says
      # what ran (model/poet_model.cpp ComputedDtypes::describe). On CUDA the LSTM may stay fp32.
      compute=$(sed -n 's/^compute  *//p' "$work/runs/$config-$precision.log" | head -1)
      figure "${config}_${precision}_compute" "$compute"
      figure "${config}_${precision}_reason" "$(sed -n 's/^  *\(\(bf16\|fp32\): run\.precision.*\)/\1/p' "$work/runs/$config-$precision.log")"
      expected="output layer bf16"
      [ "$precision" = bf16 ] || expected="output layer fp32"
      grep -qF "$expected" <<<"$compute" || { echo "  run.precision $precision, but not '$expected'"; ok=1; }
      read -r first last val step rate <<<"$(losses "$work/runs/$config-$precision")"
      figure "${config}_${precision}_median_tokens_per_s" "$rate"
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
  local whole=$work/runs/resume-whole split=$work/runs/resume-split resumed checkpoint script
  # Two layers with dropout, in bf16 (tiny itself asks for fp32): the masks between and after the
  # layers are model/dropout_masks.h's tensor operations on CUDA, a function of the step that the
  # resumed run must reach again.
  local model=(--config configs/tiny.toml --set model.layers=2 --set model.dropout=0.2 --set run.steps=40
               --set run.precision=bf16)
  export CUBLAS_WORKSPACE_CONFIG=:4096:8
  echo "  tiny, 2 layers, dropout 0.2, 40 steps, bf16"
  train "$whole" "${model[@]}"
  echo "  the same, 20 steps, then --resume auto to 40"
  train "$split" "${model[@]}" --stop-after-steps 20
  mv "$split.log" "$split-first.log"
  train "$split" "${model[@]}" --resume auto
  # The summary's run line (trainer/training_run_setup.cpp): "run  DIR, resumed from PATH at step N".
  resumed=$(sed -n 's/^run  .*, resumed from \(.*\)$/\1/p' "$split.log")
  figure resumed_from "${resumed:-nothing}"
  [[ "$resumed" == */ckpt-00000020.pt" at step 20" ]] || { echo "  the second run did not resume from step 20"; return 1; }
  compare_checkpoints "$whole/checkpoints/ckpt-00000040.pt" "$split/checkpoints/ckpt-00000040.pt" 1e-6 resumed_vs_whole
  echo "  the GPU checkpoint on the CPU alone"
  checkpoint=$whole/checkpoints/ckpt-00000040.pt
  # The same poem in simplified and in traditional characters, through OpenCC with the relocated
  # packages' dictionaries: the prompt 春风 (風 in traditional) must open each in its own script.
  for script in simplified:春风 traditional:春風; do
    CUDA_VISIBLE_DEVICES='' "$build/bin/poet_dist" sample --checkpoint "$checkpoint" --num 1 --prompt 春风 \
      --script "${script%:*}" >"$work/sample-${script%:*}.log" 2>&1 || { tail -20 "$work/sample-${script%:*}.log"; return 1; }
    head -6 "$work/sample-${script%:*}.log" | sed 's/^/    /'
    grep -q "^  ${script#*:}" "$work/sample-${script%:*}.log" ||
      { echo "  the ${script%:*} poem does not open with ${script#*:}"; return 1; }
  done
  figure opencc_prompt "春风 in simplified, 春風 in traditional"
  CUDA_VISIBLE_DEVICES='' "$build/bin/poet_dist" evaluate --checkpoint "$checkpoint" --num 1 \
    >"$work/evaluate.log" 2>&1 || { tail -20 "$work/evaluate.log"; return 1; }
  tail -5 "$work/evaluate.log" | sed 's/^/    /'
  figure cpu_sample_evaluate ok
}

# The model and batch in train_bench's "poet_dist packed  cuda  configs/cpu-quick.toml: embed 256,
# hidden 320, 2 layers, dropout 0.1, untied  batch 64 x 64  ... tokens/s" (and in the Python
# bench's "python packed ..." line, in the same words): "embed 256, ..., untied  batch 64 x 64".
timed_model() { sed -n "s/^$1 packed .*: \(embed .*  batch [0-9]* x [0-9]*\)  .*/\1/p" <<<"$2"; }

stage_bench() {
  local config precision flag cpp py c p d ok=0 shape embed hidden layers dropout tied batch seq_len
  # Few steps: the 8 runs (the Python ones time 2 workloads) fit the stage's limit with start-up.
  local steps=(--warmup 2 --steps 8)
  for config in tang-8gpu cpu-quick; do
    for precision in fp32 bf16; do
      flag=()
      [ "$precision" = fp32 ] || flag=(--bf16)
      cpp=$(timeout 40 "$build/bin/train_bench" --data "$POET_GPU_DATA" --device cuda --config "configs/$config.toml" \
        "${flag[@]}" "${steps[@]}" 2>&1) || { echo "$cpp" | tail -10; ok=1; continue; }
      sed '/^RESULT/d; s/^/    /' <<<"$cpp"
      # Recorded before the Python side runs, so that its failure keeps poet_dist's figure.
      c=$(sed -n 's/^RESULT cpp_tokens_per_s=//p' <<<"$cpp")
      figure "${config}_${precision}_poet_dist_tokens_per_s" "$c"
      # The Python side times the model that train_bench printed, passed as flags: the machine's
      # python3 may be older than 3.11 and lack the tomllib that its --config needs.
      shape=$(timed_model poet_dist "$cpp")
      read -r embed hidden layers dropout tied batch seq_len <<<"$(sed -E \
        's/^embed ([0-9]+), hidden ([0-9]+), ([0-9]+) layers, dropout ([^,]+), (tied|untied)  batch ([0-9]+) x ([0-9]+)$/\1 \2 \3 \4 \5 \6 \7/' \
        <<<"$shape")"
      [ -n "$seq_len" ] || { echo "  no model line in train_bench's output"; ok=1; continue; }
      # poet_host_python's environment, spelt out: timeout runs programs, not shell functions.
      py=$(timeout 60 env LD_LIBRARY_PATH="$POET_HOST_LD_LIBRARY_PATH" PATH="$POET_HOST_PATH" \
        python3 bench/train_bench_python.py --data "$POET_GPU_DATA" --device cuda --embed "$embed" --hidden "$hidden" \
        --layers "$layers" --dropout "$dropout" "--$([ "$tied" = tied ] || echo no-)tie-weights" --batch "$batch" \
        --seq-len "$seq_len" "${flag[@]}" "${steps[@]}" 2>&1) || { echo "$py" | tail -10; ok=1; continue; }
      sed '/^RESULT/d; s/^/    /' <<<"$py"
      [ "$(timed_model python "$py")" = "$shape" ] || { echo "  the Python bench timed another model"; ok=1; continue; }
      p=$(sed -n 's/^RESULT python_packed_tokens_per_s=//p' <<<"$py")
      d=$(sed -n 's/^RESULT python_padded_tokens_per_s=//p' <<<"$py")
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

# Each stage's limit in seconds: together the default budget of 540. The build varies most (a
# cold compile of LibTorch's headers on 16 cores); the others were sized from their runs' counts.
run_stage preflight 35
run_stage build 205
run_stage nccl 65
run_stage checkpoints 55
run_stage precision 60
run_stage bench 120

cp "$work/configure.log" "$work/build.log" "$out/" 2>/dev/null || true
echo
echo "== verdict ($(($(date +%s) - start)) s)"
awk -F'\t' '{printf "  %-12s %-4s %7.1f s  %s\n", $1, $2, $3, $6}' "$work/stages.tsv"
echo "gpu-check: $([ "$failed" = 0 ] && echo PASS || echo "FAIL ($failed of 6 stages did not pass)"); summary in $out/summary.json"
exit "$failed"
