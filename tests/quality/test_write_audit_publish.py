"""Write-audit-publish end to end: clean rows are published and their staging removed; a
critical defect stops before publishing, keeps the staged rows, names the expectation and
column in the error, the log and the Data Docs, and pushes metrics with the run id to a
real Pushgateway (prometheus-pushgateway on a free port)."""

from __future__ import annotations

import json
import logging
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adplatform.metrics import BatchRun
from adplatform.quality import DataQualityError, write_audit_publish
from adplatform.quality.locations import staging_path
from tests.monitoring.conftest import start_pushgateway

from . import tables
from .conftest import RUN_ID, docs_failures, offline_run


def test_clean_rows_are_published_and_the_staging_is_removed(spark, quality_settings):
    published = []

    def publish(staged):
        published.extend(r.event_id for r in staged.collect())
        return staged.count()

    written = write_audit_publish(
        tables.clean(spark, "clicks"),
        "clicks",
        publish,
        run=offline_run(),
        ds=tables.DS,
        references=tables.references(spark, "clicks"),
        settings=quality_settings,
    )

    assert (written, sorted(published)) == (2, ["clk-1", "clk-2"])
    assert not Path(staging_path(quality_settings, "clicks", RUN_ID)[len("file://") :]).exists()


@pytest.fixture(scope="module")
def stopped(spark, quality_settings, tmp_path_factory):
    """A run of clicks with an orphan click (critical) and a click file name that does not
    follow the naming rule (warning), in a BatchRun block that pushes to a real gateway."""
    gateway_service, gateway = start_pushgateway(tmp_path_factory.mktemp("pushgateway"))
    rows = [
        *tables.CLICKS,
        {**tables.CLICKS[0], "event_id": "clk-orphan", "impression_id": "imp-404"},
        {**tables.CLICKS[1], "event_id": "clk-renamed", "source_file": "clicks.csv"},
    ]
    published = []
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("adplatform.quality")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        with (
            pytest.raises(DataQualityError) as error,
            BatchRun("clean_tracking", "clicks", RUN_ID, gateway=gateway) as run,
        ):
            write_audit_publish(
                tables.clean(spark, "clicks", rows),
                "clicks",
                published.append,
                run=run,
                ds=tables.DS,
                references=tables.references(spark, "clicks"),
                settings=quality_settings,
            )
        with urllib.request.urlopen(f"{gateway}/metrics", timeout=5) as resp:
            exposed = resp.read().decode()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        gateway_service.stop()
    log = "\n".join(r.getMessage() for r in records)
    return error.value, published, exposed, log


def test_a_critical_failure_stops_before_publishing(stopped, quality_settings):
    error, published, _, _ = stopped
    assert published == []
    staged = Path(staging_path(quality_settings, "clicks", RUN_ID)[len("file://") :])
    assert list(staged.glob("*.parquet")), "the rejected rows stay staged for inspection"
    assert [o.label for o in error.report.critical_failures] == ["impression_exists(impression_id)"]
    assert [o.label for o in error.report.warning_failures] == [
        "expect_column_values_to_match_regex(source_file)"
    ]


def test_the_error_and_the_log_name_suite_expectation_column_and_files(stopped):
    error, _, _, log = stopped
    message = str(error)
    assert message.startswith("data quality: suite clicks failed 1 critical expectation in run")
    assert "impression_exists(impression_id) [critical] on column impression_id" in message
    assert "impression_id=imp-404" in message
    assert str(error.report.result_file) in message
    assert str(error.report.data_docs_page) in message
    # The task log has the failure, where the results are, and the warning that let through.
    assert message in log
    assert "expect_column_values_to_match_regex(source_file) [warning]" in log
    assert "clicks staged for audit at file://" in log
    assert "not published; the staged rows stay at" in log


def test_the_data_docs_name_the_failing_expectations(stopped):
    error, _, _, _ = stopped
    failures = docs_failures(error.report.data_docs_page)
    assert set(failures) == {"Table-Level Expectations", "source_file"}
    (sql_check,) = failures["Table-Level Expectations"]
    assert "Every click's impression_id is a curated impression" in sql_check
    (regex_check,) = failures["source_file"]
    assert "values must match this regular expression" in regex_check
    assert "clicks.csv" in regex_check
    index = error.report.data_docs.read_text()
    assert "clicks" in index and "Failed" in index


def test_the_results_are_kept_as_json(stopped):
    error, _, _, _ = stopped
    result = json.loads(error.report.result_file.read_text())
    assert result["success"] is False
    summary = json.loads(error.report.summary_file.read_text())
    assert summary["critical_failures"] == ["impression_exists(impression_id)"]
    assert summary["warning_failures"] == ["expect_column_values_to_match_regex(source_file)"]
    assert summary["parameters"]["window_start"] == "2025-03-01T00:00:00"


def _samples(exposed: str) -> dict[tuple[str, str], dict]:
    return {
        (s.name, s.labels.get("expectation", "")): {**s.labels, "value": s.value}
        for family in text_string_to_metric_families(exposed)
        for s in family.samples
        if s.name.startswith("adtech_dq_")
    }


def test_the_metrics_carry_the_run_id_and_match_the_alert(stopped):
    _, _, exposed, _ = stopped
    samples = _samples(exposed)
    failed = samples[("adtech_dq_expectation_success", "impression_exists(impression_id)")]
    assert failed == {
        "job": "clean_tracking",
        "source": "clicks",
        "suite": "clicks",
        "expectation": "impression_exists(impression_id)",
        "severity": "critical",
        "run_id": RUN_ID,
        "instance": "",
        "value": 0.0,
    }
    count = samples[("adtech_dq_unexpected_count", "impression_exists(impression_id)")]
    assert count["value"] == 1.0
    warning = samples[
        ("adtech_dq_expectation_success", "expect_column_values_to_match_regex(source_file)")
    ]
    assert (warning["severity"], warning["value"]) == ("warning", 0.0)
    passed = samples[
        ("adtech_dq_expectation_success", "expect_column_values_to_be_unique(event_id)")
    ]
    assert (passed["severity"], passed["value"], passed["run_id"]) == ("critical", 1.0, RUN_ID)
    # The alert DataQualityCriticalFailure fires on exactly the failed critical expectation.
    firing = [
        labels["expectation"]
        for (name, _), labels in samples.items()
        if name == "adtech_dq_expectation_success"
        and labels["severity"] == "critical"
        and labels["value"] == 0
    ]
    assert firing == ["impression_exists(impression_id)"]
    assert ("adtech_dq_validation_timestamp_seconds", "") in samples
