#!/usr/bin/env bash
# The test suite, as CI runs it on a clean clone: installs what is missing, gets the corpus
# for the tests that need it, builds everything and runs ctest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
if data=$(scripts/get-data.sh); then
  export POET_DATA="$data"
else
  echo "test: no corpus could be found or fetched; the real-corpus tests will be skipped" >&2
fi
build_dir=${POET_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir"
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)"
