#!/usr/bin/env bash
# Runs every test of moadian. Installs what the tests need when it is missing:
# SoftHSM2 (the PKCS#11 token the signing tests run against), OpenSC (pkcs11-tool),
# OpenSSL headers and pkg-config (for josekit), PostgreSQL (the shared queue's tests run against
# a real server this script starts), Chromium (the dashboard's browser tests).
# Nothing is skipped: a missing part fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v softhsm2-util >/dev/null 2>&1 || need+=(softhsm2)
command -v pkcs11-tool >/dev/null 2>&1 || need+=(opensc)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
[ -f /usr/include/openssl/ssl.h ] || need+=(libssl-dev)
command -v chromium >/dev/null 2>&1 || [ -n "${MOADIAN_TEST_CHROMIUM:-}" ] || need+=(chromium)
. scripts/pg-cluster.sh
[ -x "$(pg_bin)/initdb" ] && [ -x "$(pg_bin)/pg_ctl" ] || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi

# The SoftHSM module the PKCS#11 tests load; they fail (not skip) when it is absent.
if [ -z "${MOADIAN_TEST_PKCS11_MODULE:-}" ]; then
    for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
             /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so; do
        if [ -f "$m" ]; then export MOADIAN_TEST_PKCS11_MODULE="$m"; break; fi
    done
fi
if [ -z "${MOADIAN_TEST_PKCS11_MODULE:-}" ]; then
    echo "error: SoftHSM2's PKCS#11 module was not found after installing softhsm2" >&2
    exit 1
fi

# A throwaway PostgreSQL server for the shared-queue tests (scripts/pg-cluster.sh), stopped
# and removed on exit, also when tests fail. Tests read MOADIAN_TEST_POSTGRES_URL and fail (not
# skip) without it.
log=""
cleanup() {
    pg_cluster_stop
    [ -z "$log" ] || rm -f "$log"
}
trap cleanup EXIT
if [ -z "${MOADIAN_TEST_POSTGRES_URL:-}" ]; then
    pg_cluster_start moadian_test
    export MOADIAN_TEST_POSTGRES_URL="$PG_CLUSTER_URL"
    echo "PostgreSQL for the tests: $MOADIAN_TEST_POSTGRES_URL"
fi

# House rules first: the declared rust-version is true, formatted, and no clippy warnings.
python3 scripts/check_rust_version.py
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

# Every test binary runs even when an earlier one fails (--no-fail-fast); one line at the end
# adds up the results of all of them.
log=$(mktemp)
status=0
cargo test --workspace --no-fail-fast "$@" 2>&1 | tee "$log" || status=$?
awk '/^test result: /{
        for (i = 1; i <= NF; i++) {
            if ($(i) ~ /^passed/) p += $(i-1);
            if ($(i) ~ /^failed/) f += $(i-1);
            if ($(i) ~ /^ignored/) s += $(i-1);
        }
        n++
     }
     END { printf "%d test binaries\ntests: %d passed, %d failed, %d skipped\n", n, p, f, s }' "$log"
exit "$status"
