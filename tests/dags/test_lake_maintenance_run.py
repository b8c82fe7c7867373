"""lake_maintenance through the test stack's Airflow, on HDFS and the SQL endpoint.

Seeded: a landing day past retention, an old closed hour of small files, a recent hour,
quarantined records and an unreadable file. The run, triggered through the REST API and
executed by the scheduler with the ``spark`` pool, must delete exactly the old day, compact
exactly the old hour (same rows), leave the recent one alone and summarise the quarantine.

Dates are in 2024, which no other test of the session writes, so the counts are exact.
Retention deletes every landing day past the cutoff, other tests' older days too, so the
expected deletions are listed from HDFS before the run.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adplatform import lake
from adplatform.hdfs import WebHdfs, join
from adplatform.maintenance import LANDING_SOURCES, Policy, arrival_dates, is_hidden
from adplatform.orchestration.pools import SPARK_POOL, SPARK_POOL_SLOTS
from tests.dags.pipeline_fixtures import hive_cursor

pytestmark = pytest.mark.stack

DAG_ID = "lake_maintenance"
AS_OF = date(2024, 3, 15)
OLD_DAY = AS_OF - timedelta(days=40)  # past the 30 days of retention
COMPACT_DAY = AS_OF - timedelta(days=5)  # closed and old enough to compact
RECENT_DAY = AS_OF - timedelta(days=1)  # the next daily run may still read it
TOPIC = "ad_impressions"


def parquet_file(day: date, hour: int, first_offset: int, n: int) -> tuple[bytes, list[tuple]]:
    at = datetime(day.year, day.month, day.day, hour, 1, tzinfo=UTC)
    rows = [
        (b"k", f"v{first_offset + i}".encode(), TOPIC, 0, first_offset + i, at) for i in range(n)
    ]
    table = pa.table(
        {
            "key": pa.array([r[0] for r in rows], pa.binary()),
            "value": pa.array([r[1] for r in rows], pa.binary()),
            "topic": pa.array([r[2] for r in rows], pa.string()),
            "partition": pa.array([r[3] for r in rows], pa.int32()),
            "offset": pa.array([r[4] for r in rows], pa.int64()),
            "kafka_ts": pa.array([r[5] for r in rows], pa.timestamp("us", tz="UTC")),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue(), rows


def land(fs, settings, day: date, hour: int, files: int) -> tuple[str, list[tuple]]:
    path = lake.landing_path(settings, TOPIC, day, hour)
    fs.delete(path, recursive=True)
    rows = []
    for i in range(files):
        payload, file_rows = parquet_file(day, hour, i * 10, 10)
        fs.create(join(path, f"part-{i:05d}-seed.parquet"), payload, overwrite=True)
        rows += file_rows
    fs.create(lake.done_marker_path(settings, TOPIC, day, hour), b"{}", overwrite=True)
    return path, rows


def data_files(fs, uri: str) -> list[str]:
    return [e.name for e in fs.list(uri) if not is_hidden(e.name)]


def read_rows(fs, uri: str) -> list[tuple]:
    rows = []
    for name in data_files(fs, uri):
        table = pq.read_table(pa.BufferReader(fs.read(join(uri, name))))
        rows += [tuple(r.values()) for r in table.to_pylist()]
    return sorted(rows)


def expired_landing_days(fs, settings) -> list[tuple[str, str]]:
    cutoff = AS_OF - timedelta(days=Policy().retention_days)
    return [
        (source, day.isoformat())
        for source in LANDING_SOURCES
        for day, _ in arrival_dates(fs, lake.landing_path(settings, source))
        if day < cutoff
    ]


def quarantine(settings, rows: list[tuple[str, str, date]]) -> None:
    with hive_cursor(settings) as cursor:
        for day in {d for _, _, d in rows}:
            cursor.execute(
                f"ALTER TABLE adtech.quarantine DROP IF EXISTS PARTITION (dt = DATE '{day}')"
            )
        selects = " UNION ALL ".join(
            f"SELECT '{reason}', 'seeded', CAST('x' AS BINARY), CAST(NULL AS BINARY), 'seed', "
            f"CAST(NULL AS TIMESTAMP), CAST(NULL AS TIMESTAMP), current_timestamp(), 'seed', "
            f"'seed', DATE '{day}', '{source}'"
            for source, reason, day in rows
        )
        cursor.execute(f"INSERT INTO adtech.quarantine {selects}")


def test_the_stack_creates_the_spark_pool(airflow_api):
    """Airflow never runs a task whose pool is missing: the stack's start-up creates it."""
    pool = airflow_api.call("GET", f"/pools/{SPARK_POOL}")
    assert pool["slots"] == SPARK_POOL_SLOTS


