"""The embedded stack for tests: real services on free ports in a temporary folder.

One stack serves the whole test session. A fixture asks for the services it needs
(`test_stack.require("kafka")`); they start on first use, with whatever they depend on, and
everything started is stopped when the session ends. Ports never collide with a stack that
runs beside the tests (the demo), because each one is picked free at session start.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from adplatform import settings as settings_module
from adplatform.settings import Settings
from adplatform.stack import manager
from adplatform.stack.process import free_port


def free_port_settings(home: Path, **overrides: object) -> Settings:
    """Settings whose every port is free right now, with state and logs under `home`."""
    ports = {f.name: free_port() for f in dataclasses.fields(Settings) if f.name.endswith("_port")}
    base = settings_module.load({})  # defaults only: never the developer's ADPLATFORM_* variables
    return base.with_overrides(
        home=home, prometheus_scrape_interval_s=2, service_heap_mb=384, **ports, **overrides
    )


class ServiceStack:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.started: set[str] = set()

    def require(self, *services: str) -> Settings:
        manager.up(self.settings, services)
        self.started.update(s.name for s in manager.select(services))
        return self.settings

    def release(self, service: str) -> None:
        """Stop one service no test needs any more (not what it requires)."""
        manager.handle(self.settings, manager.BY_NAME[service]).stop()
        self.started.discard(service)

    def stop(self) -> None:
        if self.started:
            manager.down(self.settings, sorted(self.started))


# The days the test stack's adtech_daily owns: tests/dags/test_adtech_daily_run.py simulates
# them. Later than the 2024 days tests/dags/test_lake_maintenance_run.py seeds.
TEST_PIPELINE_DAYS = {"pipeline_start_date": "2024-09-02", "pipeline_end_date": "2024-09-03"}


@pytest.fixture(scope="session")
def test_stack(tmp_path_factory: pytest.TempPathFactory):
    settings = free_port_settings(tmp_path_factory.mktemp("stack"), **TEST_PIPELINE_DAYS)
    stack = ServiceStack(settings)
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def kafka_settings(test_stack: ServiceStack) -> Settings:
    return test_stack.require("kafka")


@pytest.fixture(scope="session")
def hdfs_settings(test_stack: ServiceStack) -> Settings:
    return test_stack.require("hdfs-datanode")


@pytest.fixture(scope="session")
def thrift_settings(test_stack: ServiceStack) -> Settings:
    """HDFS, the shared metastore and the Spark Thrift Server (HiveServer2 endpoint)."""
    return test_stack.require("spark-thrift")


@pytest.fixture(scope="session")
def monitoring_settings(test_stack: ServiceStack) -> Settings:
    return test_stack.require("prometheus", "pushgateway", "alertmanager")


@pytest.fixture(scope="session")
def airflow_settings(test_stack: ServiceStack) -> Settings:
    return test_stack.require(
        "airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"
    )
