#!/usr/bin/env bash
# Installs every Debian package poet_dist needs to build, test and run.
# Idempotent: packages already present are left alone and apt is not touched at all
# when nothing is missing. Run as root, or with sudo available.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libtorch-dev            # LibTorch 1.13 C++ frontend (CPU)
  libopenblas0-openmp     # fast BLAS for LibTorch; without it 153 tokens/s instead of ~4,200
  libopenmpi-dev openmpi-bin
  libhdf5-dev
  libcli11-dev
  nlohmann-json3-dev      # JSON for small documents (configs, metadata, --json output)
  libsimdjson-dev         # JSON for the corpus: the prepare hot path
  libopencc-dev opencc    # traditional <-> simplified conversion (opencc ships the data files)
  libtomlplusplus-dev     # TOML run configs
  libxxhash-dev           # checksums of source files and datasets
  libgtest-dev libgmock-dev
  slurm-wlm munge         # the scheduler tests start a one-node Slurm
  slurmdbd mariadb-server # ... with accounting, as real clusters have it: slurmdbd on a MariaDB of its own
  iproute2 util-linux     # the two-node rehearsal: network namespaces (ip netns), unshare, nsenter, taskset
  python3-torch python3-h5py  # bench/train_bench.sh: the same model in PyTorch's Python API
  chromium fonts-noto-cjk     # the report page's test opens it in headless Chromium
  chromium-driver             # ... and the serve page's test drives it through WebDriver
  libcpp-httplib-dev          # poet_dist serve: the HTTP server (header-only)
)

# npm fetches the corpus when no local copy exists. A machine may already have Node.js from
# NodeSource, whose nodejs package conflicts with Debian's npm: keep whatever npm is there.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
