#!/usr/bin/env bash
# The quality of the poem `sample` chooses against the time it takes, for each count of
# candidates and both ways of spending them (--search candidates: whole poems; beam: line by
# line): NUM 七律 (seeds 1..NUM, default tones) at each count, their mean log-probability per
# character under the model and share of repeated characters (sample --json), and the median
# seconds one poem took to write (the JSON's `seconds`: loading the model and the dataset comes
# before and is timed apart, as the wall time of one `sample` of one 七律 at the defaults).
# Usage: bench/candidates_bench.sh CHECKPOINT [BUILD_DIR] [NUM] [COUNTS] [DATASET]
set -euo pipefail
usage="usage: bench/candidates_bench.sh CHECKPOINT [BUILD_DIR] [NUM] [COUNTS] [DATASET]"
checkpoint=${1:?$usage}
build=${2:-build}
num=${3:-20}
counts=${4:-1 2 4 8 12 16}
data=(${5:+--data "$5"})
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

echo "$num 七律 a count, tones soft (the default), seeds 1..$num"
echo "search      candidates  logp/char  repeated  s/poem (median)"
for k in $counts; do
  for search in candidates beam; do
    "$build/bin/poet_dist" sample --checkpoint "$checkpoint" "${data[@]}" --form qilv --candidates "$k" \
      --search "$search" --num "$num" --json >"$scratch/k.json"
    python3 - "$search" "$k" "$scratch/k.json" <<'PY'
import json, statistics, sys
poems = json.load(open(sys.argv[3]))["poems"]
mean = lambda key: sum(p[key] for p in poems) / len(poems)
seconds = statistics.median(p["seconds"] for p in poems)
print(f"{sys.argv[1]:<10}  {int(sys.argv[2]):>10}  {mean('log_prob'):9.3f}  {100 * mean('repeated'):7.1f}%  {seconds:15.3f}")
PY
  done
done
start=$(date +%s.%N)
"$build/bin/poet_dist" sample --checkpoint "$checkpoint" "${data[@]}" --form qilv --json >"$scratch/one.json"
end=$(date +%s.%N)
python3 - "$scratch/one.json" "$start" "$end" <<'PY'
import json, sys
poem = json.load(open(sys.argv[1]))["poems"][0]
wall = float(sys.argv[3]) - float(sys.argv[2])
print(f"one 七律 at the defaults ({poem['candidates']} candidates, {poem['search']}): {poem['seconds']:.2f} s writing, "
      f"{wall:.2f} s wall with loading")
PY
