#!/usr/bin/env bash
# Rehearses here, on the Debian development machine, the relocation that scripts/gpu-check.sh
# relies on where the GPU machine has none of Debian's packages. In a private mount namespace,
# every file that the carried project packages (.gpu-deps/packages.txt, from scripts/gpu-deps.sh)
# installed on this machine is hidden under an empty file or folder: Open MPI and PMIx, HDF5,
# OpenCC with its dictionaries, CMake, Ninja, pkgconf and the header-only libraries; so are ssh
# and rsh, which the GPU machine lacks too. LibTorch, the compiler and the base libraries stay.
# scripts/gpu-env.sh then sets up the carried copies exactly as the GPU check does, and this
# script shows that the system copies are gone, configures and builds poet_dist and
# poet_mpi_tests in a build folder of its own, checks with ldd where their libraries come from,
# runs the collective tests under `mpiexec -np 2`, and uses OpenCC: prepare converts the corpus to
# simplified characters, sample writes a poem back in traditional ones. Each part prints PASS or
# FAIL and its time; the exit code is the number of parts that failed. Runs as root (unshare -m).
# Usage: scripts/gpu-rehearsal.sh [BUILD_DIR]   (default build-x; the corpus is found as
#        poet_dist prepare finds it, $POET_DATA or ../shared/data/chinese-poetry)
# shellcheck disable=SC2317  # the parts are functions that part() calls
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
if [ -z "${POET_REHEARSAL_NAMESPACE:-}" ]; then
  POET_REHEARSAL_NAMESPACE=1 exec unshare --mount --propagation private "$0" "$@"
fi
build=${1:-build-x}
work=/tmp/poet-rehearsal
export POET_DEPS=/tmp/poet-rehearsal-deps

# ---------------------------------------------------------------------------
# Hide the system's copies of what .gpu-deps carries
# The shallowest folders that hold nothing but the packages' files get an empty tmpfs; every
# other file of theirs (a library beside unrelated ones, a program in /usr/bin) an empty,
# non-executable file. The list goes to $work/hidden.txt.
rm -rf "$work"
mkdir -p "$work"
: >"$work/empty"
packages=$(awk '$3 == "project" {print $1}' .gpu-deps/packages.txt)
# shellcheck disable=SC2086  # one argument a package
{ dpkg -L $packages 2>/dev/null || true; } | python3 -c '
import functools, os, sys
owned = {p for p in (line.strip() for line in sys.stdin) if p and os.path.lexists(p) and not os.path.isdir(p)}
# Folders of the whole system, never hidden whole (and not worth walking).
system = {"/", "/etc", "/usr", "/usr/bin", "/usr/include", "/usr/lib", "/usr/lib/x86_64-linux-gnu", "/usr/share"}

@functools.cache
def only_owned(folder):
    for top, dirs, files in os.walk(folder):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
            if os.path.join(top, name) not in owned:
                return False
    return True

def under(path, folders):
    return any(path.startswith(f + "/") for f in folders)

whole = set()
for path in owned:
    folder, best = os.path.dirname(path), None
    while folder not in system and only_owned(folder):
        best, folder = folder, os.path.dirname(folder)
    if best:
        whole.add(best)
whole = {d for d in whole if not under(d, whole)}
files = {os.path.realpath(p) for p in owned if not under(p, whole)}
files = {f for f in files if os.path.isfile(f) and not under(f, whole)}
print("\n".join([f"dir {d}" for d in sorted(whole)] + [f"file {f}" for f in sorted(files)]))
' >"$work/hidden.txt"
for tool in ssh rsh; do
  path=$(command -v "$tool" || true)
  if [ -n "$path" ]; then echo "file $(realpath "$path")" >>"$work/hidden.txt"; fi
done
while read -r kind path; do
  if [ "$kind" = dir ]; then mount -t tmpfs -o size=64k,mode=755 poet-hidden "$path"
  else mount --bind "$work/empty" "$path"; fi
done <"$work/hidden.txt"

# ---------------------------------------------------------------------------
# The parts
failed=0
part() {  # NAME COMMAND...: runs it, prints PASS or FAIL and the seconds it took
  local name=$1 start rc=0
  shift
  echo
  echo "== $name"
  start=$(date +%s.%N)
  "$@" || rc=$?
  local seconds
  seconds=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')
  if [ "$rc" -eq 0 ]; then echo "PASS $name ($seconds s)"; else echo "FAIL $name ($seconds s, exit $rc)"; failed=$((failed + 1)); fi
  printf '%6.1f s  %s  %s\n' "$seconds" "$([ "$rc" -eq 0 ] && echo PASS || echo FAIL)" "$name" >>"$work/times.txt"
}
# Each part is called after ||, where bash ignores set -e: every step that can fail says so.

