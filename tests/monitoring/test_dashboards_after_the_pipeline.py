"""Every Grafana panel shows data after the pipeline ran as ``adplatform demo`` runs it.

``daily_pipeline`` runs the two simulated days on the test stack with the stream monitor
counting what the simulator publishes, the jobs pushing to the Pushgateway and Prometheus
scraping both. Each dashboard query is asked over that run's time range, as Grafana asks
it: a query without data points at a metric no part of the platform exports, or at labels
it does not use.
"""

from __future__ import annotations

import pytest
import requests

from tests.dags.pipeline_fixtures import DailyPipeline

from .dashboards import as_promql, dashboard_queries

pytestmark = pytest.mark.stack

# Panels that list failures: a run in which nothing failed leaves them empty, and that is
# their message. tests/monitoring/test_live_pipeline.py fills them from failing runs.
FAILURES_ONLY = {
    ("data_quality.json", "Failing expectations"),
    ("batch_pipeline.json", "Last failure of each job"),
}
STEP_S = 10


def query_range(prometheus: str, expr: str, start: float, end: float) -> dict:
    answer = requests.get(
        f"{prometheus}/api/v1/query_range",
        params={"query": expr, "start": start, "end": end, "step": STEP_S},
        timeout=30,
    ).json()
    assert answer["status"] == "success", f"{expr}: {answer.get('error')}"
    return answer["data"]


def test_every_dashboard_panel_has_data_over_the_pipeline_run(
    daily_pipeline: DailyPipeline,
) -> None:
    settings = daily_pipeline.settings
    start, end = daily_pipeline.started_at, daily_pipeline.finished_at + STEP_S
    queries = dashboard_queries()
    empty = [
        f"{board} / {title}: {expr}"
        for board, title, expr in queries
        if (board, title) not in FAILURES_ONLY
        and not query_range(settings.prometheus_url, as_promql(expr), start, end)["result"]
    ]
    assert empty == [], "dashboard queries without data over the pipeline run"
    assert {board for board, _, _ in queries} == {
        "batch_pipeline.json",
        "data_quality.json",
        "ingestion.json",
    }
