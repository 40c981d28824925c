#!/usr/bin/env bash
# Writes the hostile-input corpus (examples/make_hostile_corpus.rs; nothing of it is committed)
# to tests/data/hostile/ and prints each file's peak memory (maximum RSS, /usr/bin/time -v)
# through `moadian validate`. Goal: <= 64 MB for every file.
#
#   scripts/make-hostile-corpus.sh            # debug build
#   MOADIAN_BIN=target/release/moadian scripts/make-hostile-corpus.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${MOADIAN_HOSTILE_DIR:-$PWD/tests/data/hostile}"
mkdir -p "$dir"
cargo run -q --example make_hostile_corpus -- "$dir" >/dev/null
bin="${MOADIAN_BIN:-target/debug/moadian}"
[ -x "$bin" ] || cargo build -q --bin moadian
printf '%-24s %10s  %s\n' file "peak RSS" "exit"
for f in "$dir"/*; do
  name=$(basename "$f")
  case "$name" in README.md|.gitignore) continue ;; esac
  log=$(mktemp)
  set +e
  /usr/bin/time -v "$bin" --lang en validate --json "$f" >/dev/null 2>"$log"
  set -e
  kb=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$log")
  code=$(sed -n 's/^[[:space:]]*Exit status: //p' "$log")
  if grep -q panicked "$log"; then code="$code PANIC"; fi
  printf '%-24s %7.1f MB  %s\n' "$name" "$(echo "$kb / 1024" | bc -l)" "$code"
  rm -f "$log"
done
