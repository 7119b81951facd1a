#!/usr/bin/env bash
# Builds Swell and starts it with the homework example deployed, on the embedded store
# (SQLite in ./.swell): nothing else to install or run.
#
#   ./scripts/up.sh                      # http://127.0.0.1:8080
#   ./scripts/up.sh --port 9090          # any `swell serve` option may follow
#   SWELL_BUILD=debug ./scripts/up.sh    # a faster first build, slower server
set -euo pipefail
cd "$(dirname "$0")/.."
config="${SWELL_BUILD:-release}"
echo "==> building swell ($config)" >&2
swift build -c "$config" --product swell >&2
bin="$(swift build -c "$config" --show-bin-path)/swell"
echo "==> starting swell with examples/homework deployed (Ctrl-C stops it)" >&2
exec "$bin" serve --example homework "$@"
