#!/usr/bin/env bash
# Start the NameNode, formatting its metadata folder on first start only. (The image's own
# ENSURE_NAMENODE_DIR formats only when the folder is missing, but a named volume mounted
# there always exists.)
set -euo pipefail
name_dir=$(hdfs getconf -confKey dfs.namenode.name.dir)
name_dir=${name_dir#file://}
if [ ! -f "$name_dir/current/VERSION" ]; then
  echo "namenode.sh: formatting $name_dir (first start)"
  hdfs namenode -format -nonInteractive -clusterId "${HDFS_CLUSTER_ID:-adplatform}"
fi
exec hdfs namenode
