"""monitoring/alertmanager/alertmanager.yml: loads in amtool once its webhook placeholder is
rendered, routes by severity, and inhibits warnings under their critical level."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import ALERTMANAGER_CONFIG, require_tool

PLACEHOLDER = "{{WEBHOOK_URL}}"


def render(webhook_url: str) -> str:
    return ALERTMANAGER_CONFIG.read_text().replace(PLACEHOLDER, webhook_url)


@pytest.fixture
def rendered(tmp_path: Path) -> Path:
    path = tmp_path / "alertmanager.yml"
    path.write_text(render("http://127.0.0.1:5001/alerts"))
    return path


def test_the_webhook_url_is_the_only_placeholder() -> None:
    text = ALERTMANAGER_CONFIG.read_text()
    config = yaml.safe_load(text)
    urls = [hook["url"] for r in config["receivers"] for hook in r.get("webhook_configs", [])]
    assert urls and set(urls) == {PLACEHOLDER}
    assert PLACEHOLDER not in render("http://x:1/")
    assert "{{" not in render("http://x:1/").replace("{{ ", "")


def test_amtool_accepts_the_rendered_config(rendered: Path) -> None:
    amtool = require_tool("amtool")
    result = subprocess.run(
        [amtool, "check-config", str(rendered)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=BatchJobFailed"], "oncall-critical"),
        (["severity=warning", "alertname=BatchJobFailed"], "oncall-warning"),
        (["alertname=SomethingWithoutSeverity"], "oncall-warning"),
    ],
)
def test_alerts_route_by_severity(rendered: Path, labels: list[str], receiver: str) -> None:
    amtool = require_tool("amtool")
    result = subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={rendered}", *labels],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


def test_critical_inhibits_the_warning_of_the_same_alert() -> None:
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    rule = config["inhibit_rules"][0]
    assert rule["source_matchers"] == ['severity="critical"']
    assert rule["target_matchers"] == ['severity="warning"']
    assert {"alertname", "job"} <= set(rule["equal"])
    assert set(config["route"]["group_by"]) >= {"alertname", "job"}
