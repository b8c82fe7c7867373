"""Faults of the real services under a running job (docs/chaos.md): a Spark job killed with
SIGKILL while it writes its partition and run again with the same spark-submit command
line (what an Airflow retry does), and the HDFS DataNode stopped while landing writes.

Every service is the test stack's own (tests/stack_fixtures.py); a stopped one is started
again through the stack manager, so the session's teardown stops it like the others.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from adplatform import contracts, lake
from adplatform.landing import kafka_job, markers
from adplatform.settings import REPO_ROOT
from adplatform.spark_config import spark_submit_command
from adplatform.stack import manager
from tests.chaos.conftest import PSEUDONYM_KEY, hive_initialised
from tests.landing.kafka_records import (
    HOUR,
    create_topic,
    day_start,
    expected,
    lake_settings,
    landed,
    produce,
    run_landing,
    spread,
    unique,
    webhdfs,
)
from tests.spark_jobs.landed import dumps, impression, land_kafka

pytestmark = [pytest.mark.stack, pytest.mark.slow]

D = date(2023, 6, 14)
IMPRESSIONS = 30_000
OUTAGE_S = 15


def _wait_for(predicate, timeout_s: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"never saw {what}")


def _kill_group(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.fixture(scope="module")
def hive_stack(test_stack):
    settings = test_stack.require("metastore").with_overrides(pseudonym_key=PSEUDONYM_KEY)
    return hive_initialised(settings)


def test_a_spark_job_killed_while_it_writes_its_partition_and_retried_writes_it_once(
    hive_stack, spark
):
    settings = hive_stack
    # One arrival hour of impressions of D, landed where the landing job puts them (the
    # stack's own lake: the metastore's adtech tables live there; no other test uses D).
    records = [
        (
            f"imp-{i}".encode(),
            dumps(impression(impression_id=f"imp-{i}", user_id=f"u-{i % 997}",
                             event_ts=f"2023-06-14T10:{i % 60:02d}:00Z")),
            "2023-06-14 10:30:00",
        )
        for i in range(IMPRESSIONS)
    ]  # fmt: skip
    records += [
        (None, b"{not json", "2023-06-14 10:31:00"),
        (b"imp-7", records[7][1], "2023-06-14 11:00:00"),
    ]
    land_kafka(spark, settings, contracts.TOPIC_AD_IMPRESSIONS, records)
    # The command line Airflow's SparkSubmitOperator runs, and runs again on retry.
    command = spark_submit_command(
        settings,
        str(REPO_ROOT / "spark_jobs" / "clean_impressions" / "job.py"),
        "--ds", D.isoformat(), "--run-id", "scheduled__2023-06-14T00:00:00+00:00",
    )  # fmt: skip
    env = kafka_job.environment(settings)
    table = f"{lake.database_path(settings)}/impressions"
    fs = webhdfs(settings)

    def staged() -> list[str]:
        """What the write stages in the table: a write is under way (or was)."""
        if fs.status(f"{table}/_staging") is None:
            return []
        return [f.name for f in fs.list(f"{table}/_staging")]

    def version(partition: str) -> str:
        """The one version folder of a partition written once (spark_jobs/common/tables.py):
        the killed try's files are gone."""
        names = [f.name for f in fs.list(partition) if f.name.startswith("_v=")]
        assert len(names) == 1, names
        return f"{partition}/{names[0]}"

    job = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        _wait_for(staged, 600, "the job writing adtech.impressions", job)
    finally:
        _kill_group(job)
    assert job.returncode == -signal.SIGKILL

    retry = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert retry.returncode == 0, retry.stderr[-4000:]

    # What a reader of the table's files sees: each impression once, the leftovers gone.
    rows = spark.read.parquet(version(f"{table}/dt={D.isoformat()}"))
    assert rows.count() == IMPRESSIONS
    assert rows.select("impression_id").distinct().count() == IMPRESSIONS
    assert staged() == []
    quarantine = spark.read.parquet(
        version(f"{lake.database_path(settings)}/quarantine/dt={D.isoformat()}/source=impressions")
    )
    assert [r.reason for r in quarantine.collect()] == [contracts.Reason.MALFORMED_JSON]
    recon = spark.read.parquet(
        version(
            f"{lake.database_path(settings)}/reconciliation/dt={D.isoformat()}/job=clean_impressions"
        )
    ).collect()
    assert [(r.rows_in, r.curated, r.quarantined, r.duplicates, r.ok) for r in recon] == [
        (IMPRESSIONS + 2, IMPRESSIONS, 1, 1, True)
    ]


def test_landing_with_the_datanode_stopped_mid_write_then_rerun_lands_each_record_once(
    test_stack, spark, tmp_path
):
    stack = test_stack.require("kafka", "hdfs-datanode")
    settings = lake_settings(stack, "datanode")
    topic = unique("datanode")
    create_topic(settings, topic, partitions=2)
    base = day_start(datetime.now(UTC)) - timedelta(days=2)
    produced = produce(
        settings, topic,
        spread(0, base, base + 4 * HOUR, 4000, "d") + spread(1, base, base + 4 * HOUR, 4000, "e"),
    )  # fmt: skip
    staging = f"{lake.landing_path(settings, topic)}/_staging"
    fs = webhdfs(settings)
    datanode = manager.handle(stack, manager.BY_NAME["hdfs-datanode"])

    log = tmp_path / "landing.log"
    with log.open("wb") as out:  # a file, not a pipe nobody reads: the job never blocks on it
        job = subprocess.Popen(
            kafka_job.command(settings, run_id="run-dn-down", topics=[topic],
                              max_records_per_batch=1000),
            env=kafka_job.environment(settings), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        _wait_for(lambda: fs.status(f"{staging}/batch=1") is not None, 600, "batch 1", job)
        assert datanode.stop()
        time.sleep(OUTAGE_S)
    finally:
        manager.up(stack, ["hdfs-datanode"])
        # The HDFS client retries through a short outage; a job that neither finishes nor
        # fails is ended as Airflow's execution timeout would end it.
        with contextlib.suppress(subprocess.TimeoutExpired):
            job.wait(timeout=180)
        if job.poll() is None:
            _kill_group(job)
    # What the interrupted job did (recovered: 0; failed: 1; ended by the timeout: -9).
    print(f"interrupted landing job exit code {job.returncode}; log {log}")

    result = run_landing(
        settings, [topic], base + 5 * HOUR, "run-dn-up", max_records_per_batch=1000
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert landed(spark, settings, topic) == expected(produced)
    assert markers.read_closed_through(fs, settings, topic) == base + 5 * HOUR
