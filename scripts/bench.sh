#!/usr/bin/env bash
# Benchmarks of issue "any batch size on one machine": peak RSS of the whole `moadian`
# process (GNU time's maximum resident set size) and wall time, on this machine.
#
#   scripts/bench.sh [validate|array|enqueue|status|report|sign|submit|cpu|pg|all]...   (default: all)
#
# BENCH_SIZES (default "100000 1000000"): invoice counts for validate/enqueue/status.
# BENCH_ARRAY_N (default 1000000): invoices of the one JSON array for `array` (~0.5 GB, deleted after).
# BENCH_SUBMIT_N (default 1000): invoices for the submit rows; BENCH_SUBMIT_MEM_N (e.g. 10000):
# one more submit of that many, for the client's peak memory.
# cpu: the client's CPU per invoice of `submit --wait 0` (key file, a fresh sandbox in its own
# process each run) over one RSA-2048 signature + one public-key operation by `openssl speed`,
# measured right before and right after each run (the mean of the two: this machine's RSA speed
# drifts). Two numbers per run: until accepted (the process's CPU time when the server had
# answered the last POST: `cpu_ms.until_accepted` of the JSON output; the goal's measure) and the
# whole process (`/usr/bin/time`: with the inquiry round and the report). BENCH_CPU_N (default
# 10000) invoices, BENCH_CPU_ROUNDS (default 5) runs, then the medians.
# pg: the PostgreSQL queue against the single-runner SQLite file (see "pg" below); uses
# MOADIAN_BENCH_POSTGRES_URL (needs psql; each run gets a schema of its own) or else starts a
# throwaway cluster like scripts/test.sh (scripts/pg-cluster.sh). BENCH_PG_N (default 4000):
# invoices per send run (0: enqueue rows only); BENCH_PG_ENQUEUE_N (default 100000): invoices for the enqueue rows.
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

