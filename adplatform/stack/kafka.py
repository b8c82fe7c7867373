"""Apache Kafka broker in KRaft mode (combined broker and controller, one node)."""

from __future__ import annotations

import base64
import uuid

from adplatform.settings import Settings
from adplatform.stack.service import (
    LOG4J2_FILE,
    Service,
    jar_classpath,
    java_command,
    run_setup_step,
    write_if_changed,
)


class Kafka(Service):
    name = "kafka"
    port_fields = ("kafka_port", "kafka_controller_port")

    def _config(self, settings: Settings) -> str:
        host, bind, data = settings.host, settings.bind_host, self.home(settings) / "data"
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{host}:{settings.kafka_controller_port}",
                f"listeners=PLAINTEXT://{bind}:{settings.kafka_port},"
                f"CONTROLLER://{bind}:{settings.kafka_controller_port}",
                f"advertised.listeners=PLAINTEXT://{host}:{settings.kafka_port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
                f"log.dirs={data}",
                # One node: internal topics cannot be replicated.
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "num.partitions=2",
                "auto.create.topics.enable=true",
                # Retention goes by record timestamps, and simulated records carry dates in
                # the past: bound the log by size, not age, or landing could miss them.
                "log.retention.ms=-1",
                f"log.retention.bytes={10 * 1024**3}",
                "log.message.timestamp.before.max.ms=9223372036854775807",
                "group.initial.rebalance.delay.ms=0",
                "",
            ]
        )

    def prepare(self, settings: Settings) -> None:
        home = self.home(settings)
        write_if_changed(home / "server.properties", self._config(settings))
        write_if_changed(home / "log4j2.properties", LOG4J2_FILE)
        if not (home / "data" / "meta.properties").exists():
            # First start: format the KRaft metadata log with a fresh cluster id.
            argv = java_command(
                settings,
                [jar_classpath(settings, "kafka")],
                "kafka.tools.StorageTool",
                "format",
                "-t",
                _kraft_cluster_id(),
                "-c",
                str(home / "server.properties"),
            )
            run_setup_step(argv, "formatting Kafka's KRaft storage")

    def command(self, settings: Settings) -> list[str]:
        home = self.home(settings)
        return java_command(
            settings,
            [jar_classpath(settings, "kafka")],
            "kafka.Kafka",
            str(home / "server.properties"),
            opts=(f"-Dlog4j2.configurationFile={home / 'log4j2.properties'}",),
        )

    def healthy(self, settings: Settings) -> bool:
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        try:
            admin = KafkaAdminClient(
                bootstrap_servers=settings.kafka_bootstrap,
                request_timeout_ms=3000,
            )
        except (KafkaError, OSError):
            return False
        try:
            admin.list_topics()
            return True
        except (KafkaError, OSError):
            return False
        finally:
            admin.close()


def _kraft_cluster_id() -> str:
    """A random cluster id; never one starting with '-', which the tool reads as an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if cluster_id[0].isalnum():
            return cluster_id
