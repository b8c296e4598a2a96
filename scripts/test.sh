#!/usr/bin/env bash
# The test suite, as CI runs it on a clean clone: installs what is missing, gets the corpus
# (required: its tests, Chromium's, Slurm's and the two-node rehearsal's fail rather than skip
# here) and the 平水韵 rhyme table when it can be found, builds everything, starts a one-node
# Slurm with accounting (munged, MariaDB, slurmdbd, slurmctld, slurmd) for the scheduler tests,
# runs ctest, and stops those daemons by pid.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
data=$(scripts/get-data.sh) || {
  echo "test: no corpus could be found or fetched (scripts/get-data.sh); the tests need it" >&2
  exit 1
}
export POET_DATA="$data"
if pingshui=$(scripts/get-data.sh pingshui); then
  export POET_PINGSHUI="$pingshui"
else
  echo "test: no 平水韵 rhyme table was found; the 平水韵 tests will be skipped" >&2
fi
build_dir=${POET_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir"
# A one-node Slurm for the scheduler tests; the trap stops exactly the daemons it started.
slurm_dir=$(mktemp -d /tmp/poet-slurm.XXXXXX)
trap 'scripts/slurm-cluster.sh stop "$slurm_dir"; rm -rf "$slurm_dir"' EXIT
eval "$(scripts/slurm-cluster.sh start "$slurm_dir")"
export POET_REQUIRE_SLURM=1 POET_REQUIRE_CHROMIUM=1 POET_REQUIRE_CORPUS=1 POET_REQUIRE_TWO_NODES=1
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)"
