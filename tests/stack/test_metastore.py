"""The shared metastore: a spark-submit application and the Thrift Server see one catalog."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pyhive import hive

from adplatform.spark_config import spark_submit_command

pytestmark = pytest.mark.stack

APPS = Path(__file__).parent / "apps"


def _query(settings, sql: str) -> list[tuple]:
    conn = hive.connect(host=settings.host, port=settings.thrift_port, username="test")
    try:
        cursor = conn.cursor()
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        conn.close()


def test_table_written_by_an_application_is_visible_through_hiveserver2(thrift_settings):
    table = "shared_catalog.bucketed_events"
    result = subprocess.run(
        spark_submit_command(thrift_settings, str(APPS / "bucketed_table.py"), table),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]

    rows = _query(
        thrift_settings, f"SELECT user_id, clicks, dt, campaign_id FROM {table} ORDER BY user_id"
    )
    assert rows == [
        ("u1", 1, "2026-01-01", "c1"),
        ("u2", 2, "2026-01-01", "c2"),
        ("u3", 3, "2026-01-02", "c1"),
    ]
    described = {
        r[0].strip(): (r[1] or "").strip()
        for r in _query(thrift_settings, f"DESCRIBE FORMATTED {table}")
        if r[0]
    }
    assert described["Num Buckets"] == "4"
    assert described["Bucket Columns"] == "[`user_id`]"
    partitions = _query(thrift_settings, f"SHOW PARTITIONS {table}")
    assert sorted(p[0] for p in partitions) == [
        "dt=2026-01-01/campaign_id=c1",
        "dt=2026-01-01/campaign_id=c2",
        "dt=2026-01-02/campaign_id=c1",
    ]
