#!/usr/bin/env bash
# Finds the project's data and prints its folder on stdout (messages go to stderr).
# `scripts/get-data.sh`: the Tang corpus,
#   1. $POET_DATA, when set;
#   2. ../shared/data/chinese-poetry beside this repository;
#   3. else the npm package chinese-poetry@2.0.1, fetched with `npm pack` into
#      ${POET_CACHE:-<repo>/data-cache}, checked against its published sha512 integrity, and
#      unpacked with only the Tang poems and their tone patterns.
# `scripts/get-data.sh pingshui`: the 平水韵 rhyme table (pingshui.json), for prepare --pingshui,
#   1. $POET_PINGSHUI, when set (the file or its folder);
#   2. ../shared/data/pingshui beside this repository, when it holds pingshui.json;
#   3. else exit 1: no package registry has it to fetch, and data is never committed here.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ "${1:-}" = pingshui ]; then
  if [ -n "${POET_PINGSHUI:-}" ]; then
    [ -e "$POET_PINGSHUI" ] || { echo "get-data: \$POET_PINGSHUI=$POET_PINGSHUI is not a file or folder" >&2; exit 1; }
    echo "$POET_PINGSHUI"
    exit 0
  fi
  shared=$(realpath -m "$repo/../shared/data/pingshui")
  if [ -f "$shared/pingshui.json" ]; then
    echo "$shared"
    exit 0
  fi
  cat >&2 <<EOF
get-data: the 平水韵 rhyme table (pingshui.json) was not found, and no package registry has it:
  put pingshui.json in $shared, or set POET_PINGSHUI to the file or its folder.
  Without it, rhymes fall back to groups learned from the corpus.
EOF
  exit 1
fi

package="chinese-poetry@2.0.1"
integrity="sha512-KtYARvV7CWNtax0na9+Jn6PlhGgSoid7PWyDzXI4KsCEm2odZcqEQyval5koaLygZnM/EQ3lfJ//25K8p3uHNg=="

if [ -n "${POET_DATA:-}" ]; then
  [ -d "$POET_DATA" ] || { echo "get-data: \$POET_DATA=$POET_DATA is not a folder" >&2; exit 1; }
  echo "$POET_DATA"
  exit 0
fi

shared="$repo/../shared/data/chinese-poetry"
if [ -d "$shared/全唐诗" ]; then
  (cd "$shared" && pwd)
  exit 0
fi

cache="${POET_CACHE:-$repo/data-cache}"
target="$cache/chinese-poetry-2.0.1"
if [ -f "$target/.complete" ]; then
  echo "$target"
  exit 0
fi

command -v npm >/dev/null || { echo "get-data: npm is missing (run scripts/install-deps.sh)" >&2; exit 1; }
mkdir -p "$cache"
work=$(mktemp -d "$cache/fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "get-data: fetching $package from the npm registry" >&2
(cd "$work" && npm pack "$package" --silent >/dev/null)
tarball=$(ls "$work"/*.tgz)
actual="sha512-$(node -e 'const c=require("crypto"),f=require("fs");process.stdout.write(c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$tarball")"
if [ "$actual" != "$integrity" ]; then
  echo "get-data: $tarball has integrity $actual, expected $integrity" >&2
  exit 1
fi
mkdir "$work/unpacked"
tar -xzf "$tarball" -C "$work/unpacked" --wildcards \
  'package/dist/quantangshi/poet.tang.*.json' 'package/dist/strains/json/poet.tang.*.json'
touch "$work/unpacked/.complete"
rm -rf "$target"
mv "$work/unpacked" "$target"
echo "get-data: unpacked $(ls "$target/package/dist/quantangshi" | wc -l) poem files into $target" >&2
echo "$target"
