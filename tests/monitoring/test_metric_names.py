"""One place for metric names: every adtech_* name that a rule, a rule test, a dashboard or
the docs mention is defined in adplatform/metrics.py, and every defined metric is shown on a
dashboard and documented."""

from __future__ import annotations

import json
import re

import yaml

from adplatform.metrics import CATALOGUE, METRIC_NAMES

from .conftest import DASHBOARDS_DIR, DOCS, RULE_TESTS_DIR, RULES_DIR

NAME = re.compile(r"\badtech_[a-zA-Z0-9_]+")


def rule_exprs() -> list[str]:
    return [
        rule["expr"]
        for path in sorted(RULES_DIR.glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def dashboard_queries() -> list[str]:
    queries = []
    for path in sorted(DASHBOARDS_DIR.glob("*.json")):
        board = json.loads(path.read_text())
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                queries.append(variable["definition"])
        for panel in board["panels"]:
            queries.extend(t["expr"] for t in panel.get("targets", []))
    return queries


def rule_test_series() -> list[str]:
    return [
        series["series"]
        for path in sorted(RULE_TESTS_DIR.glob("*.yml"))
        for case in yaml.safe_load(path.read_text())["tests"]
        for series in case["input_series"]
    ]


def names_in(texts: list[str]) -> set[str]:
    return {name for text in texts for name in NAME.findall(text)}


def test_alert_rules_query_only_defined_metrics() -> None:
    assert names_in(rule_exprs()) - METRIC_NAMES == set()


def test_dashboards_query_only_defined_metrics() -> None:
    queries = dashboard_queries()
    assert queries
    assert names_in(queries) - METRIC_NAMES == set()


def test_rule_tests_feed_only_defined_metrics() -> None:
    assert names_in(rule_test_series()) - METRIC_NAMES == set()


def test_every_defined_metric_is_on_a_dashboard() -> None:
    assert METRIC_NAMES - names_in(dashboard_queries()) == set()


def test_every_defined_metric_is_documented_with_its_labels() -> None:
    docs = DOCS.read_text()
    assert names_in([docs]) - METRIC_NAMES == set(), "docs name metrics that do not exist"
    for spec in CATALOGUE:
        line = next((ln for ln in docs.splitlines() if f"`{spec.name}`" in ln), None)
        assert line is not None, f"{spec.name} is not in docs/monitoring.md"
        for label in spec.labels:
            assert label in line, f"docs/monitoring.md: {spec.name} lacks label {label}"
