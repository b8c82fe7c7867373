"""Prometheus, Pushgateway, Alertmanager and the alert log receiver of the embedded stack.

The alert rules and the Alertmanager routing are the files in monitoring/, loaded as
they are; only what depends on local ports (scrape targets, the webhook URL) is written
here.
"""

from __future__ import annotations

import shutil
import sys

import requests
import yaml

from adplatform.errors import UserError
from adplatform.settings import REPO_ROOT, Settings
from adplatform.stack.service import Service, write_if_changed

MONITORING_DIR = REPO_ROOT / "monitoring"
WEBHOOK_PLACEHOLDER = "{{WEBHOOK_URL}}"


def _binary(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise UserError(f"{name} not found: run `make setup` (it installs Debian's {name})")
    return path


def _ready(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def prometheus_config(settings: Settings) -> dict:
    host = settings.host

    def job(name: str, port: int, **extra) -> dict:
        return {"job_name": name, "static_configs": [{"targets": [f"{host}:{port}"]}], **extra}

    return {
        "global": {
            "scrape_interval": f"{settings.prometheus_scrape_interval_s}s",
            "evaluation_interval": f"{settings.prometheus_scrape_interval_s}s",
        },
        "rule_files": [str(MONITORING_DIR / "prometheus" / "rules" / "*.yml")],
        "alerting": {
            "alertmanagers": [
                {"static_configs": [{"targets": [f"{host}:{settings.alertmanager_port}"]}]}
            ]
        },
        "scrape_configs": [
            job("prometheus", settings.prometheus_port),
            # Batch jobs push with their own job/source/run_id labels: keep them.
            job("pushgateway", settings.pushgateway_port, honor_labels=True),
            job("stream_monitor", settings.stream_monitor_port),
            job("alertmanager", settings.alertmanager_port),
        ],
    }


class Pushgateway(Service):
    name = "pushgateway"
    port_fields = ("pushgateway_port",)

    def url(self, settings: Settings) -> str:
        return settings.pushgateway_url

    def command(self, settings: Settings) -> list[str]:
        return [
            _binary("prometheus-pushgateway"),
            f"--web.listen-address={settings.bind_host}:{settings.pushgateway_port}",
            # Pushed batch metrics survive a restart of the stack.
            f"--persistence.file={self.home(settings) / 'metrics.store'}",
            "--persistence.interval=30s",
        ]

    def healthy(self, settings: Settings) -> bool:
        return _ready(f"{settings.pushgateway_url}/-/ready")


class AlertReceiver(Service):
    """Webhook receiver that appends every alert notification to logs/alerts.jsonl."""

    name = "alert-receiver"
    port_fields = ("alert_receiver_port",)

    def url(self, settings: Settings) -> str:
        return settings.alert_webhook_url

    def command(self, settings: Settings) -> list[str]:
        return [
            sys.executable,
            "-m",
            "adplatform.stack.alert_receiver",
            "--host",
            settings.bind_host,
            "--port",
            str(settings.alert_receiver_port),
            "--out",
            str(settings.logs_dir / "alerts.jsonl"),
        ]

    def healthy(self, settings: Settings) -> bool:
        return _ready(f"http://{settings.host}:{settings.alert_receiver_port}/health")


class Alertmanager(Service):
    name = "alertmanager"
    port_fields = ("alertmanager_port",)
    requires = ("alert-receiver",)

    def url(self, settings: Settings) -> str:
        return settings.alertmanager_url

    def prepare(self, settings: Settings) -> None:
        template = (MONITORING_DIR / "alertmanager" / "alertmanager.yml").read_text()
        config = template.replace(WEBHOOK_PLACEHOLDER, settings.alert_webhook_url)
        write_if_changed(self.home(settings) / "alertmanager.yml", config)

    def command(self, settings: Settings) -> list[str]:
        home = self.home(settings)
        return [
            _binary("prometheus-alertmanager"),
            f"--config.file={home / 'alertmanager.yml'}",
            f"--storage.path={home / 'data'}",
            f"--web.listen-address={settings.bind_host}:{settings.alertmanager_port}",
            # A single instance: no gossip port (9094, TCP and UDP, every interface by
            # default) to collide with other stacks or to reach from the network.
            "--cluster.listen-address=",
        ]

    def healthy(self, settings: Settings) -> bool:
        return _ready(f"{settings.alertmanager_url}/-/ready")


class Prometheus(Service):
    name = "prometheus"
    port_fields = ("prometheus_port",)

    def url(self, settings: Settings) -> str:
        return settings.prometheus_url

    def prepare(self, settings: Settings) -> None:
        text = "# Written by `adplatform stack up` from the settings; edit monitoring/ instead.\n"
        text += yaml.safe_dump(prometheus_config(settings), sort_keys=False)
        write_if_changed(self.home(settings) / "prometheus.yml", text)

    def command(self, settings: Settings) -> list[str]:
        home = self.home(settings)
        return [
            _binary("prometheus"),
            f"--config.file={home / 'prometheus.yml'}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address={settings.bind_host}:{settings.prometheus_port}",
            "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=15d",
        ]

    def healthy(self, settings: Settings) -> bool:
        return _ready(f"{settings.prometheus_url}/-/ready")
