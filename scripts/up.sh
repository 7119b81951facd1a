#!/usr/bin/env bash
# Builds Swell and starts it with the homework example deployed, on the embedded store
# (SQLite in ./.swell): nothing else to install or run.
#
#   ./scripts/up.sh                        # http://127.0.0.1:8080, a debug build
#   ./scripts/up.sh --port 9090            # any `swell serve` option may follow
#   SWELL_BUILD=release ./scripts/up.sh    # an optimized build (the first takes about 15 min on 2 cores)
#
# Debug is the default because the first build is what a new user waits for: it is the
# faster of the two to compile and serves the tour well; benchmarks build release themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
config="${SWELL_BUILD:-debug}"
case "$config" in
    debug|release) ;;
    *) echo "SWELL_BUILD must be debug or release (got $config)" >&2; exit 1 ;;
esac
echo "==> building swell ($config)" >&2
swift build -c "$config" --product swell >&2
bin="$(swift build -c "$config" --show-bin-path)/swell"
echo "==> starting swell with examples/homework deployed (Ctrl-C stops it)" >&2
echo "    the CLI of this build, for a second terminal:  alias swell=\"$bin\"" >&2
exec "$bin" serve --example homework "$@"
