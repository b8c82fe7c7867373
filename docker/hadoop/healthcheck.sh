#!/usr/bin/env bash
# Health check of the HDFS containers, through the daemons' JMX servlet (no curl in the image).
#   healthcheck.sh namenode   healthy when the NameNode is out of safe mode
#   healthcheck.sh datanode   healthy when the DataNode's block pool service is running
set -euo pipefail

jmx() {  # jmx PORT QUERY -> JSON body of the JMX servlet
  exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf 'GET /jmx?qry=%s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$2" >&3
  cat <&3
  exec 3>&-
}

case "${1:-}" in
  namenode)
    body=$(jmx 9870 'Hadoop:service=NameNode,name=NameNodeInfo')
    grep -Eq '"Safemode" *: *""' <<<"$body"
    ;;
  datanode)
    body=$(jmx 9864 'Hadoop:service=DataNode,name=DataNodeInfo')
    grep -q 'RUNNING' <<<"$body"
    ;;
  *)
    echo "usage: $0 namenode|datanode" >&2
    exit 2
    ;;
esac
