"""`adplatform stack` as users meet it: status table, idempotent up, clear errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import psutil
import pytest

from adplatform.errors import UserError
from adplatform.stack import manager
from tests.stack_fixtures import free_port_settings

pytestmark = pytest.mark.stack


def _cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **settings.as_env()}
    return subprocess.run(
        [sys.executable, "-m", "adplatform.cli", "stack", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_up_twice_is_harmless_and_status_prints_a_table(tmp_path):
    settings = free_port_settings(tmp_path)
    try:
        first = _cli(settings, "up", "pushgateway")
        assert first.returncode == 0, first.stderr
        pid = manager.status(settings, ["pushgateway"])[0].pid
        second = _cli(settings, "up", "pushgateway")
        assert second.returncode == 0, second.stderr
        assert manager.status(settings, ["pushgateway"])[0].pid == pid

        status = _cli(settings, "status", "pushgateway")
        assert status.returncode == 0
        header, row = status.stdout.strip().splitlines()
        assert header.split() == ["SERVICE", "PID", "PORT", "HEALTHY", "URL"]
        assert row.split() == [
            "pushgateway",
            str(pid),
            str(settings.pushgateway_port),
            "yes",
            settings.pushgateway_url,
        ]
    finally:
        down = _cli(settings, "down")
    assert down.returncode == 0
    assert "stopped 1 services" in down.stdout
    assert manager.status(settings, ["pushgateway"])[0].pid is None


def test_busy_port_gets_one_clear_line(tmp_path):
    settings = free_port_settings(tmp_path)
    with socket.socket() as blocker:
        blocker.bind((settings.host, settings.pushgateway_port))
        blocker.listen()
        result = _cli(settings, "up", "pushgateway")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"adplatform: port {settings.pushgateway_port} needed by pushgateway is in use by "
        f"pid {os.getpid()} ({psutil.Process().name()}); stop it or choose another port with "
        f"ADPLATFORM_PUSHGATEWAY_PORT=<port>"
    )
    assert "Traceback" not in result.stderr


def test_stale_pid_file_is_reported_and_replaced(tmp_path):
    settings = free_port_settings(tmp_path)
    settings.run_dir.mkdir(parents=True)
    # A pid that cannot be ours: pid 1 with a start time that is not its own.
    (settings.run_dir / "pushgateway.pid").write_text("1 12345.0\n")
    try:
        result = _cli(settings, "up", "pushgateway")
        assert result.returncode == 0, result.stderr
        assert "removing stale pid file" in result.stderr
        assert manager.status(settings, ["pushgateway"])[0].healthy
    finally:
        manager.down(settings)


def test_unknown_service_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="unknown service 'kafak'"):
        manager.select(["kafak"])
