#!/usr/bin/env bash
# Runs Swell's end-to-end suite against an already built binary.
#   SWELL_BIN=/path/to/swell tests/e2e/run.sh [pytest args…]
# Installs the suite's Python dependencies (requests, pytest, awslambdaric) first.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export SWELL_BIN="${SWELL_BIN:-$root/.build/debug/swell}"
python3 -m pip install -q -r "$here/requirements.txt" 2>&1 | grep -v "Running pip as the 'root' user" || true
cd "$root"
exec python3 -m pytest "$here" -q "$@"
