"""Spark Thrift Server: the HiveServer2-protocol SQL endpoint (beeline, pyhive, JDBC)."""

from __future__ import annotations

from adplatform.settings import Settings
from adplatform.spark_config import spark_env, spark_submit_conf_args
from adplatform.stack.process import port_is_open
from adplatform.stack.service import Service, pyspark_home


class ThriftServer(Service):
    name = "spark-thrift"
    port_fields = ("thrift_port", "thrift_ui_port")
    requires = ("metastore",)

    def url(self, settings: Settings) -> str:
        return f"jdbc:hive2://{settings.host}:{settings.thrift_port}/default"

    def command(self, settings: Settings) -> list[str]:
        return [
            str(pyspark_home() / "bin" / "spark-submit"),
            "--master",
            settings.spark_master,
            "--name",
            "adplatform-thrift-server",
            "--driver-memory",
            f"{settings.service_heap_mb * 2}m",
            "--class",
            "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
            *spark_submit_conf_args(settings),
            "--conf",
            f"spark.ui.port={settings.thrift_ui_port}",
            "--hiveconf",
            f"hive.server2.thrift.port={settings.thrift_port}",
            "--hiveconf",
            f"hive.server2.thrift.bind.host={settings.bind_host}",
            # Queries read the lake as the platform's user: the lake root is private to it
            # (raw data is personal), and analysts reach tables only through this endpoint.
            "--hiveconf",
            "hive.server2.enable.doAs=false",
            "spark-internal",
        ]

    def env(self, settings: Settings) -> dict[str, str]:
        return spark_env(settings)

    def healthy(self, settings: Settings) -> bool:
        from pyhive import hive

        # Probe the port first: pyhive logs every refused connection as an error.
        if not port_is_open(settings.host, settings.thrift_port):
            return False
        try:
            conn = hive.connect(host=settings.host, port=settings.thrift_port, username="health")
            try:
                cursor = conn.cursor()
                cursor.execute("SELECT 1")
                return cursor.fetchall() == [(1,)]
            finally:
                conn.close()
        except Exception:
            # pyhive surfaces refused connections and Thrift errors as many unrelated types.
            return False
