#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU, the CUDA toolkit and a CUDA PyTorch:
#   1. builds poet_dist against the CUDA LibTorch inside that PyTorch (torch.utils.cmake_prefix_path)
#      and the NCCL that PyTorch loads;
#   2. runs the communicator tests with the NCCL backend at world size 1, and a tiny training
#      run through mpiexec with --backend nccl;
#   3. trains one process on the GPU (the test TrainCli.TrainsOnCudaAsOneProcess, and the
#      device/backend choices), then `tiny` and `cpu-quick` with bf16 autocast;
#   4. times the training benchmark beside PyTorch's Python API on the same GPU (3 alternating
#      rounds, medians).
# It takes under 10 minutes on one H200. Libraries Debian gives the development machines (MPI,
# HDF5, ...) come from .gpu-deps/ (scripts/gpu-deps.sh) when this machine lacks them.
# Usage: scripts/gpu-check.sh [DATASET.h5]   (default runs/tang.h5; the log also goes to
#        $OUT/gpu-check.log when OUT is set)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
data=$(realpath "${1:-runs/tang.h5}")
build=build-gpu
if [ -n "${OUT:-}" ]; then exec > >(tee "$OUT/gpu-check.log") 2>&1; fi
start=$(date +%s)
step() { echo; echo "== $* ($(( $(date +%s) - start )) s)"; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export PYTHONUNBUFFERED=1

step "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch; print("PyTorch", torch.__version__, "CUDA", torch.version.cuda, "GPU", torch.cuda.get_device_name(0))'
[ -f "$data" ] || { echo "gpu-check: no dataset at $data (run poet_dist prepare, or pass one)" >&2; exit 1; }

step "dependencies"
cmake_prefix=$(python3 -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')
if ! command -v mpicc >/dev/null || [ ! -e /usr/include/hdf5/serial/hdf5.h ]; then
  [ -d .gpu-deps ] || { echo "gpu-check: MPI/HDF5 missing and no .gpu-deps/ (run scripts/gpu-deps.sh)" >&2; exit 1; }
  deps=/tmp/poet-deps
  rm -rf "$deps"
  for deb in .gpu-deps/*.deb; do dpkg -x "$deb" "$deps"; done
  lib=$deps/usr/lib/x86_64-linux-gnu
  # Debian's Open MPI and HDF5, relocated: OPAL_PREFIX moves Open MPI's idea of its prefix.
  export OPAL_PREFIX=$deps/usr PATH=$deps/usr/bin:$PATH
  export LD_LIBRARY_PATH=$lib:$lib/hdf5/serial:$lib/openmpi/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  # The .pc files say prefix=/usr: the sysroot puts $deps in front of their paths.
  export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$deps
  cmake_prefix="$cmake_prefix;$deps/usr"
  mpiexec=$deps/usr/bin/mpiexec.openmpi
  extra=(-DMPI_C_COMPILER="$deps/usr/bin/mpicc.openmpi" -DMPIEXEC_EXECUTABLE="$mpiexec"
         -DHDF5_C_COMPILER_EXECUTABLE=/nonexistent -DHDF5_C_INCLUDE_DIR="$deps/usr/include/hdf5/serial")
  echo "unpacked $(ls .gpu-deps/*.deb | wc -l) Debian packages into $deps"
else
  mpiexec=mpiexec
  extra=()
fi
# The NCCL PyTorch loads, so that one process holds one NCCL.
nccl=$(python3 -c 'import nvidia.nccl as n; print(list(n.__path__)[0])' 2>/dev/null || true)
if [ -n "$nccl" ] && [ -e "$nccl/include/nccl.h" ]; then
  extra+=(-DNCCL_INCLUDE_DIR="$nccl/include" -DNCCL_LIBRARY="$(ls "$nccl"/lib/libnccl.so* | head -1)")
  export LD_LIBRARY_PATH=$nccl/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi

step "build against the CUDA LibTorch"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$cmake_prefix" \
  -DCUDAToolkit_ROOT=/usr/local/cuda "${extra[@]}" | grep -E "poet_dist|Torch|error" || true
cmake --build "$build" --target poet_dist poet_mpi_tests poet_tests train_bench
"$build/bin/poet_dist" version

step "NCCL communicator tests (world size 1)"
timeout 120 "$mpiexec" -np 1 "$build/bin/poet_mpi_tests" --gtest_filter='*Nccl*:*Backends*:MpiCommunicator.*'
timeout 120 "$mpiexec" -np 1 "$build/bin/poet_dist" train --config configs/tiny.toml --data "$data" \
  --run-dir /tmp/gpu-nccl --backend nccl --set run.steps=40 | grep -E "ranks|devices|buckets|eval|done"

step "one process on the GPU: device and backend chosen together"
timeout 120 "$build/bin/poet_tests" --gtest_filter='TrainCli.TrainsOnCudaAsOneProcess:CommunicatorChoice.*'

step "tiny on the GPU (bf16 autocast)"
timeout 120 "$build/bin/poet_dist" train --config configs/tiny.toml --data "$data" --run-dir /tmp/gpu-tiny \
  --set run.device=cuda | grep -E "poet_dist train|devices|eval|done"

step "cpu-quick on the GPU (bf16 autocast)"
timeout 300 "$build/bin/poet_dist" train --config configs/cpu-quick.toml --data "$data" --run-dir /tmp/gpu-quick \
  --set run.device=cuda --set run.log_every=100 | grep -E "poet_dist train|devices|step [0-9]+/|eval|done"
"$build/bin/poet_dist" sample --checkpoint /tmp/gpu-quick/checkpoints/best.pt --form qijue --seed 1

step "training benchmark: poet_dist against PyTorch's Python API on this GPU"
results=""
for round in 1 2 3; do
  for precision in bf16 fp32; do
    flag=$([ "$precision" = bf16 ] && echo --bf16 || true)
    cpp=$(timeout 120 "$build/bin/train_bench" --data "$data" --device cuda $flag --warmup 5 --steps 50)
    py=$(timeout 120 python3 bench/train_bench_python.py --data "$data" --device cuda $flag --warmup 5 --steps 50)
    printf '%s\n%s\n' "$cpp" "$py" | grep -v '^RESULT' | sed "s/^/  round $round  /"
    results+=$(printf '%s\n%s\n' "$cpp" "$py" | grep '^RESULT' | sed "s/=/_$precision=/")$'\n'
  done
done
median() { echo "$results" | sed -n "s/^RESULT $1=//p" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
for precision in bf16 fp32; do
  c=$(median "cpp_tokens_per_s_$precision")
  p=$(median "python_packed_tokens_per_s_$precision")
  d=$(median "python_padded_tokens_per_s_$precision")
  awk -v c="$c" -v p="$p" -v d="$d" -v x="$precision" 'BEGIN {
    printf "%s medians: poet_dist %.0f, Python packed %.0f, Python padded %.0f (useful) tokens/s; poet_dist/packed %.2fx, /padded %.2fx\n", x, c, p, d, c / p, c / d }'
done
step "done"
