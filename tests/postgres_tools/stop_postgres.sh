#!/usr/bin/env bash
# Stops the PostgreSQL started by start_postgres.sh (by its PID) and removes its directory.
# The postmaster's own PID is read from its data directory: the PID start_postgres.sh recorded
# can be the `runuser` wrapper, which may be gone while postgres keeps running.
set -u
pid="${SWELL_TEST_POSTGRES_PID:-}"
dir="${SWELL_TEST_POSTGRES_DIR:-}"
stop() {
    local p="$1"
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 0
    kill -INT "$p"   # fast shutdown
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p"
    return 0
}
if [ -n "$dir" ] && [ -f "$dir/data/postmaster.pid" ]; then
    stop "$(head -n 1 "$dir/data/postmaster.pid")"
fi
stop "$pid"
case "$dir" in /tmp/swell-postgres-*) rm -rf "$dir" ;; esac
exit 0