if want cpu; then
  CPU_N=${BENCH_CPU_N:-10000}
  echo "--- client CPU per invoice, submit --wait 0 of $CPU_N, key file, vs openssl speed rsa2048 sign + verify"
  id="$DIR/identity"
  [ -s "$id/key.pem" ] || "$MOADIAN_BIN" sandbox identity --dir "$id" > /dev/null
  ratios=() whole=()
  openssl speed -seconds 1 rsa2048 > /dev/null 2>&1 # (warm-up, not counted)
  for round in $(seq "${BENCH_CPU_ROUNDS:-5}"); do
    # One signature + one verify (the wrap to the server key is a public-key operation), in ms.
    ossl_ms() { openssl speed -seconds 2 rsa2048 2>/dev/null | awk '/^rsa 2048/ {print ($4 + $5) * 1000}'; }
    before=$(ossl_ms)
    g="$DIR/cpu.jsonl"; "$EX/bench_invoices" "$CPU_N" "$g" --from $((7000000 + round * CPU_N))
    q="$DIR/cpu.sqlite"; rm -f "$q" "$q-wal" "$q-shm"
    fifo="$DIR/serve-cpu.out"; rm -f "$fifo"
    "$MOADIAN_BIN" sandbox serve --port 0 --server-key-bits 2048 > "$fifo" 2> /dev/null &
    serve=$!
    trap 'kill $serve 2>/dev/null || true' EXIT
    for _ in $(seq 100); do [ -s "$fifo" ] && break; sleep 0.1; done
    out=$(mktemp)
    /usr/bin/time -f "%U %S" -o "$out" "$MOADIAN_BIN" submit --json "${WHO[@]}" \
      --key "$id/key.pem" --cert "$id/cert.pem" --endpoint "$(head -1 "$fifo")" --queue "$q" \
      --wait 0 "$g" > "$DIR/last.out" 2> "$DIR/last.err" || true
    kill $serve 2>/dev/null || true
    wait $serve 2>/dev/null || true
    read -r user sys < <(tail -1 "$out"); rm -f "$out"
    after=$(ossl_ms)
    ossl=$(echo "($before + $after) / 2" | bc -l)
    sent=$(grep -c '"status": "\(SUCCESS\|IN_PROGRESS\)"' "$DIR/last.out" || true)
    acc=$(grep -o '"until_accepted": [0-9]*' "$DIR/last.out" | grep -o '[0-9]*$' || echo 0)
    line=$(awk -v u="$user" -v s="$sys" -v n="$CPU_N" -v o="$ossl" -v acc="$acc" \
      -v b="$before" -v a="$after" \
      'BEGIN {c = (u + s) * 1000 / n; ca = acc / n
        printf "openssl %.3f ms (before %.3f, after %.3f); until accepted %.3f ms per invoice: %.2fx; whole process %.3f ms: %.2fx", o, b, a, ca, ca / o, c, c / o}')
    echo "  run $round: $line (accepted or final: $sent of $CPU_N)"
    whole+=("${line##* }")
    accepted=$(echo "$line" | sed 's/.*until accepted [0-9.]* ms per invoice: \([0-9.]*\)x.*/\1/')
    ratios+=("$accepted")
  done
  median() { tr -d x | sort -n | awk '{a[NR] = $1} END {
    printf "%.2fx", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
  echo "  median until accepted $(printf '%s\n' "${ratios[@]}" | median) (goal 1.3x); whole process $(printf '%s\n' "${whole[@]}" | median)"
fi

# --- pg: enqueue and send with 1, 2 and 4 runner PROCESSES on one PostgreSQL queue, as ratios
# to one runner on a SQLite file. Runners split the work by memory ID lease, so the invoices are
# spread over 4 memory IDs of the demo taxpayer (A11216 and A11226 are built into the sandbox,
# A11236 and A11246 registered by a sandbox TOML file; one key-file identity signs for all):
# with k runners, k memory IDs of N/k invoices each, one `enqueue` then one `run --wait 0`
# process per memory ID, all at once. CPU seconds of the runners, the sandbox and the
# PostgreSQL server (the postmaster and every backend, only when this script started it) show
# where the machine's time went.
if want pg; then
  PG_N=${BENCH_PG_N:-4000}
  PG_ENQ_N=${BENCH_PG_ENQUEUE_N:-100000}
  command -v psql >/dev/null || { echo "pg: needs psql"; exit 1; }
  PG_URL=${MOADIAN_BENCH_POSTGRES_URL:-}
  postmaster=""
  if [ -z "$PG_URL" ]; then
    . scripts/pg-cluster.sh
    pg_cluster_start moadian_bench
    PG_URL=$PG_CLUSTER_URL
    postmaster=$(pg_cluster_postmaster)
  fi
  # One schema per run (a fresh queue).
  pg_queue() {
    local name="bench_$1_$$"
    PGOPTIONS='-c client_min_messages=warning' psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $name CASCADE; CREATE SCHEMA $name" >/dev/null
    local sep='?'; [[ "$PG_URL" == *'?'* ]] && sep='&'
    echo "$PG_URL${sep}options=-csearch_path%3D$name"
  }
  ticks() { # CPU clock ticks of pid (its own and its waited-for children's)
    [ -n "$1" ] && [ -r "/proc/$1/stat" ] || { echo 0; return; }
    sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13 + $14 + $15}'
  }
  pg_ticks() { # the server's CPU: the postmaster, the backends it reaped, the live ones
    [ -n "$postmaster" ] || { echo 0; return; }
    local t; t=$(ticks "$postmaster")
    for c in $(ps -o pid= --ppid "$postmaster"); do t=$((t + $(ticks "$c"))); done
    echo "$t"
  }
  HZ=$(getconf CLK_TCK)
  secs() { echo "scale=2; $1 / $HZ" | bc -l; }
  id="$DIR/identity"
  [ -s "$id/key.pem" ] || "$MOADIAN_BIN" sandbox identity --dir "$id" > /dev/null
  MEMS=(A11216 A11226 A11236 A11246)
  cat > "$DIR/sandbox-pg.toml" <<TOML
