#!/usr/bin/env bash
# Register (or update) every Kafka Connect connector whose config is a JSON file beside this
# script, then wait until each one and its tasks are RUNNING.
#
#   CONNECT_URL=http://localhost:8083 connectors/register.sh [config.json ...]
#
# Idempotent: PUT /connectors/<name>/config creates the connector or replaces its config, so
# running it again after editing a file applies the edit and changes nothing otherwise. The
# connector name is the file name without .json (and must equal the file's "name" field).
# Values like ${env:ADPLATFORM_...} are resolved by the Connect worker's EnvVarConfigProvider
# (docker-compose.yml), not by this script. Needs bash and curl only.
set -euo pipefail

CONNECT_URL=${CONNECT_URL:-http://localhost:8083}
TIMEOUT_S=${REGISTER_TIMEOUT_S:-180}
here=$(cd "$(dirname "$0")" && pwd)
if [ "$#" -gt 0 ]; then configs=("$@"); else configs=("$here"/*.json); fi

echo "register: waiting for Kafka Connect at $CONNECT_URL"
deadline=$((SECONDS + TIMEOUT_S))
until curl -fsS "$CONNECT_URL/connectors" >/dev/null 2>&1; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "register: Kafka Connect did not answer within ${TIMEOUT_S}s" >&2
    exit 1
  fi
  sleep 3
done

names=()
for config in "${configs[@]}"; do
  name=$(basename "$config" .json)
  if ! grep -Eq "\"name\" *: *\"$name\"" "$config"; then
    echo "register: $config: its \"name\" must be \"$name\" (the file name)" >&2
    exit 1
  fi
  echo "register: PUT $name"
  curl -fsS -X PUT -H "Content-Type: application/json" --data "@$config" \
    "$CONNECT_URL/connectors/$name/config" >/dev/null
  names+=("$name")
done

for name in "${names[@]}"; do
  while :; do
    status=$(curl -fsS "$CONNECT_URL/connectors/$name/status" || true)
    if grep -Eq '"state": *"FAILED"' <<<"$status"; then
      echo "register: $name FAILED: $status" >&2
      exit 1
    fi
    # RUNNING connector and at least one task, none of them in another state.
    if grep -Eq '"tasks": *\[ *\{' <<<"$status" \
       && ! grep -Eq '"state": *"(UNASSIGNED|PAUSED|RESTARTING|STOPPED)"' <<<"$status"; then
      echo "register: $name RUNNING"
      break
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "register: $name not RUNNING within ${TIMEOUT_S}s: $status" >&2
      exit 1
    fi
    sleep 3
  done
done
