"""Every setting of the platform, in one place.

Each value comes from an environment variable named ``ADPLATFORM_<NAME>`` (upper case) and
falls back to the default documented next to it. The embedded stack, the Spark jobs, the
DAGs, the simulator and docker-compose all read this module, so a port or a folder is
written down exactly once. Tests build their own ``Settings`` with free ports and a
temporary home so that they never collide with a running demo stack.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "ADPLATFORM_"


class SettingsError(ValueError):
    """A setting has a value the platform cannot use; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    # Where the embedded stack keeps state (data, pid files) and logs.
    home: Path = REPO_ROOT / ".local"
    # Where `make setup` copies the JVM jars declared in jvm/pom.xml.
    jars_dir: Path = REPO_ROOT / ".jars"
    host: str = "127.0.0.1"
    # Per-service hosts where services run on different machines (docker-compose, a real
    # cluster); empty means `host`. The embedded stack leaves them empty.
    kafka_host: str = ""
    hdfs_namenode_host: str = ""
    metastore_host: str = ""
    thrift_host: str = ""
    pushgateway_host: str = ""
    # Kafka client security: PLAINTEXT for the embedded broker; docker-compose uses
    # SASL_PLAINTEXT with SCRAM-SHA-512 (the Kafka client names of these settings).
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = ""
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = field(default="", repr=False)

    kafka_port: int = 9092
    kafka_controller_port: int = 9095
    hdfs_namenode_port: int = 8020
    hdfs_namenode_http_port: int = 9870
    hdfs_datanode_port: int = 9866
    hdfs_datanode_http_port: int = 9864
    hdfs_datanode_ipc_port: int = 9867
    metastore_port: int = 9083
    thrift_port: int = 10000
    thrift_ui_port: int = 4040
    prometheus_port: int = 9090
    pushgateway_port: int = 9091
    alertmanager_port: int = 9093
    airflow_port: int = 8080
    stream_monitor_port: int = 9108
    alert_receiver_port: int = 9099
    # The address every process of the embedded stack listens on (metastore, Spark drivers
    # and UIs, Kafka, HDFS, Prometheus, Airflow...): loopback, because most of them have no
    # authentication (docs/chaos.md, "Listening addresses"). `host` stays the address
    # clients connect to; containers of docker-compose listen on their own interfaces.
    bind_host: str = "127.0.0.1"
    # The scheduler's health server (Airflow's [scheduler] scheduler_health_check_server_port).
    airflow_scheduler_health_port: int = 8974
    # Tries of each push to the Pushgateway before a job goes on without its metrics (with
    # exponential backoff from 0.5 s between them); 1 where no gateway is wanted.
    pushgateway_push_attempts: int = 3

    # Where Alertmanager posts notifications; empty means the stack's own alert receiver,
    # which appends them to logs/alerts.jsonl.
    alert_webhook: str = ""
    # Lake root: HDFS by default; `file:///some/dir` runs the jobs without HDFS.
    lake_uri: str = ""
    # Where the click-tracking system drops its hourly CSV files (a local folder, `file://`
    # or `hdfs://` URI); empty means the lake's inbox (adplatform.lake.inbox_path).
    tracking_inbox: str = ""
    # An inbox file younger than this is taken as still being written (docs/landing.md).
    tracking_min_file_age_s: int = 60
    # Spark master used by spark-submit and the `spark_default` Airflow connection.
    spark_master: str = "local[*]"
    # Heap of each JVM service of the embedded stack, in MiB (2-core, small-memory default).
    service_heap_mb: int = 512
    # Heap of a batch job's driver, in MiB; with a local master the driver is also the
    # executor. Spark's 1 GiB default ran out of heap in clean_bid_requests at 1M
    # impressions (4M bid requests) a day (docs/performance.md).
    spark_driver_memory_mb: int = 3072
    # Key of the HMAC that pseudonymises ids and IPs (semantic 8). Never in the repository:
    # `adplatform stack up` generates one into the state folder on first start.
    pseudonym_key: str = field(default="", repr=False)
    # Version of pseudonym_key (1-255), written into every quarantine payload it seals; the
    # older keys stored values still need, as "<version>:<secret>,..." (adplatform.keyring;
    # rotation: docs/data-contracts.md, "Privacy").
    pseudonym_key_version: int = 1
    pseudonym_retired_keys: str = field(default="", repr=False)
    # Owner days of adtech.quarantine kept before a clean job drops the source's older days.
    quarantine_retention_days: int = 30
    # Confluent Schema Registry; empty = registry-less framing (docs/data-contracts.md).
    schema_registry_url: str = ""
    # Correlation and late-data rules (docs/data-contracts.md); the Spark jobs and the
    # simulator's ground truth read them here, through adplatform.contracts.Rules.
    click_window_hours: int = 24
    last_click_lookback_days: int = 7
    last_view_lookback_days: int = 1
    late_grace_hours: int = 6
    # The first day the daily pipeline owns (UTC, YYYY-MM-DD): unpausing `adtech_daily`
    # creates a run for every day from here on (catchup). It is the simulator's default first
    # day, so `make demo` processes what it simulates; a deployment sets its go-live day.
    pipeline_start_date: str = "2025-01-06"
    # The last day it owns (empty: no end). `make demo` and the test stack set their last
    # simulated day, so that catchup stops there instead of waiting for days nobody delivers.
    pipeline_end_date: str = ""
    # How often Prometheus scrapes its targets and evaluates rules, in seconds.
    prometheus_scrape_interval_s: int = 15
    # Seconds a service may take to become healthy before `stack up` gives up.
    start_timeout_s: int = 180

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.kafka_host or self.host}:{self.kafka_port}"

    @property
    def hdfs_uri(self) -> str:
        return f"hdfs://{self.hdfs_namenode_host or self.host}:{self.hdfs_namenode_port}"

    @property
    def lake(self) -> str:
        """Root URI of the data lake (landing, raw, warehouse, checkpoints)."""
        return (self.lake_uri or f"{self.hdfs_uri}/adtech").rstrip("/")

    @property
    def warehouse_uri(self) -> str:
        return f"{self.lake}/warehouse"

    @property
    def metastore_uri(self) -> str:
        return f"thrift://{self.metastore_host or self.host}:{self.metastore_port}"

    @property
    def hiveserver2_host(self) -> str:
        """Host of the HiveServer2 endpoint (Spark Thrift Server) on `thrift_port`."""
        return self.thrift_host or self.host

    @property
    def pushgateway_url(self) -> str:
        return f"http://{self.pushgateway_host or self.host}:{self.pushgateway_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://{self.host}:{self.prometheus_port}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://{self.host}:{self.alertmanager_port}"

    @property
    def alert_webhook_url(self) -> str:
        return self.alert_webhook or f"http://{self.host}:{self.alert_receiver_port}/alerts"

    @property
    def airflow_url(self) -> str:
        return f"http://{self.host}:{self.airflow_port}"

    @property
    def airflow_home(self) -> Path:
        return self.state_dir / "airflow"

    @property
    def pipeline_start(self) -> date:
        return _date("pipeline_start_date", self.pipeline_start_date)

    @property
    def pipeline_end(self) -> date | None:
        return (
            _date("pipeline_end_date", self.pipeline_end_date) if self.pipeline_end_date else None
        )

    def with_overrides(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)

    def as_env(self) -> dict[str, str]:
        """The settings as ``ADPLATFORM_*`` variables, for child processes."""
        env = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value != "" and value is not None:
                env[ENV_PREFIX + f.name.upper()] = str(value)
        return env


def _date(name: str, raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise SettingsError(
            f"{ENV_PREFIX}{name.upper()}={raw!r} is not a date (YYYY-MM-DD)"
        ) from None


def _coerce(name: str, raw: str, kind: type) -> object:
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(
                f"{ENV_PREFIX}{name.upper()}={raw!r} is not a whole number"
            ) from None
    if kind is Path:
        return Path(raw).expanduser().resolve()
    return raw


def load(environ: dict[str, str] | None = None) -> Settings:
    """Settings from the environment (``ADPLATFORM_*``), defaults for what is unset."""
    environ = os.environ if environ is None else environ
    kinds = {"int": int, "Path": Path, "str": str}
    values = {}
    for f in dataclasses.fields(Settings):
        raw = environ.get(ENV_PREFIX + f.name.upper())
        if raw is not None and raw != "":
            values[f.name] = _coerce(f.name, raw, kinds[str(f.type)])
    return Settings(**values)