[[taxpayers]]
memory_id = "A11236"
national_id = "14003778990"
economic_code = "14003778990"
[[taxpayers]]
memory_id = "A11246"
national_id = "14003778990"
economic_code = "14003778990"
TOML
  out="$DIR/serve-pg.out"; rm -f "$out"
  "$MOADIAN_BIN" sandbox serve --port 0 --server-key-bits 2048 --config "$DIR/sandbox-pg.toml" > "$out" 2> /dev/null &
  serve=$!
  trap 'kill $serve 2>/dev/null || true; [ "$(type -t pg_cluster_stop)" != function ] || pg_cluster_stop' EXIT
  for _ in $(seq 100); do [ -s "$out" ] && break; sleep 0.1; done
  base=$(head -1 "$out")
  echo "--- pg: enqueue and send, key file, sandbox serve --server-key-bits 2048 in its own process; $(nproc) cores"
  echo "    PostgreSQL: ${MOADIAN_BENCH_POSTGRES_URL:+MOADIAN_BENCH_POSTGRES_URL}${MOADIAN_BENCH_POSTGRES_URL:-a throwaway cluster on 127.0.0.1 ($(psql -Atc 'show server_version' "$PG_URL"))}"
  from=20000001
  # phase NAME K QUEUE... : runs K processes at once (QUEUE i and the rest of the command line
  # from the caller's PHASE_ARGS i); prints wall, rate and CPU.
  declare -A rate
  run_phase() { # run_phase LABEL N K CMD-BUILDER
    local label=$1 n=$2 k=$3 builder=$4
    local t0 s0 p0 pids=() cpu=0
    s0=$(ticks "$serve"); p0=$(pg_ticks)
    t0=$(date +%s.%N)
    for i in $(seq 0 $((k - 1))); do
      /usr/bin/time -f "%U %S" -o "$DIR/pg-time-$i" $($builder "$i") > "$DIR/pg-out-$i" 2> "$DIR/pg-err-$i" &
      pids+=($!)
    done
    # Exit 1 is "not final yet" (a send phase ends at acceptance); more is a failure.
    local bad=0 rc
    for p in "${pids[@]}"; do rc=0; wait "$p" || rc=$?; [ "$rc" -le 1 ] || bad=$((bad + 1)); done
    local wall; wall=$(echo "$(date +%s.%N) - $t0" | bc -l)
    for i in $(seq 0 $((k - 1))); do
      read -r u sy < <(tail -1 "$DIR/pg-time-$i"); cpu=$(echo "$cpu + $u + $sy" | bc -l)
    done
    local sb pg; sb=$(secs $(( $(ticks "$serve") - s0 ))); pg=$(secs $(( $(pg_ticks) - p0 )))
    [ -n "$postmaster" ] || pg="n/a"
    local r; r=$(echo "$n / $wall" | bc -l)
    rate[$label]=$r
    printf "%-34s %7.2f s %8.0f /s  cpu: runners %6.2f s, sandbox %6.2f s, postgres %6s s%s\n" \
      "$label" "$wall" "$r" "$cpu" "$sb" "$pg" "$([ $bad = 0 ] || echo "  ($bad failed: see $DIR/pg-err-*)")"
  }
  files=()
  make_files() { # make_files N K: K files of N/K invoices, memory IDs MEMS[0..K-1]
    files=()
    for i in $(seq 0 $(($2 - 1))); do
      local f="$DIR/pg-$2-$i.jsonl"
      "$EX/bench_invoices" $(($1 / $2)) "$f" --from "$from" --memory-id "${MEMS[$i]}"
      from=$((from + $1))
      files+=("$f")
    done
  }
  QUEUES=()
  enq_cmd() { echo "$MOADIAN_BIN enqueue --json --memory-id ${MEMS[$1]} --national-id 14003778990 --queue ${QUEUES[$1]} ${files[$1]}"; }
  run_cmd() { echo "$MOADIAN_BIN run --json --memory-id ${MEMS[$1]} --national-id 14003778990 --key $id/key.pem --cert $id/cert.pem --endpoint $base --queue ${QUEUES[$1]} --wait 0"; }
  not_sent() { # invoices still QUEUED after the send phase (should be none)
    local q=0
    for i in $(seq 0 $(($1 - 1))); do
      q=$((q + $(grep -c '"status": "QUEUED"' "$DIR/pg-out-$i" || true)))
    done
    echo "$q"
  }
  # Enqueue alone, large: one process, SQLite file vs PostgreSQL.
  f=$(data "$PG_ENQ_N")
  q="$DIR/pg-enqueue.sqlite"; rm -f "$q" "$q-wal" "$q-shm"
  files=("$f"); QUEUES=("$q")
  run_phase "enqueue $PG_ENQ_N, SQLite" "$PG_ENQ_N" 1 enq_cmd
  QUEUES=("$(pg_queue enqueue)")
  run_phase "enqueue $PG_ENQ_N, PostgreSQL" "$PG_ENQ_N" 1 enq_cmd
  echo "  PostgreSQL / SQLite enqueue rate: $(printf %.2f "$(echo "${rate["enqueue $PG_ENQ_N, PostgreSQL"]} / ${rate["enqueue $PG_ENQ_N, SQLite"]}" | bc -l)")x"
  rm -f "$q" "$q-wal" "$q-shm"
  # Send: SQLite with one runner, then PostgreSQL with 1, 2 and 4 runners (BENCH_PG_N=0: none).
  [ "$PG_N" -gt 0 ] || { kill $serve 2>/dev/null || true; exit 0; }
  make_files "$PG_N" 1
  q="$DIR/pg-send.sqlite"; rm -f "$q" "$q-wal" "$q-shm"; QUEUES=("$q")
  run_phase "SQLite 1 runner: enqueue $PG_N" "$PG_N" 1 enq_cmd
  run_phase "SQLite 1 runner: send $PG_N" "$PG_N" 1 run_cmd
  echo "  left QUEUED: $(not_sent 1)"
  for k in 1 2 4; do
    make_files "$PG_N" "$k"
    QUEUES=(); for i in $(seq 0 $((k - 1))); do QUEUES+=("$(pg_queue "k$k")"); done
    # One queue for all k: every runner on the same schema.
    for i in $(seq 1 $((k - 1))); do QUEUES[$i]=${QUEUES[0]}; done
    run_phase "PostgreSQL $k runner(s): enqueue $PG_N" "$PG_N" "$k" enq_cmd
    run_phase "PostgreSQL $k runner(s): send $PG_N" "$PG_N" "$k" run_cmd
    echo "  left QUEUED: $(not_sent "$k")"
  done
  base1=${rate["SQLite 1 runner: send $PG_N"]}; enq1=${rate["SQLite 1 runner: enqueue $PG_N"]}
  for k in 1 2 4; do
    printf "  %d runner(s) on PostgreSQL vs 1 on SQLite: enqueue %.2fx, send %.2fx\n" "$k" \
      "$(echo "${rate["PostgreSQL $k runner(s): enqueue $PG_N"]} / $enq1" | bc -l)" \
      "$(echo "${rate["PostgreSQL $k runner(s): send $PG_N"]} / $base1" | bc -l)"
  done
  printf "  PostgreSQL 2 runners vs 1: send %.2fx\n" \
    "$(echo "${rate["PostgreSQL 2 runner(s): send $PG_N"]} / ${rate["PostgreSQL 1 runner(s): send $PG_N"]}" | bc -l)"
  echo "  load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  rm -f "$DIR"/pg-*.jsonl "$DIR"/pg-send.sqlite*
  kill $serve 2>/dev/null || true
fi
