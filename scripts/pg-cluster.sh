# Sourced by scripts/test.sh and scripts/bench.sh: a throwaway PostgreSQL server — its own
# cluster in a temporary directory, owned by the unprivileged `postgres` user when run as root
# (the server refuses to run as root), listening only on 127.0.0.1 on a free port, its socket
# inside that directory.
#
#   pg_cluster_start DB   starts it, creates database DB, sets PG_CLUSTER_DIR and
#                         PG_CLUSTER_URL (postgres://moadian@127.0.0.1:PORT/DB)
#   pg_cluster_stop       stops it and removes the directory (safe to call twice)
#   pg_cluster_postmaster the server's main pid (for its CPU time)

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
PG_CLUSTER_DIR=""
PG_CLUSTER_URL=""
pg_cluster_start() {
    local db=$1 port
    PG_CLUSTER_DIR=$(mktemp -d)
    chmod 0755 "$PG_CLUSTER_DIR"
    mkdir -p "$PG_CLUSTER_DIR/data" "$PG_CLUSTER_DIR/run"
    [ "$(id -u)" != 0 ] || chown postgres: "$PG_CLUSTER_DIR/data" "$PG_CLUSTER_DIR/run"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_pg "$(pg_bin)/initdb" -D "$PG_CLUSTER_DIR/data" -U moadian --auth=trust -E UTF8 --locale=C.UTF-8 >"$PG_CLUSTER_DIR/initdb.log" 2>&1 \
        || { cat "$PG_CLUSTER_DIR/initdb.log" >&2; return 1; }
    as_pg "$(pg_bin)/pg_ctl" -D "$PG_CLUSTER_DIR/data" -l "$PG_CLUSTER_DIR/run/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$PG_CLUSTER_DIR/run -c max_connections=300 -c fsync=on" \
        start >/dev/null || { cat "$PG_CLUSTER_DIR/run/server.log" >&2; return 1; }
    as_pg "$(pg_bin)/createdb" -h 127.0.0.1 -p "$port" -U moadian "$db"
    PG_CLUSTER_URL="postgres://moadian@127.0.0.1:$port/$db"
}
pg_cluster_stop() {
    if [ -n "$PG_CLUSTER_DIR" ]; then
        as_pg "$(pg_bin)/pg_ctl" -D "$PG_CLUSTER_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
        rm -rf "$PG_CLUSTER_DIR"
        PG_CLUSTER_DIR=""
    fi
}
pg_cluster_postmaster() {
    [ -n "$PG_CLUSTER_DIR" ] && head -1 "$PG_CLUSTER_DIR/data/postmaster.pid"
}
