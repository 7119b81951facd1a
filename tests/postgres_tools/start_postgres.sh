#!/usr/bin/env bash
# Starts a throw-away PostgreSQL for the store contract suites and the cluster tests, and
# prints the environment they need:
#
#   eval "$(tests/postgres_tools/start_postgres.sh)"   # sets SWELL_TEST_POSTGRES_URL, SWELL_TEST_POSTGRES_PID, SWELL_TEST_POSTGRES_DIR
#   swift test --skip-build --filter StoreContract
#   tests/postgres_tools/stop_postgres.sh              # stops it by PID and removes its directory
#
#   start_postgres.sh --ssl [PORT]   also serves TLS (ssl=on) with a certificate for 127.0.0.1 and
#                                    localhost signed by a throw-away CA made here with openssl;
#                                    prints SWELL_TEST_POSTGRES_CA (the CA's PEM file) as well.
#
# `initdb` runs in a fresh temporary directory owned by the `postgres` user (PostgreSQL
# refuses to run as root), the server listens on a free loopback port only (no Unix
# socket), trusts loopback connections, and keeps nothing durable (fsync off: test data).
# Debian's `postgresql` package is installed when its binaries are missing.
set -euo pipefail
bin="${SWELL_POSTGRES_BIN:-}"
if [ -z "$bin" ]; then
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
fi
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "PostgreSQL binaries not found: installing Debian's postgresql" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2 || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2; }
    bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
fi
run_as=()
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
    run_as=(runuser -u postgres --)
fi
ssl=0
if [ "${1:-}" = "--ssl" ]; then
    ssl=1
    shift
fi
port="${1:-auto}"
if [ "$port" = "auto" ] || [ "$port" = "0" ]; then
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
fi
dir="$(mktemp -d /tmp/swell-postgres-XXXXXX)"
chmod 0755 "$dir"
[ "$(id -u)" = 0 ] && chown postgres: "$dir"
"${run_as[@]}" "$bin/initdb" -D "$dir/data" -U swell --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { echo "initdb failed; see $dir/initdb.log" >&2; exit 1; }
log="$dir/postgres.log"
tls_options=()
if [ "$ssl" = 1 ]; then
    tls="$dir/tls"
    mkdir -p "$tls"
    {
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=swell test CA" \
            -keyout "$tls/ca.key" -out "$tls/ca.crt"
        openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$tls/server.key" -out "$tls/server.csr"
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' >"$tls/server.ext"
        openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial -days 2 \
            -extfile "$tls/server.ext" -out "$tls/server.crt"
    } >"$dir/openssl.log" 2>&1 || { echo "openssl failed; see $dir/openssl.log" >&2; exit 1; }
    chmod 0600 "$tls/server.key"
    [ "$(id -u)" = 0 ] && chown -R postgres: "$tls"
    chmod 0755 "$tls"
    chmod 0644 "$tls/ca.crt"
    tls_options=(-c ssl=on -c "ssl_cert_file=$tls/server.crt" -c "ssl_key_file=$tls/server.key")
fi
"${run_as[@]}" "$bin/postgres" -D "$dir/data" -h 127.0.0.1 -p "$port" -k "" \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 "${tls_options[@]}" >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || { echo "postgres exited before listening on 127.0.0.1:$port; see $log" >&2; exit 1; }
    if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" 2>/dev/null; then
        "${run_as[@]}" "$bin/psql" -q -h 127.0.0.1 -p "$port" -U swell -d postgres -c "CREATE DATABASE swell_test" >/dev/null
        echo "export SWELL_TEST_POSTGRES_URL=postgres://swell@127.0.0.1:$port/swell_test"
        echo "export SWELL_TEST_POSTGRES_PID=$pid"
        echo "export SWELL_TEST_POSTGRES_DIR=$dir"
        echo "export SWELL_TEST_POSTGRES_BIN=$bin"
        [ "$ssl" = 1 ] && echo "export SWELL_TEST_POSTGRES_CA=$dir/tls/ca.crt"
        exit 0
    fi
    sleep 0.1
done
echo "postgres did not listen on $port within 15 s; see $log" >&2
kill "$pid"
exit 1
