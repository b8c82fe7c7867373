"""HDFS: one NameNode (formatted on first start) and one DataNode."""

from __future__ import annotations

import getpass

import requests

from adplatform.settings import Settings
from adplatform.stack.service import (
    LOG4J1_FILE,
    Service,
    hadoop_xml,
    jar_classpath,
    java_command,
    run_setup_step,
    write_if_changed,
)


def hadoop_conf_dir(settings: Settings):
    """core-site.xml and hdfs-site.xml shared by the NameNode and the DataNode."""
    conf = settings.state_dir / "hadoop-conf"
    data = settings.state_dir / "hdfs"
    host, bind = settings.host, settings.bind_host
    write_if_changed(
        conf / "core-site.xml",
        hadoop_xml({"fs.defaultFS": settings.hdfs_uri, "hadoop.tmp.dir": data / "tmp"}),
    )
    write_if_changed(
        conf / "hdfs-site.xml",
        hadoop_xml(
            {
                "dfs.namenode.name.dir": data / "name",
                "dfs.datanode.data.dir": data / "data",
                "dfs.replication": 1,
                # Every socket of both daemons on bind_host (settings.py); the names they
                # hand to clients stay `host`.
                "dfs.namenode.rpc-bind-host": bind,
                "dfs.namenode.http-address": f"{host}:{settings.hdfs_namenode_http_port}",
                "dfs.namenode.http-bind-host": bind,
                "dfs.datanode.address": f"{bind}:{settings.hdfs_datanode_port}",
                "dfs.datanode.http.address": f"{bind}:{settings.hdfs_datanode_http_port}",
                "dfs.datanode.ipc.address": f"{bind}:{settings.hdfs_datanode_ipc_port}",
                # WebHDFS redirects writes to the DataNode by this name.
                "dfs.datanode.hostname": host,
                "dfs.namenode.datanode.registration.ip-hostname-check": "false",
                # Leave safe mode as soon as the blocks are reported: one DataNode only.
                "dfs.namenode.safemode.extension": 0,
                "dfs.namenode.safemode.min.datanodes": 0,
                "dfs.permissions.superusergroup": "supergroup",
                "dfs.webhdfs.enabled": "true",
            }
        ),
    )
    write_if_changed(conf / "log4j.properties", LOG4J1_FILE)
    return conf


def _namenode_jmx(settings: Settings, bean: str) -> dict:
    url = f"http://{settings.host}:{settings.hdfs_namenode_http_port}/jmx"
    beans = requests.get(url, params={"qry": bean}, timeout=3).json()["beans"]
    return beans[0] if beans else {}


class NameNode(Service):
    name = "hdfs-namenode"
    port_fields = ("hdfs_namenode_port", "hdfs_namenode_http_port")

    def url(self, settings: Settings) -> str:
        return f"http://{settings.host}:{settings.hdfs_namenode_http_port}"

    def _classpath(self, settings: Settings) -> list[str]:
        return [str(hadoop_conf_dir(settings)), jar_classpath(settings, "hadoop")]

    def prepare(self, settings: Settings) -> None:
        if not (settings.state_dir / "hdfs" / "name" / "current" / "VERSION").exists():
            argv = java_command(
                settings,
                self._classpath(settings),
                "org.apache.hadoop.hdfs.server.namenode.NameNode",
                "-format",
                "-nonInteractive",
                "-clusterId",
                "adplatform",
            )
            run_setup_step(argv, "formatting the HDFS NameNode")

    def command(self, settings: Settings) -> list[str]:
        return java_command(
            settings, self._classpath(settings), "org.apache.hadoop.hdfs.server.namenode.NameNode"
        )

    def healthy(self, settings: Settings) -> bool:
        # Up, not out of safe mode: after a restart the NameNode leaves safe mode only
        # once the DataNode, which waits for this check, has reported its blocks.
        try:
            return bool(_namenode_jmx(settings, "Hadoop:service=NameNode,name=NameNodeInfo"))
        except (requests.RequestException, ValueError, KeyError):
            return False


class DataNode(Service):
    name = "hdfs-datanode"
    port_fields = ("hdfs_datanode_port", "hdfs_datanode_http_port", "hdfs_datanode_ipc_port")
    requires = ("hdfs-namenode",)

    def url(self, settings: Settings) -> str:
        return f"http://{settings.host}:{settings.hdfs_datanode_http_port}"

    def command(self, settings: Settings) -> list[str]:
        return java_command(
            settings,
            [str(hadoop_conf_dir(settings)), jar_classpath(settings, "hadoop")],
            "org.apache.hadoop.hdfs.server.datanode.DataNode",
        )

    def after_start(self, settings: Settings) -> None:
        """Create the lake root readable only by the platform's user (raw data is personal)."""
        if not settings.lake.startswith(settings.hdfs_uri):
            return
        path = settings.lake[len(settings.hdfs_uri) :] or "/"
        url = f"http://{settings.host}:{settings.hdfs_namenode_http_port}/webhdfs/v1{path}"
        user = {"user.name": getpass.getuser()}
        requests.put(url, params={"op": "MKDIRS", **user}, timeout=30).raise_for_status()
        requests.put(
            url, params={"op": "SETPERMISSION", "permission": "700", **user}, timeout=30
        ).raise_for_status()

    def healthy(self, settings: Settings) -> bool:
        try:
            state = _namenode_jmx(settings, "Hadoop:service=NameNode,name=FSNamesystemState")
            info = _namenode_jmx(settings, "Hadoop:service=NameNode,name=NameNodeInfo")
            return state.get("NumLiveDataNodes", 0) >= 1 and info.get("Safemode", "") == ""
        except (requests.RequestException, ValueError, KeyError):
            return False
