#!/usr/bin/env bash
# Stops the PostgreSQL started by start_postgres.sh (by its PID) and removes its directory.
set -u
pid="${SWELL_TEST_POSTGRES_PID:-}"
dir="${SWELL_TEST_POSTGRES_DIR:-}"
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid"   # fast shutdown
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
fi
case "$dir" in /tmp/swell-postgres-*) rm -rf "$dir" ;; esac
exit 0
