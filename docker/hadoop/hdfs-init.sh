#!/usr/bin/env bash
# One-shot (hdfs-init service): the lake root, owned by the platform's user and closed to
# everyone else (the raw zone holds IPs and device ids in clear), plus the folders Spark and
# Kafka Connect expect. Runs as the HDFS superuser (the NameNode's user); idempotent.
set -euo pipefail
: "${LAKE_ROOT:?}" "${PLATFORM_USER:?}"

hdfs dfs -mkdir -p "$LAKE_ROOT" /tmp "/user/$PLATFORM_USER"
hdfs dfs -chmod 1777 /tmp
hdfs dfs -chown -R "$PLATFORM_USER:$PLATFORM_USER" "$LAKE_ROOT" "/user/$PLATFORM_USER"
hdfs dfs -chmod 750 "$LAKE_ROOT" "/user/$PLATFORM_USER"
hdfs dfs -ls -d "$LAKE_ROOT" "/user/$PLATFORM_USER"
