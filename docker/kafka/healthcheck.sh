#!/usr/bin/env bash
# Healthy once the broker answers an authenticated request on the internal listener.
set -euo pipefail
KAFKA_HEAP_OPTS="-Xmx64m" /opt/kafka/bin/kafka-broker-api-versions.sh \
  --bootstrap-server localhost:9092 \
  --command-config /tmp/adplatform-kafka/admin.properties >/dev/null
