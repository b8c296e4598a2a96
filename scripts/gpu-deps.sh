#!/usr/bin/env bash
# Packs, on a Debian 12 machine, everything poet_dist builds against besides LibTorch, CUDA and
# the C++ compiler into .gpu-deps/deps.tar.xz, for a GPU machine that has CUDA, a compiler and
# PyTorch but none of these and no package registry: Debian's Open MPI, HDF5, OpenCC (with its
# dictionaries in usr/share/opencc), CLI11, JSON, TOML, xxHash and GoogleTest, the build tools
# (CMake, Ninja, pkgconf), and every library they load, found by following each file's NEEDED
# entries. The packages are unpacked here, pruned of what neither the build nor a run reads
# (documentation, CMake's manual, static libraries besides GoogleTest's) and packed again, so the
# GPU machine needs neither dpkg nor the .deb files. .gpu-deps/packages.txt lists each package,
# its version and its group (project or fallback, below). scripts/gpu-env.sh unpacks the archive
# there (under /tmp, never into /).
# Usage: scripts/gpu-deps.sh   (then carry .gpu-deps and the dataset; scripts/gpu-check.sh says how)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# ---------------------------------------------------------------------------
# The packages
# What the build finds with find_package and pkg-config, and what their libraries load.
project=(
  libopenmpi-dev libopenmpi3 openmpi-bin openmpi-common libpmix2 libhwloc15 libevent-core-2.1-7
  libevent-pthreads-2.1-7 libfabric1 libibverbs1 ibverbs-providers librdmacm1 libnl-3-200
  libnl-route-3-200 libpsm-infinipath1 libpsm2-2 libucx0 libmunge2
  libhdf5-dev libhdf5-103-1 libhdf5-hl-100 libsz2 libaec0
  libcli11-dev nlohmann-json3-dev libsimdjson-dev libsimdjson14 libtomlplusplus-dev libtomlplusplus3
  libopencc-dev libopencc1.1 libopencc-data libmarisa0 libxxhash-dev libxxhash0 libgtest-dev
  cmake cmake-data libjsoncpp25 librhash0 libuv1 libarchive13 libxml2 libicu72
  ninja-build pkgconf pkgconf-bin libpkgconf3
)
# Libraries a base system usually has already (HDF5 and CMake reach them through libcurl and
# libarchive). They go to fallback/, and scripts/gpu-env.sh keeps only those whose soname the GPU
# machine lacks, so that a newer copy of its own is never shadowed by Debian 12's.
fallback=(
  zlib1g libzstd1 liblzma5 libbz2-1.0 liblz4-1 libacl1 libexpat1 libssl3 libffi8 libgmp10
  libnettle8 libhogweed6 libgnutls30 libp11-kit0 libtasn1-6 libidn2-0 libunistring2 libudev1
  libuuid1 libnuma1 libatomic1 libcom-err2 libkeyutils1 libkrb5-3 libk5crypto3 libkrb5support0
  libgssapi-krb5-2 libsasl2-2 libldap-2.5-0 libcurl4 libnghttp2-14 libpsl5 librtmp1 libssh2-1
  libbrotli1
)
# The sonames every Linux with a C++ compiler provides: glibc's, libstdc++ and libgcc_s.
host_sonames='^(ld-linux-x86-64\.so\.2|lib(c|m|dl|pthread|rt|resolv|util)\.so\.[0-9]+|libstdc\+\+\.so\.6|libgcc_s\.so\.1)$'

# ---------------------------------------------------------------------------
# Download and unpack
debs=$(mktemp -d)
stage=$(mktemp -d)
trap 'rm -rf "$debs" "$stage"' EXIT
(cd "$debs" && apt-get download "${project[@]}" "${fallback[@]}") 2>&1 |
  { grep -v "^W: Download is performed unsandboxed" || true; }
