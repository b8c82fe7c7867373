"""The Prometheus side of monitoring/: the compose config and every rule file load in
promtool, every alert has promtool unit tests that show it firing and staying silent, and
every alert carries what an operator needs (severity, summary, runbook)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import DOCS, PROMETHEUS_DIR, RULE_TESTS_DIR, RULES_DIR, require_tool

RULE_FILES = sorted(RULES_DIR.glob("*.yml"))
RULE_TEST_FILES = sorted(RULE_TESTS_DIR.glob("*.yml"))
SEVERITIES = {"critical", "warning"}


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)


def alert_rules() -> list[dict]:
    return [
        rule
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def test_there_are_rule_files_and_rule_tests() -> None:
    assert RULE_FILES, f"no rule files in {RULES_DIR}"
    assert RULE_TEST_FILES, f"no promtool tests in {RULE_TESTS_DIR}"


def test_promtool_accepts_the_compose_prometheus_config() -> None:
    promtool = require_tool("promtool")
    result = run([promtool, "check", "config", "prometheus.yml"], cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    # The config must really load the rule files, not an empty glob.
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in result.stdout


def test_promtool_accepts_every_rule_file() -> None:
    promtool = require_tool("promtool")
    result = run([promtool, "check", "rules", *map(str, RULE_FILES)], cwd=RULES_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("test_file", RULE_TEST_FILES, ids=lambda p: p.name)
def test_promtool_rule_unit_tests_pass(test_file: Path) -> None:
    promtool = require_tool("promtool")
    result = run([promtool, "test", "rules", test_file.name], cwd=RULE_TESTS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_rule_file_has_a_unit_test_file() -> None:
    tested = {
        (RULE_TESTS_DIR / rule_file).resolve()
        for path in RULE_TEST_FILES
        for rule_file in yaml.safe_load(path.read_text())["rule_files"]
    }
    assert tested == {p.resolve() for p in RULE_FILES}


def test_every_alert_is_shown_firing_and_silent() -> None:
    """For each alert name and severity, one case where it fires and one where it is silent."""
    fired: set[tuple[str, str]] = set()
    silent: set[str] = set()
    for path in RULE_TEST_FILES:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                expected = check.get("exp_alerts") or []
                if not expected:
                    silent.add(check["alertname"])
                for alert in expected:
                    fired.add((check["alertname"], alert["exp_labels"]["severity"]))
    wanted = {(rule["alert"], rule["labels"]["severity"]) for rule in alert_rules()}
    assert wanted - fired == set(), "alerts never shown firing"
    assert {name for name, _ in wanted} - silent == set(), "alerts never shown silent"


def test_every_alert_has_severity_summary_and_a_runbook_that_exists() -> None:
    anchors = set(re.findall(r'<a id="([a-z0-9-]+)"></a>', DOCS.read_text()))
    for rule in alert_rules():
        name = rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, name
        annotations = rule["annotations"]
        assert annotations["summary"].strip(), name
        assert "\n" not in annotations["runbook"], name
        url = annotations["runbook_url"]
        assert url == f"docs/monitoring.md#{name.lower()}", name
        assert url in annotations["runbook"], name
        assert name.lower() in anchors, f"docs/monitoring.md has no anchor for {name}"


def test_both_severities_of_an_alert_share_its_annotations_shape() -> None:
    """Inhibition matches on alertname: the levels of one alert must be the same alert."""
    by_name: dict[str, list[dict]] = {}
    for rule in alert_rules():
        by_name.setdefault(rule["alert"], []).append(rule)
    for name, rules in by_name.items():
        assert len({r["labels"]["severity"] for r in rules}) == len(rules), name
        assert len({r["annotations"]["runbook"] for r in rules}) == 1, name


def test_rules_name_no_host_or_port() -> None:
    """The embedded stack loads these files verbatim on its own ports."""
    for path in RULE_FILES:
        text = path.read_text()
        assert not re.search(r"localhost|127\.0\.0\.1|:\d{2,5}\b", text), path.name


def test_compose_prometheus_scrapes_what_the_rules_expect() -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) >= {"prometheus", "pushgateway", "stream_monitor", "alertmanager"}
    assert jobs["pushgateway"].get("honor_labels") is True
    rule_jobs = set()
    for rule in alert_rules():
        rule_jobs |= set(re.findall(r'up\{job="([a-z_]+)"\}', rule["expr"]))
    assert rule_jobs <= set(jobs)
    assert config["alerting"]["alertmanagers"]
