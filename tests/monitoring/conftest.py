"""Fixtures of the monitoring tests: the Prometheus tools and real services on free ports.

The tools come from Debian's prometheus, prometheus-pushgateway and prometheus-alertmanager
packages (installed by `make setup`). A missing tool fails the test that needs it with a line
that says what to install: these tests are the only proof that the rules and configs load,
so they never skip.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
MONITORING = REPO_ROOT / "monitoring"
PROMETHEUS_DIR = MONITORING / "prometheus"
RULES_DIR = PROMETHEUS_DIR / "rules"
RULE_TESTS_DIR = PROMETHEUS_DIR / "tests"
ALERTMANAGER_CONFIG = MONITORING / "alertmanager" / "alertmanager.yml"
DASHBOARDS_DIR = MONITORING / "grafana" / "dashboards"
PROVISIONING_DIR = MONITORING / "grafana" / "provisioning"
DOCS = REPO_ROOT / "docs" / "monitoring.md"

DEBIAN_PACKAGE = {
    "promtool": "prometheus",
    "prometheus": "prometheus",
    "prometheus-pushgateway": "prometheus-pushgateway",
    "amtool": "prometheus-alertmanager",
    "prometheus-alertmanager": "prometheus-alertmanager",
}


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not installed: run `make setup` or "
            f"`apt-get install {DEBIAN_PACKAGE[name]}`",
            pytrace=False,
        )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout_s: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    """Wait until ``url`` answers 200, failing early if ``proc`` died."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{proc.args[0]} exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.1)
    pytest.fail(f"{url} did not answer within {timeout_s}s ({last})")


class Service:
    """A process started by a test, stopped (by its own pid) when the test ends."""

    def __init__(self, args: list[str], workdir: Path, name: str) -> None:
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(args, cwd=workdir, stdout=self._log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def start_pushgateway(workdir: Path) -> tuple[Service, str]:
    binary = require_tool("prometheus-pushgateway")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # Debian's build persists to one shared file under /var/lib by default: keep ours apart.
    args = [
        binary,
        f"--web.listen-address=127.0.0.1:{port}",
        f"--persistence.file={workdir / 'pushgateway.data'}",
    ]
    service = Service(args, workdir, "pushgateway")
    wait_http(f"{url}/-/ready", proc=service.proc)
    return service, url


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
    """URL of a real, empty Pushgateway on a free port."""
    service, url = start_pushgateway(tmp_path)
    try:
        yield url
    finally:
        service.stop()