hidden() {
  echo "hidden: $(grep -c '^dir' "$work/hidden.txt") folders under tmpfs and $(grep -c '^file' "$work/hidden.txt") files under an empty file ($work/hidden.txt)"
  local folder file
  for folder in /usr/share/opencc /usr/lib/x86_64-linux-gnu/openmpi /usr/lib/x86_64-linux-gnu/pmix2/lib/pmix \
    /usr/include/hdf5 /usr/share/openmpi /etc/openmpi /usr/share/cmake-3.25; do
    echo "  $folder: $(find "$folder" -mindepth 1 | wc -l) entries"
    [ -z "$(find "$folder" -mindepth 1)" ] || return 1
  done
  for file in /usr/lib/x86_64-linux-gnu/libmpi.so.40 /usr/lib/x86_64-linux-gnu/pmix2/lib/libpmix.so.2 \
    /usr/lib/x86_64-linux-gnu/libhdf5_serial.so.103 /usr/lib/x86_64-linux-gnu/hdf5/serial/libhdf5.so \
    /usr/lib/x86_64-linux-gnu/libopencc.so.1.1 /usr/bin/mpiexec.openmpi /usr/bin/cmake /usr/bin/ninja \
    /usr/bin/pkgconf /usr/bin/ssh; do
    echo "  $file: $(stat -L -c %s "$file") bytes"
    [ "$(stat -L -c %s "$file")" -eq 0 ] || return 1
  done
}

unpack() {
  # shellcheck source=scripts/gpu-env.sh
  source scripts/gpu-env.sh && poet_deps_unpack && poet_deps_env
}

carried_libraries() {
  local libs
  mapfile -t libs < <(find "$POET_DEPS" -type f -name '*.so*')
  poet_ldd_check "${libs[@]}"
}

tools() {
  local tool
  for tool in cmake ninja pkg-config mpiexec mpicc c++; do
    echo "  $tool: $(command -v "$tool")"
  done
  for tool in cmake ninja pkg-config mpiexec; do
    [[ "$(command -v "$tool")" == "$POET_DEPS"/* ]] || return 1
  done
  cmake --version | head -1
  echo "ninja $(ninja --version), pkg-config $(pkg-config --version), $(mpiexec --version | head -1)"
  echo "Open MPI's MCA defaults: $(ompi_info --path sysconfdir | sed 's/^ *//')"
}

configure() {
  rm -rf "$build"
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release "${poet_cmake_args[@]}" >"$work/configure.log" 2>&1 ||
    { tail -30 "$work/configure.log"; return 1; }
  grep -E "poet_dist|Found (MPI|HDF5|PkgConfig|GTest|Torch)" "$work/configure.log" || true
  grep -E "^(MPI_mpi_LIBRARY|HDF5_hdf5_LIBRARY_RELEASE|HDF5_C_INCLUDE_DIR|pkgcfg_lib_[A-Z]+_[a-z]+|GTest_DIR|CMAKE_MAKE_PROGRAM):" \
    "$build/CMakeCache.txt" | sed 's/^/  /'
}

build_targets() {
  flock /tmp/poet-build.lock cmake --build "$build" --target poet_dist poet_mpi_tests >"$work/build.log" 2>&1 ||
    { tail -30 "$work/build.log"; return 1; }
  tail -1 "$work/build.log"
}

built_binaries() {
  poet_ldd_check "$build/bin/poet_dist" "$build/bin/poet_mpi_tests" || return 1
  ldd "$build/bin/poet_dist" | grep -E "libmpi|libopen-pal|libpmix|libhwloc|libhdf5|libopencc|libmarisa|libxxhash|libsimdjson|libtomlplusplus" |
    sed 's/ (0x.*//'
  ! ldd "$build/bin/poet_dist" | grep -E "libmpi|libhdf5|libopencc" | grep -v "=> $POET_DEPS/"
}

mpi_tests() {
  timeout 120 mpiexec -np 2 --oversubscribe "$build/bin/poet_mpi_tests" --gtest_color=no 2>&1 | tail -4
}

opencc() {
  # prepare converts the traditional corpus to simplified characters (OpenCC t2s); sample of a
  # simplified model with --script traditional converts back (s2t).
  local checkpoint=$work/tiny/checkpoints/ckpt-00000010.pt
  "$build/bin/poet_dist" prepare --output "$work/tang.h5" | grep -E "poems kept|wrote" || return 1
  "$build/bin/poet_dist" train --config configs/tiny.toml --data "$work/tang.h5" --run-dir "$work/tiny" \
    --set run.steps=10 --progress plain >"$work/train.log" 2>&1 || { tail "$work/train.log"; return 1; }
  "$build/bin/poet_dist" sample --checkpoint "$checkpoint" --form wujue --seed 1 --script traditional || return 1
  "$build/bin/poet_dist" sample --checkpoint "$checkpoint" --form wujue --seed 1
}

part "system copies hidden" hidden
part "unpack .gpu-deps ($(du -m .gpu-deps/deps.tar.xz | cut -f1) MB)" unpack
part "ldd of every carried library" carried_libraries
part "tools come from .gpu-deps" tools
part "configure" configure
part "build poet_dist poet_mpi_tests" build_targets
part "ldd of the built binaries" built_binaries
part "mpiexec -np 2 poet_mpi_tests" mpi_tests
part "OpenCC: prepare (t2s), sample --script traditional (s2t)" opencc

echo
echo "== times"
cat "$work/times.txt"
echo "rehearsal: $failed part(s) failed"
exit "$failed"
