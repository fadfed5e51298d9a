#!/usr/bin/env bash
# A throwaway PostgreSQL server for flowsim's SQL tests (Debian's postgresql package).
#
#   scripts/postgres.sh install      install the server with apt-get when initdb/pg_ctl are missing
#   scripts/postgres.sh start        install if needed, start a cluster in a new temp dir on
#                                    127.0.0.1 and print FLOWSIM_PG_URL=... and FLOWSIM_PG_DIR=...
#   scripts/postgres.sh stop DIR     stop the cluster started in DIR and delete DIR
#
# The port is $FLOWSIM_TEST_PG_PORT (default 54329; the next 20 are tried when it is taken).
# PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user the
# package creates (runuser), else as the calling user. Authentication is `trust` on loopback:
# the cluster lives only as long as the test session.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

find_bin() {
    local dir
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return 0
    fi
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

install() {
    find_bin >/dev/null && return 0
    # shellcheck source=scripts/apt.sh
    source "$HERE/apt.sh"
    apt_install "flowsim's SQL tests (or set FLOWSIM_TEST_PG_URL)" postgresql
    find_bin >/dev/null || { echo "postgresql installed but initdb/pg_ctl not found" >&2; exit 1; }
}

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
    install
    local bin dir port last
    bin="$(find_bin)"
    dir="$(mktemp -d "${TMPDIR:-/tmp}/flowsim-pg.XXXXXX")"
    if [ "$(id -u)" -eq 0 ]; then
        id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        chown postgres "$dir"
    fi
    as_owner "$bin/initdb" -D "$dir/data" -U flowsim --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    port="${FLOWSIM_TEST_PG_PORT:-54329}"
    last=$((port + 20))
    while [ "$port" -le "$last" ]; do
        if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
            -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null 2>&1; then
            echo "FLOWSIM_PG_URL=postgresql://flowsim@127.0.0.1:$port/postgres"
            echo "FLOWSIM_PG_DIR=$dir"
            return 0
        fi
        port=$((port + 1))
    done
    cat "$dir/server.log" >&2 || true
    rm -rf "$dir"
    echo "could not start PostgreSQL on ports ${FLOWSIM_TEST_PG_PORT:-54329}-$last" >&2
    exit 1
}

stop() {
    local dir="${1:?usage: postgres.sh stop DIR}" bin
    bin="$(find_bin)"
    case "$dir" in */flowsim-pg.*) ;; *) echo "not a flowsim test cluster: $dir" >&2; exit 1 ;; esac
    if [ -d "$dir/data" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop "${2:-}" ;;
    *) echo "usage: $0 install | start | stop DIR" >&2; exit 2 ;;
esac
