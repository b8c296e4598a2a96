#!/usr/bin/env bash
# The main job on a fresh machine: installs what is missing, gets the corpus and the 平水韵
# rhyme table (without it, rhymes use groups learned from the corpus), builds poet_dist, turns
# the Tang poems into the dataset runs/tang.h5, trains the cpu-quick model (about 14 minutes on
# 2 cores with native bf16, twice that in fp32; run again and it resumes or skips what is done)
# and prints poems: a strict 七绝 with its tones, an acrostic, and one keyword per line; then
# it says how to serve the model as a web page.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
data=$(scripts/get-data.sh)
# An explicit "" so that prepare does not look for the table again on its own.
if ! pingshui=$(scripts/get-data.sh pingshui); then
  pingshui=""
  echo "quickstart: no 平水韵 rhyme table; rhymes use groups learned from the corpus" >&2
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPOET_BUILD_TESTS=OFF >/dev/null
cmake --build build
build/bin/poet_dist version
mkdir -p runs
build/bin/poet_dist prepare --input "$data" --output runs/tang.h5 --pingshui "$pingshui"
build/bin/poet_dist inspect runs/tang.h5 --poems 3
build/bin/poet_dist train --config configs/cpu-quick.toml --data runs/tang.h5 --run-dir runs/cpu-quick --resume auto
build/bin/poet_dist sample --checkpoint runs/cpu-quick/checkpoints/best.pt --form qijue --seed 1 --tones strict --show-tones
build/bin/poet_dist sample --checkpoint runs/cpu-quick/checkpoints/best.pt --acrostic 春夏秋冬 --seed 2
build/bin/poet_dist sample --checkpoint runs/cpu-quick/checkpoints/best.pt --keywords 春,江,花,月 --tones strict --show-tones --seed 3
echo "quickstart: to write poems in a browser, run: build/bin/poet_dist serve --checkpoint runs/cpu-quick/checkpoints/best.pt"
echo "            and open http://127.0.0.1:8080/ (poet_dist export --output model.pt: the model for PyTorch)"
