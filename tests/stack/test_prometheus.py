"""Prometheus scrapes the Pushgateway: a pushed metric is queryable through the HTTP API."""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

pytestmark = pytest.mark.stack


def test_pushed_metric_is_queryable_in_prometheus(monitoring_settings):
    settings = monitoring_settings
    registry = CollectorRegistry()
    marker = uuid.uuid4().hex[:8]
    gauge = Gauge(
        "adtech_stack_test_value", "Value pushed by the stack test", ["marker"], registry=registry
    )
    gauge.labels(marker=marker).set(42.5)
    push_to_gateway(settings.pushgateway_url, job="stack_test", registry=registry)

    query = f'adtech_stack_test_value{{marker="{marker}",job="stack_test"}}'
    deadline = time.monotonic() + 60
    result = []
    while time.monotonic() < deadline and not result:
        response = requests.get(
            f"{settings.prometheus_url}/api/v1/query", params={"query": query}, timeout=5
        )
        result = response.json()["data"]["result"]
        if not result:
            time.sleep(1)
    assert result, f"{query} not in Prometheus within 60 s"
    assert float(result[0]["value"][1]) == 42.5


def test_prometheus_loaded_the_alert_rules_from_monitoring(monitoring_settings):
    groups = requests.get(f"{monitoring_settings.prometheus_url}/api/v1/rules", timeout=5).json()
    names = {rule["name"] for group in groups["data"]["groups"] for rule in group["rules"]}
    assert names, "no alert rules loaded from monitoring/prometheus/rules"
