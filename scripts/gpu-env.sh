# The carried dependencies, in one place for scripts/gpu-check.sh (on the GPU machine) and
# scripts/gpu-rehearsal.sh (here, with the system's copies hidden), so that the rehearsal runs what
# the GPU check runs. Sourced; it defines functions and changes nothing until one is called:
#   poet_deps_unpack    unpacks .gpu-deps/deps.tar.xz (scripts/gpu-deps.sh) into $POET_DEPS
#                       (default /tmp/poet-deps), keeping of fallback/ only the libraries that this
#                       machine lacks;
#   poet_deps_env       points PATH, the loader, Open MPI, PMIx and pkg-config at it, and sets
#                       poet_cmake_args (the configure flags) and poet_mpiexec; idempotent, so a
#                       child process that inherited the variables may call it again;
#   poet_ldd_check F... fails, naming them, when a library that a file needs is not found;
#   poet_host_python    python3 with the machine's own library path, so that the carried libraries
#                       never stand in front of PyTorch's.
# POET_CMAKE_PREFIX (optional, before poet_deps_env) goes in front of CMAKE_PREFIX_PATH: the GPU
# check puts the PyTorch wheel's LibTorch there.
# shellcheck shell=bash

poet_deps_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
POET_DEPS=${POET_DEPS:-/tmp/poet-deps}

poet_deps_unpack() {
  local archive=$poet_deps_root/.gpu-deps/deps.tar.xz
  if [ ! -f "$archive" ]; then
    echo "gpu-env: no $archive (run scripts/gpu-deps.sh on a Debian 12 machine and carry .gpu-deps)" >&2
    return 1
  fi
  rm -rf "$POET_DEPS"
  mkdir -p "$POET_DEPS"
  # tar needs the xz program for -J; Python's tarfile does the same where it is missing.
  if command -v xz >/dev/null; then
    tar -C "$POET_DEPS" -xJf "$archive"
  else
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$archive" "$POET_DEPS"
  fi
  # A base library this machine has is its own (same soname, same or newer version); Debian 12's
  # copy is kept only where the soname is missing.
  local have kept=() soname file dir=$POET_DEPS/fallback/usr/lib/x86_64-linux-gnu
  have=$({ ldconfig -p 2>/dev/null || true; } | awk '/x86-64/ {print $1}' | sort -u)
  while read -r soname file; do
    if grep -qxF "$soname" <<<"$have"; then rm -f "$dir/$soname" "$dir/$file"; else kept+=("$soname"); fi
  done <"$POET_DEPS/fallback/sonames.txt"
  find "$dir" -xtype l -delete
  echo "gpu-env: unpacked $(wc -l <"$poet_deps_root/.gpu-deps/packages.txt") Debian packages into $POET_DEPS;" \
    "base libraries this machine lacks, taken from Debian 12: ${kept[*]:-none}"
}

poet_deps_env() {
  local lib=$POET_DEPS/usr/lib/x86_64-linux-gnu
  export POET_HOST_PATH=${POET_HOST_PATH-$PATH}
  export POET_HOST_LD_LIBRARY_PATH=${POET_HOST_LD_LIBRARY_PATH-${LD_LIBRARY_PATH:-}}
  export PATH=$POET_DEPS/usr/bin:$POET_HOST_PATH
  # The fallback libraries come last, behind any library path this machine already sets.
  export LD_LIBRARY_PATH=$lib:$lib/pmix2/lib:$lib/ucx${POET_HOST_LD_LIBRARY_PATH:+:$POET_HOST_LD_LIBRARY_PATH}:$POET_DEPS/fallback/usr/lib/x86_64-linux-gnu
  # Open MPI and PMIx find their components, help texts and MCA defaults (Debian's
  # openmpi-mca-params.conf turns off the InfiniBand and UCX transports) from these, not from /usr
  # and /etc/openmpi, where Debian built them to live.
  export OPAL_PREFIX=$POET_DEPS/usr OPAL_SYSCONFDIR=$POET_DEPS/etc/openmpi PMIX_PREFIX=$lib/pmix2
  # Only the carried .pc files; they say prefix=/usr, and the sysroot puts $POET_DEPS in front.
  export PKG_CONFIG_LIBDIR=$lib/pkgconfig:$POET_DEPS/usr/share/pkgconfig PKG_CONFIG_SYSROOT_DIR=$POET_DEPS
  # mpiexec as root, on one machine without ssh: the isolated launcher starts local ranks only, where
  # the default (rsh) one stops mpiexec when it finds no ssh.
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none \
    OMPI_MCA_plm=isolated
  poet_mpiexec=$POET_DEPS/usr/bin/mpiexec.openmpi
  # h5cc would report Debian's /usr paths, so HDF5 is found by its header and library instead.
  # shellcheck disable=SC2034  # for the scripts that source this one
  poet_cmake_args=(
    -G Ninja
    -DCMAKE_PREFIX_PATH="${POET_CMAKE_PREFIX:+$POET_CMAKE_PREFIX;}$POET_DEPS/usr"
    -DMPI_C_COMPILER="$POET_DEPS/usr/bin/mpicc.openmpi"
    -DMPIEXEC_EXECUTABLE="$poet_mpiexec"
    -DHDF5_C_COMPILER_EXECUTABLE=/nonexistent
    -DHDF5_C_INCLUDE_DIR="$POET_DEPS/usr/include/hdf5/serial"
  )
}

poet_ldd_check() {
  local file out failed=0
  for file in "$@"; do
    # Files that are not dynamically linked (scripts, static archives) load nothing.
    out=$(ldd "$file" 2>&1) || true
    grep -q "not a dynamic executable" <<<"$out" && continue
    if grep -q "not found" <<<"$out"; then
      echo "ldd: $file:"
      grep "not found" <<<"$out"
      failed=$((failed + 1))
    fi
  done
  echo "ldd: $# files, $failed with a library not found"
  [ "$failed" -eq 0 ]
}

poet_host_python() {
  LD_LIBRARY_PATH=${POET_HOST_LD_LIBRARY_PATH-${LD_LIBRARY_PATH:-}} PATH=${POET_HOST_PATH-$PATH} python3 "$@"
}
