#!/usr/bin/env bash
# Benchmarks of issue "any batch size on one machine": peak RSS of the whole `moadian`
# process (GNU time's maximum resident set size) and wall time, on this machine.
#
#   scripts/bench.sh [validate|array|enqueue|status|report|sign|submit|all]...   (default: all)
#
# BENCH_SIZES (default "100000 1000000"): invoice counts for validate/enqueue/status.
# BENCH_ARRAY_N (default 1000000): invoices of the one JSON array for `array` (~0.5 GB, deleted after).
# BENCH_SUBMIT_N (default 1000): invoices for the submit rows; BENCH_SUBMIT_MEM_N (e.g. 10000):
# one more submit of that many, for the client's peak memory.
# MOADIAN_BIN: the binary to measure (default target/release/moadian, built here).
# Files go to target/moadian-bench/ (the 1M JSON Lines file is ~0.7 GB; the queue ~1.5 GB).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${BENCH_SIZES:-"100000 1000000"}
SUBMIT_N=${BENCH_SUBMIT_N:-1000}
DIR=target/moadian-bench
mkdir -p "$DIR"
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time)"; exit 1; }
if [ -z "${MOADIAN_BIN:-}" ]; then
  cargo build --release --bin moadian >&2
  MOADIAN_BIN=target/release/moadian
fi
cargo build --release --example bench_invoices --example parse_only --example sign_rate >&2
EX=target/release/examples
WHAT=${*:-all}
want() { [[ " $WHAT " == *" all "* || " $WHAT " == *" $1 "* ]]; }
# An empty world: no profile is found by accident.
export HOME="$PWD/$DIR/home" XDG_CONFIG_HOME="$PWD/$DIR/home/.config" XDG_DATA_HOME="$PWD/$DIR/home/data"
unset MOADIAN_CONFIG MOADIAN_HOME
mkdir -p "$HOME"
WHO=(--memory-id A11216 --national-id 14003778990)

# measure NAME CMD...: one line "NAME  wall s  peak MB  user+sys s"
measure() {
  local name=$1; shift
  local out; out=$(mktemp)
  /usr/bin/time -f "%e %M %U %S" -o "$out" "$@" > "$DIR/last.out" 2> "$DIR/last.err" || true
  read -r wall kb user sys < <(tail -1 "$out")
  printf "%-44s %8.2f s %8.1f MB %8.2f s cpu\n" "$name" "$wall" "$(echo "$kb/1024" | bc -l)" "$(echo "$user+$sys" | bc -l)"
  rm -f "$out"
}

data() { # data N → path of N valid invoices as JSON Lines
  local f="$DIR/invoices-$1.jsonl"
  [ -s "$f" ] || "$EX/bench_invoices" "$1" "$f"
  echo "$f"
}

echo "machine: $(nproc) cores, $(uname -sr); binary: $MOADIAN_BIN"
for n in $SIZES; do
  f=$(data "$n")
  if want validate; then
    read -r _ ps _ < <("$EX/parse_only" "$f")
    printf "%-44s %8.2f s\n" "parse-only serde_json::Value, $n" "$ps"
    measure "validate --json, $n" "$MOADIAN_BIN" validate --json "$f"
  fi
  q="$DIR/queue-$n.sqlite"
  if want enqueue; then
    rm -f "$q" "$q-wal" "$q-shm"
    measure "enqueue --json, $n" "$MOADIAN_BIN" enqueue --json "${WHO[@]}" --queue "$q" "$f"
  fi
  if want status && [ -s "$q" ]; then
    measure "status --json, $n rows" "$MOADIAN_BIN" status --json --queue "$q"
    measure "status (table of every row), $n rows" "$MOADIAN_BIN" --lang en status --queue "$q"
  fi
  if want report && [ -s "$q" ]; then
    measure "report --format json, $n rows" "$MOADIAN_BIN" report --format json --queue "$q"
    measure "report --out FILE.html, $n rows" "$MOADIAN_BIN" report --queue "$q" --out "$DIR/report-$n.html"
    rm -f "$DIR/report-$n.html"
  fi
done

if want array; then
  # A JSON array is streamed element by element: peak memory stays flat at any size.
  an=${BENCH_ARRAY_N:-1000000}
  af="$DIR/invoices-$an-array.json"
  "$EX/bench_invoices" "$an" "$af" --array
  echo "($(du -h "$af" | cut -f1) JSON array of $an invoices)"
  measure "validate --json, one JSON array of $an" "$MOADIAN_BIN" validate --json "$af"
  grep -o '"summary":{"invoices":[0-9]*' "$DIR/last.out" || true
  rm -f "$af"
fi

if want sign; then
  echo "--- openssl speed rsa2048 (one core)"
  openssl speed -seconds 5 rsa2048 2>/dev/null | grep -E "^rsa 2048|^ *rsa|sign/s" | tail -2
  echo "--- openssl speed -multi $(nproc) rsa2048 (every core: what this machine allows right now)"
  openssl speed -multi "$(nproc)" -seconds 5 rsa2048 2>/dev/null | grep -E "^rsa 2048" | tail -1
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "--- moadian signing + encryption per invoice, key file, by threads"
  "$EX/sign_rate" 4000
fi

if want submit; then
  echo "--- submit $SUBMIT_N invoices, key file, sandbox serve --server-key-bits 2048 in its own process"
  id="$DIR/identity"
  [ -s "$id/key.pem" ] || "$MOADIAN_BIN" sandbox identity --dir "$id" > /dev/null
  f=$(data "$SUBMIT_N")
  fifo="$DIR/serve.out"; rm -f "$fifo"
  "$MOADIAN_BIN" sandbox serve --port 0 --server-key-bits 2048 > "$fifo" 2> /dev/null &
  serve=$!
  trap 'kill $serve 2>/dev/null || true' EXIT
  for _ in $(seq 100); do [ -s "$fifo" ] && break; sleep 0.1; done
  base=$(head -1 "$fifo")
  from=1
  runs="0:$SUBMIT_N 10m:$SUBMIT_N"
  [ -n "${BENCH_SUBMIT_MEM_N:-}" ] && runs="$runs 10m:$BENCH_SUBMIT_MEM_N"
  for run in $runs; do
    wait=${run%%:*}; SN=${run##*:}
    q="$DIR/submit-$wait-$SN.sqlite"; rm -f "$q" "$q-wal" "$q-shm"
    # Fresh tax IDs for each run: the sandbox remembers what it accepted.
    g="$DIR/submit-$wait-$SN.jsonl"; "$EX/bench_invoices" "$SN" "$g" --from "$from"
    from=$((from + SN))
    label="until accepted (--wait 0)"; [ "$wait" = 0 ] || label="until final (--wait $wait)"
    measure "submit $SN, $label" "$MOADIAN_BIN" submit --json "${WHO[@]}" \
      --key "$id/key.pem" --cert "$id/cert.pem" --endpoint "$base" --queue "$q" --wait "$wait" "$g"
    grep -c '"status": "SUCCESS"' "$DIR/last.out" | sed 's/^/  SUCCESS: /' || true
    tr -d '\n ' < "$DIR/last.out" | grep -o '"to_final":{[^}]*}' | sed 's/^/  /' || true
  done
  kill $serve 2>/dev/null || true
fi
