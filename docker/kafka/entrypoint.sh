#!/usr/bin/env bash
# Single-node Kafka (KRaft, broker + controller) with SASL/SCRAM-SHA-512 on every client
# listener, for docker-compose. Runs inside the apache/kafka image.
#
# The SCRAM credentials of the admin (inter-broker and tooling) and of the platform's
# clients are written into the metadata log when the storage is formatted on first start
# (KIP-900), because with KRaft nothing else can create the first credential. Later changes
# of the passwords in .env do not apply to a formatted volume: rotate them with
# kafka-configs.sh --alter --add-config 'SCRAM-SHA-512=[password=...]' (docs/cluster.md).
set -euo pipefail

: "${KAFKA_CLUSTER_ID:?}" "${KAFKA_ADMIN_USERNAME:?}" "${KAFKA_ADMIN_PASSWORD:?}"
: "${KAFKA_CLIENT_USERNAME:?}" "${KAFKA_CLIENT_PASSWORD:?}" "${KAFKA_EXTERNAL_ADVERTISED:?}"

KAFKA_BIN=${KAFKA_BIN:-/opt/kafka/bin}
CONF_DIR=${KAFKA_ADPLATFORM_CONF_DIR:-/tmp/adplatform-kafka}
umask 077
mkdir -p "$CONF_DIR"

scram_jaas() {
  printf 'org.apache.kafka.common.security.scram.ScramLoginModule required username="%s" password="%s";' "$1" "$2"
}

cat > "$CONF_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@localhost:9093
controller.listener.names=CONTROLLER
# INTERNAL: other containers (kafka:9092); EXTERNAL: the host (published port).
listeners=INTERNAL://0.0.0.0:9092,EXTERNAL://0.0.0.0:29092,CONTROLLER://localhost:9093
advertised.listeners=INTERNAL://kafka:9092,EXTERNAL://${KAFKA_EXTERNAL_ADVERTISED}
listener.security.protocol.map=INTERNAL:SASL_PLAINTEXT,EXTERNAL:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=INTERNAL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.internal.scram-sha-512.sasl.jaas.config=$(scram_jaas "$KAFKA_ADMIN_USERNAME" "$KAFKA_ADMIN_PASSWORD")
# The external listener only authenticates clients: no credentials of its own.
listener.name.external.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
log.dirs=${KAFKA_DATA_DIR:-/var/lib/kafka/data}
num.partitions=${KAFKA_NUM_PARTITIONS:-3}
# Topics are created on purpose (kafka-init), never by a typo in a producer.
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=${KAFKA_RETENTION_HOURS:-168}
PROPS

# Client configuration for the health check and kafka-init, readable only by this user.
cat > "$CONF_DIR/admin.properties" <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=$(scram_jaas "$KAFKA_ADMIN_USERNAME" "$KAFKA_ADMIN_PASSWORD")
PROPS

"$KAFKA_BIN/kafka-storage.sh" format --ignore-formatted \
  --cluster-id "$KAFKA_CLUSTER_ID" --config "$CONF_DIR/server.properties" \
  --add-scram "SCRAM-SHA-512=[name=${KAFKA_ADMIN_USERNAME},password=${KAFKA_ADMIN_PASSWORD}]" \
  --add-scram "SCRAM-SHA-512=[name=${KAFKA_CLIENT_USERNAME},password=${KAFKA_CLIENT_PASSWORD}]"

exec "$KAFKA_BIN/kafka-server-start.sh" "$CONF_DIR/server.properties"