def test_lake_maintenance_deletes_compacts_and_summarises(pipeline_stack, airflow_api):
    settings = pipeline_stack
    fs = WebHdfs.from_settings(settings)
    land(fs, settings, OLD_DAY, 0, files=1)
    compact_path, compact_rows = land(fs, settings, COMPACT_DAY, 13, files=3)
    recent_path, _ = land(fs, settings, RECENT_DAY, 20, files=2)
    unreadable_day = AS_OF - timedelta(days=2)
    unreadable = join(lake.quarantine_path(settings, "tracking", unreadable_day), "tracking_x.csv")
    fs.create(unreadable, b"record_type,event_id\nclick,", overwrite=True)
    quarantine(
        settings,
        [
            ("impressions", "malformed_json", AS_OF),
            ("impressions", "malformed_json", AS_OF - timedelta(days=3)),
            ("tracking", "bad_column_count", AS_OF - timedelta(days=6)),
            ("tracking", "bad_column_count", AS_OF - timedelta(days=7)),  # outside 7 days
        ],
    )

    expired = expired_landing_days(fs, settings)
    assert (TOPIC, OLD_DAY.isoformat()) in expired

    airflow_api.wait_for_dag(DAG_ID)
    airflow_api.unpause(DAG_ID)
    run_id = airflow_api.trigger(DAG_ID, conf={"as_of": AS_OF.isoformat()})
    state = airflow_api.wait_for_run(DAG_ID, run_id, timeout_s=900)
    assert state == "success", airflow_api.task_states(DAG_ID, run_id)

    assert not fs.exists(lake.landing_path(settings, TOPIC, OLD_DAY))
    assert not fs.exists(lake.done_marker_path(settings, TOPIC, OLD_DAY, 0))
    assert len(data_files(fs, compact_path)) == 1
    assert read_rows(fs, compact_path) == sorted(compact_rows)
    assert fs.exists(lake.done_marker_path(settings, TOPIC, COMPACT_DAY, 13))
    assert len(data_files(fs, recent_path)) == 2

    assert airflow_api.xcom(DAG_ID, run_id, "maintenance_day") == AS_OF.isoformat()
    removed = airflow_api.xcom(DAG_ID, run_id, "apply_retention")
    assert [(r["source"], r["arrival_date"]) for r in removed] == expired
    assert expired_landing_days(fs, settings) == []
    compaction = airflow_api.xcom(DAG_ID, run_id, "compact_landing")
    assert [
        (c["source"], c["hour"], c["files_before"], c["rows"]) for c in compaction["compacted"]
    ] == [(TOPIC, f"{COMPACT_DAY.isoformat()}T13", 3, 30)]
    summary = airflow_api.xcom(DAG_ID, run_id, "summarise_quarantine")
    assert summary["records"] == [
        {"source": "impressions", "reason": "malformed_json", "records": 2},
        {"source": "tracking", "reason": "bad_column_count", "records": 1},
    ]
    assert [(f["source"], f["arrival_date"], f["files"]) for f in summary["files"]] == [
        ("tracking", unreadable_day.isoformat(), 1)
    ]
