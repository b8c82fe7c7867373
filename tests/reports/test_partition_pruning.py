"""A one-day report on 30 days of data reads only the partitions it needs.

Two views of the same fact, both from the Thrift Server: the plan (EXPLAIN through
HiveServer2) shows the date filter pushed into the scan as a partition filter and the file
index holding the one partition; the SQL metrics of the executed statement (Spark UI) count
the partitions and files each scan read.
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from adplatform.reports.queries import BY_NAME, ReportParameters
from adplatform.reports.runner import connect, run_report
from adplatform.reports.scan_metrics import last_execution_scans
from tests.reports.adtech_rows import JANUARY_DAYS, JANUARY_START

pytestmark = pytest.mark.stack

DAY = date(2026, 1, 15)
# The most partitions one scan of each table may read for a one-day report. Clicks and
# conversions of the day point to impressions of the same day in the January data. The
# funnel reads ad_funnel for the day and the next (an impression after midnight can win a
# bid of the day); pacing reads campaign_daily from the flight start (spend to date).
ALLOWED = {
    "campaign_performance": {"campaign_daily": 1},
    "daily_trend": {"campaign_daily": 1},
    "funnel": {"ad_funnel": 2, "bid_requests": 1, "clicks": 1, "conversions": 1},
    "audience_breakdown": {"ad_funnel": 1, "clicks": 1, "conversions": 1},
    "top_creatives": {"ad_funnel": 1, "clicks": 1, "conversions": 1},
    "pacing": {"campaign_daily": (DAY - JANUARY_START).days + 1},
    "attribution_comparison": {"conversions": 1},
}


def test_the_data_spans_thirty_days(report_settings):
    conn = connect(report_settings, {})
    try:
        cursor = conn.cursor()
        cursor.execute("SHOW PARTITIONS adtech.campaign_daily")
        january = [p for (p,) in cursor.fetchall() if p.startswith("dt=2026-01")]
    finally:
        conn.close()
    assert len(january) == JANUARY_DAYS


def test_plan_of_a_one_day_campaign_performance_names_one_partition(report_settings):
    report = BY_NAME["campaign_performance"]
    hivevars = ReportParameters(DAY, DAY).hivevars(report)
    conn = connect(report_settings, hivevars)
    try:
        cursor = conn.cursor()
        cursor.execute(f"EXPLAIN {report.sql()}")
        plan = "\n".join(line for (line,) in cursor.fetchall())
    finally:
        conn.close()
    scans = [
        line
        for line in plan.splitlines()
        if "FileScan parquet spark_catalog.adtech.campaign_daily" in line
    ]
    assert len(scans) == 1, plan
    scan = scans[0]
    assert "PartitionFilters: [isnotnull(dt#" in scan
    assert re.search(r"\(dt#\d+ >= 2026-01-15\), \(dt#\d+ <= 2026-01-15\)", scan), scan
    # The plan abbreviates the path: the one folder listed is a dt folder of campaign_daily.
    assert re.search(r"InMemoryFileIndex\(1 paths\)\[\S+/campaign_daily/dt=", scan), scan


@pytest.mark.parametrize("report_name", list(ALLOWED))
def test_a_one_day_report_reads_only_the_partitions_it_needs(report_settings, report_name):
    report = BY_NAME[report_name]
    run_report(report_settings, report, ReportParameters(DAY, DAY))
    scans = last_execution_scans(report_settings, report.sql().splitlines()[0])
    allowed = {f"adtech.{table}": most for table, most in ALLOWED[report_name].items()}
    partitioned = [s for s in scans if s.table in allowed]
    assert partitioned, scans
    for scan in partitioned:
        assert 1 <= scan.partitions <= allowed[scan.table], scans
        assert scan.files <= scan.partitions * 8, scans  # at most one file per bucket
    # Every other scan is of an unpartitioned dimension table.
    assert {s.table for s in scans} - set(allowed) <= {"adtech.dim_campaign", "adtech.dim_user"}
