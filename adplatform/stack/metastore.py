"""Hive metastore service (Thrift), shared by every Spark application and the SQL endpoint.

It runs from the Hive 2.3 jars inside pyspark, so client and server speak the same
version; its database is a Derby database owned by this one process, and every other
process reaches the catalog through the metastore's Thrift port.
"""

from __future__ import annotations

from adplatform.settings import Settings
from adplatform.stack.process import port_is_open
from adplatform.stack.service import (
    LOG4J2_FILE,
    Service,
    hadoop_xml,
    java_command,
    pyspark_home,
    write_if_changed,
)


class Metastore(Service):
    name = "metastore"
    port_fields = ("metastore_port",)
    requires = ("hdfs-datanode",)

    def url(self, settings: Settings) -> str:
        return settings.metastore_uri

    def prepare(self, settings: Settings) -> None:
        home = self.home(settings)
        write_if_changed(
            home / "conf" / "hive-site.xml",
            hadoop_xml(
                {
                    "javax.jdo.option.ConnectionURL": (
                        f"jdbc:derby:;databaseName={home / 'metastore_db'};create=true"
                    ),
                    "javax.jdo.option.ConnectionDriverName": "org.apache.derby.jdbc.EmbeddedDriver",
                    "datanucleus.schema.autoCreateAll": "true",
                    "hive.metastore.schema.verification": "false",
                    "hive.metastore.warehouse.dir": settings.warehouse_uri,
                    "fs.defaultFS": settings.hdfs_uri,
                    # Hive's async logging needs the LMAX disruptor, which pyspark lacks.
                    "hive.async.log.enabled": "false",
                }
            ),
        )
        write_if_changed(home / "conf" / "log4j2.properties", LOG4J2_FILE)

    def command(self, settings: Settings) -> list[str]:
        home = self.home(settings)
        return java_command(
            settings,
            [str(home / "conf"), str(pyspark_home() / "jars" / "*")],
            "org.apache.hadoop.hive.metastore.HiveMetaStore",
            "-p",
            str(settings.metastore_port),
            opts=(f"-Dderby.system.home={home}",),
        )

    def healthy(self, settings: Settings) -> bool:
        return port_is_open(settings.host, settings.metastore_port)
