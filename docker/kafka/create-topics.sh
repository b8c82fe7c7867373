#!/usr/bin/env bash
# One-shot (kafka-init service): create the platform's topics if they do not exist yet.
# KAFKA_TOPICS lists them as name:partitions, separated by spaces.
set -euo pipefail
: "${KAFKA_ADMIN_USERNAME:?}" "${KAFKA_ADMIN_PASSWORD:?}" "${KAFKA_TOPICS:?}"

umask 077
config=$(mktemp)
trap 'rm -f "$config"' EXIT
cat > "$config" <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${KAFKA_ADMIN_USERNAME}" password="${KAFKA_ADMIN_PASSWORD}";
PROPS

export KAFKA_HEAP_OPTS="-Xmx128m"
for spec in $KAFKA_TOPICS; do
  topic=${spec%%:*}
  partitions=${spec##*:}
  /opt/kafka/bin/kafka-topics.sh --bootstrap-server kafka:9092 --command-config "$config" \
    --create --if-not-exists --topic "$topic" --partitions "$partitions" --replication-factor 1
done
/opt/kafka/bin/kafka-topics.sh --bootstrap-server kafka:9092 --command-config "$config" --list