count=$(find "$debs" -name '*.deb' | wc -l)
if [ "$count" -ne $(( ${#project[@]} + ${#fallback[@]} )) ]; then
  echo "gpu-deps: downloaded $count of $(( ${#project[@]} + ${#fallback[@]} )) packages" >&2
  exit 1
fi
for name in "${project[@]}"; do dpkg -x "$debs/${name}"_*.deb "$stage"; done
for name in "${fallback[@]}"; do dpkg -x "$debs/${name}"_*.deb "$stage/fallback"; done
for tree in "$stage" "$stage/fallback"; do
  # Debian 12 still ships some libraries in /lib: one folder keeps LD_LIBRARY_PATH short.
  if [ -d "$tree/lib" ]; then
    mkdir -p "$tree/usr/lib"
    cp -a "$tree/lib/." "$tree/usr/lib/"
    rm -rf "${tree:?}/lib"
  fi
done
# The links that the postinsts of libpsm-infinipath1 and openmpi-bin would register with
# update-alternatives.
ln -s ../libpsm1/libpsm_infinipath.so.1.16 "$stage/usr/lib/x86_64-linux-gnu/libpsm_infinipath.so.1"
for tool in mpiexec mpirun mpicc mpicxx; do ln -s "$tool.openmpi" "$stage/usr/bin/$tool"; done
rm -rf "$stage/usr/share/doc" "$stage/usr/share/man" "$stage/usr/share/lintian" \
  "$stage/usr/share/cmake-3.25/Help" "$stage/usr/bin/ctest" "$stage/usr/bin/cpack" \
  "$stage/usr/lib/x86_64-linux-gnu/fortran" "$stage/fallback/usr/share"
find "$stage" -name 'libhdf5*.a' -delete
# CMake 3.25.1's FindCUDAToolkit marks CUDA::nvToolsExt deprecated without asking whether the
# target exists, and CUDA 12.9 and later have no libnvToolsExt: the configure stops with
# "set_property could not find TARGET CUDA::nvToolsExt". Later CMakes ask first; so does this copy.
cuda_module=$stage/usr/share/cmake-3.25/Modules/FindCUDAToolkit.cmake
sed -i 's/^    if(CMAKE_MINIMUM_REQUIRED_VERSION VERSION_GREATER_EQUAL 3.25)$/    if(TARGET CUDA::nvToolsExt AND CMAKE_MINIMUM_REQUIRED_VERSION VERSION_GREATER_EQUAL 3.25)/' \
  "$cuda_module"
grep -q "if(TARGET CUDA::nvToolsExt AND" "$cuda_module" || { echo "gpu-deps: could not patch $cuda_module" >&2; exit 1; }

# ---------------------------------------------------------------------------
# Every library any carried program or library needs is carried, or is the host's own
# (readelf fails on the shell scripts in bin/, hence its || true).
missing=$({ find "$stage" -type f \( -name '*.so*' -o -path '*/bin/*' \) -exec readelf -d {} + 2>/dev/null || true; } |
  sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p' | sort -u | { grep -Ev "$host_sonames" || true; } |
  while read -r soname; do
    [ -n "$(find "$stage" -name "$soname" -print -quit)" ] || echo "$soname"
  done)
if [ -n "$missing" ]; then
  echo "gpu-deps: carried files need libraries that are not carried (add their packages): $(tr '\n' ' ' <<<"$missing")" >&2
  exit 1
fi

# ---------------------------------------------------------------------------
# Pack
rm -rf .gpu-deps
mkdir -p .gpu-deps
{
  for name in "${project[@]}"; do echo "$name $(dpkg-deb -f "$debs/${name}"_*.deb Version) project"; done
  for name in "${fallback[@]}"; do echo "$name $(dpkg-deb -f "$debs/${name}"_*.deb Version) fallback"; done
} >.gpu-deps/packages.txt
# Each fallback library's soname and file, for scripts/gpu-env.sh to compare with the machine's.
for file in "$stage"/fallback/usr/lib/x86_64-linux-gnu/*.so*; do
  [ -L "$file" ] && continue
  echo "$(readelf -d "$file" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p') $(basename "$file")"
done >"$stage/fallback/sonames.txt"
tar -C "$stage" -cf - . | xz -T0 -6 >.gpu-deps/deps.tar.xz
echo "gpu-deps: $count packages ($(du -sm "$stage" | cut -f1) MB unpacked) in .gpu-deps/deps.tar.xz," \
  "$(du -m .gpu-deps/deps.tar.xz | cut -f1) MB"
