#!/usr/bin/env bash
# The main job on a fresh machine: installs what is missing, gets the corpus, builds
# poet_dist, and turns the Tang poems into the training dataset runs/tang.h5.
# (Training a small model and printing a poem joins this script with the trainer.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
data=$(scripts/get-data.sh)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPOET_BUILD_TESTS=OFF >/dev/null
cmake --build build
build/bin/poet_dist version
mkdir -p runs
build/bin/poet_dist prepare --input "$data" --output runs/tang.h5
build/bin/poet_dist inspect runs/tang.h5 --poems 3
