"""Start, stop and inspect the embedded stack as a whole."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass

from adplatform.errors import UserError
from adplatform.settings import REPO_ROOT, Settings
from adplatform.stack.airflow import (
    AirflowApiServer,
    AirflowDagProcessor,
    AirflowScheduler,
    AirflowTriggerer,
)
from adplatform.stack.hdfs import DataNode, NameNode
from adplatform.stack.kafka import Kafka
from adplatform.stack.metastore import Metastore
from adplatform.stack.monitoring import Alertmanager, AlertReceiver, Prometheus, Pushgateway
from adplatform.stack.process import ProcessHandle, ensure_port_free
from adplatform.stack.service import Service, setting_env_name
from adplatform.stack.stream_monitor import StreamMonitor
from adplatform.stack.thrift_server import ThriftServer

# In start order; `requires` makes a service wait for others to be healthy first.
SERVICES: list[Service] = [
    NameNode(),
    DataNode(),
    Kafka(),
    Metastore(),
    ThriftServer(),
    StreamMonitor(),
    Pushgateway(),
    AlertReceiver(),
    Alertmanager(),
    Prometheus(),
    AirflowApiServer(),
    AirflowScheduler(),
    AirflowDagProcessor(),
    AirflowTriggerer(),
]
BY_NAME = {s.name: s for s in SERVICES}


def select(names: Iterable[str] | None) -> list[Service]:
    """The named services plus everything they require, in start order."""
    if not names:
        return list(SERVICES)
    wanted: set[str] = set()

    def add(name: str) -> None:
        if name not in BY_NAME:
            raise UserError(f"unknown service {name!r}; services: {', '.join(BY_NAME)}")
        if name not in wanted:
            wanted.add(name)
            for dep in BY_NAME[name].requires:
                add(dep)

    for name in names:
        add(name)
    return [s for s in SERVICES if s.name in wanted]


def handle(settings: Settings, service: Service) -> ProcessHandle:
    return ProcessHandle(service.name, settings.run_dir, settings.logs_dir / f"{service.name}.log")


@dataclass
class ServiceStatus:
    name: str
    pid: int | None
    port: int | None
    healthy: bool
    url: str


def status(settings: Settings, names: Iterable[str] | None = None) -> list[ServiceStatus]:
    rows = []
    for service in select(names):
        pid = handle(settings, service).pid()
        rows.append(
            ServiceStatus(
                service.name,
                pid,
                service.port(settings),
                pid is not None and service.healthy(settings),
                service.url(settings),
            )
        )
    return rows


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _start(settings: Settings, service: Service) -> None:
    proc = handle(settings, service)
    if proc.has_stale_pid_file():
        _log(f"  {service.name}: removing stale pid file {proc.pid_file} (process is gone)")
        proc.pid_file.unlink()
    for field in service.port_fields:
        ensure_port_free(
            settings.host, getattr(settings, field), service.name, setting_env_name(field)
        )
    service.prepare(settings)
    env = {**os.environ, **settings.as_env(), **service.env(settings)}
    proc.start(service.command(settings), env, cwd=service.home(settings))


def up(settings: Settings, names: Iterable[str] | None = None) -> list[ServiceStatus]:
    """Start what is not running yet and wait until every selected service is healthy."""
    services = select(names)
    for folder in (settings.state_dir, settings.logs_dir, settings.run_dir):
        folder.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.state_dir, 0o700)
    started_at = time.monotonic()
    pending = {s.name: s for s in services}
    healthy: set[str] = set()
    launched: dict[str, float] = {}
    fresh: set[str] = set()
    _log(f"starting {len(services)} services (logs in {settings.logs_dir})")
    while pending:
        for name, service in list(pending.items()):
            proc = handle(settings, service)
            if name not in launched:
                if not all(dep in healthy for dep in service.requires):
                    continue
                if proc.pid() is None:
                    _start(settings, service)
                    fresh.add(name)
                    _log(f"  {name}: started (pid {proc.pid()})")
                launched[name] = time.monotonic()
            if proc.pid() is None:
                raise UserError(
                    f"{name} exited during start-up; see {proc.log_file} "
                    f"(or `adplatform stack logs {name}`)"
                )
            if service.healthy(settings):
                healthy.add(name)
                del pending[name]
                if name in fresh:
                    service.after_start(settings)
                    _log(f"  {name}: healthy after {time.monotonic() - launched[name]:.1f}s")
                else:
                    _log(f"  {name}: already running")
            elif time.monotonic() - launched[name] > settings.start_timeout_s:
                raise UserError(
                    f"{name} did not become healthy within {settings.start_timeout_s}s; "
                    f"see {proc.log_file}"
                )
        if pending:
            time.sleep(0.5)
    _log(f"stack healthy in {time.monotonic() - started_at:.1f}s")
    return status(settings, names)


def down(settings: Settings, names: Iterable[str] | None = None) -> list[str]:
    """Stop the selected services in reverse start order; returns the ones stopped."""
    stopped = []
    for service in reversed(select(names)):
        if handle(settings, service).stop():
            stopped.append(service.name)
            _log(f"  {service.name}: stopped")
    return stopped


def format_status(rows: list[ServiceStatus]) -> str:
    header = ("SERVICE", "PID", "PORT", "HEALTHY", "URL")
    table = [header] + [
        (r.name, str(r.pid or "-"), str(r.port or "-"), "yes" if r.healthy else "no", r.url)
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table
    )


def tail(settings: Settings, name: str, lines: int) -> str:
    service = BY_NAME.get(name)
    if service is None:
        raise UserError(f"unknown service {name!r}; services: {', '.join(BY_NAME)}")
    path = handle(settings, service).log_file
    if not path.exists():
        raise UserError(f"no log yet for {name} ({path})")
    with path.open("rb") as f:
        return b"".join(f.readlines()[-lines:]).decode(errors="replace")


__all__ = ["REPO_ROOT", "SERVICES", "down", "format_status", "status", "tail", "up"]
