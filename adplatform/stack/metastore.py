"""Hive metastore service (Thrift), shared by every Spark application and the SQL endpoint.

It runs from the Hive 2.3 jars inside pyspark, so client and server speak the same
version; its database is a Derby database owned by this one process, and every other
process reaches the catalog through the metastore's Thrift port. Hive 2.3 binds that port
on every interface, with no setting to change it, so the stack starts it through
``java/BoundHiveMetaStore.java``, compiled on first start, which binds `bind_host`.
"""

from __future__ import annotations

from pathlib import Path

from adplatform.errors import UserError
from adplatform.settings import Settings
from adplatform.stack.process import port_is_open
from adplatform.stack.service import (
    LOG4J2_FILE,
    Service,
    hadoop_xml,
    java_binary,
    java_command,
    pyspark_home,
    run_setup_step,
    write_if_changed,
)

LAUNCHER = Path(__file__).parent / "java" / "BoundHiveMetaStore.java"


def _hive_classpath() -> str:
    return str(pyspark_home() / "jars" / "*")


def compile_launcher(classes: Path) -> None:
    """Compile the launcher into `classes` unless it is there and newer than its source."""
    target = classes / f"{LAUNCHER.stem}.class"
    if target.exists() and target.stat().st_mtime >= LAUNCHER.stat().st_mtime:
        return
    javac = Path(java_binary()).resolve().parent / "javac"
    if not javac.exists():
        raise UserError(
            f"javac not found next to {java_binary()}: the metastore needs a JDK, not only "
            "a JRE (apt-get install openjdk-17-jdk-headless)"
        )
    classes.mkdir(parents=True, exist_ok=True)
    argv = [str(javac), "-nowarn", "-cp", _hive_classpath(), "-d", str(classes), str(LAUNCHER)]
    run_setup_step(argv, f"compiling {LAUNCHER.name}")


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
        compile_launcher(home / "classes")

    def command(self, settings: Settings) -> list[str]:
        home = self.home(settings)
        return java_command(
            settings,
            [str(home / "conf"), str(home / "classes"), _hive_classpath()],
            LAUNCHER.stem,
            settings.bind_host,
            str(settings.metastore_port),
            opts=(f"-Dderby.system.home={home}",),
        )

    def healthy(self, settings: Settings) -> bool:
        return port_is_open(settings.host, settings.metastore_port)
