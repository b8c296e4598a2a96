#!/usr/bin/env bash
# Downloads, on a Debian 12 machine, the Debian packages that poet_dist builds against besides
# LibTorch (MPI, HDF5, CLI11, JSON, TOML, OpenCC, xxHash, GoogleTest) into .gpu-deps/, for a
# GPU machine that has CUDA and PyTorch but neither these nor a package registry.
# scripts/gpu-check.sh unpacks them there (under /tmp, never into /). About 14 MB.
# Usage: scripts/gpu-deps.sh   (then carry .gpu-deps and runs/tang.h5 to the GPU machine)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The libraries themselves and what they load at run time; compilers and system libraries
# (glibc, libstdc++, zlib, OpenSSL) are the GPU machine's own.
packages=(
  libopenmpi-dev libopenmpi3 openmpi-bin openmpi-common libpmix2 libhwloc15 libevent-core-2.1-7
  libevent-pthreads-2.1-7 libfabric1 libibverbs1 librdmacm1 libnl-3-200 libnl-route-3-200
  libpsm-infinipath1 libpsm2-2 libucx0 libnuma1 libmunge2 libatomic1
  libhdf5-dev libhdf5-103-1 libhdf5-hl-100 libsz2 libaec0 libcurl4 libnghttp2-14 libpsl5 librtmp1 libssh2-1
  libldap-2.5-0 libsasl2-2 libbrotli1
  libcli11-dev nlohmann-json3-dev libsimdjson-dev libsimdjson14 libtomlplusplus-dev libtomlplusplus3
  libopencc-dev libopencc1.1 libopencc-data libmarisa0 libxxhash-dev libxxhash0 libgtest-dev
)
rm -rf .gpu-deps
mkdir -p .gpu-deps
(cd .gpu-deps && apt-get download "${packages[@]}" 2>&1 | grep -v "^W: Download is performed unsandboxed" || true)
count=$(ls .gpu-deps/*.deb | wc -l)
if [ "$count" -ne "${#packages[@]}" ]; then
  echo "gpu-deps: downloaded $count of ${#packages[@]} packages" >&2
  exit 1
fi
echo "gpu-deps: $count packages, $(du -sh .gpu-deps | cut -f1), in .gpu-deps/"
