"""Kafka -> HDFS landing with a real broker, real HDFS and spark-submit as production runs it."""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import requests

from adplatform import lake, metrics
from adplatform.landing import markers
from adplatform.landing.hours import hour_floor, hour_range
from spark_jobs.common.landing import read_kafka_landing
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
    start_landing,
    unique,
    webhdfs,
)

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(test_stack):
    return test_stack.require("kafka", "hdfs-datanode", "pushgateway")


def marked_hours(fs, settings, topic) -> set[datetime]:
    return {
        hour
        for hour, folder in markers.hour_folders(fs, settings, topic).items()
        if fs.exists(f"{folder}/{lake.DONE_MARKER}")
    }


def test_three_days_land_exactly_once_by_record_time_and_close_their_hours(stack, spark):
    settings = lake_settings(stack, "land")
    fs = webhdfs(settings)
    days, quiet = unique("days"), unique("quiet")
    create_topic(settings, days, partitions=2)
    create_topic(settings, quiet, partitions=1)
    base = day_start(datetime.now(UTC)) - timedelta(days=4)
    records = spread(0, base, base + 71 * HOUR + timedelta(minutes=59), 900, "a")
    records += spread(1, base, base + 67 * HOUR + timedelta(minutes=30), 700, "b")
    rng = random.Random(5)
    poison_ts = int((base + 30 * HOUR).timestamp() * 1000)
    records += [
        (0, poison_ts, b"random", rng.randbytes(4096)),
        (0, poison_ts, b"empty", b""),
        (0, poison_ts, b"tombstone", None),
        (1, poison_ts, None, b"{not json"),
        (1, poison_ts, b"huge", rng.randbytes(6 * 1024 * 1024)),
    ]
    produced = produce(settings, days, records)
    quiet_produced = produce(settings, quiet, spread(0, base, base + 20 * HOUR, 50, "q"))

    # --until before the data's end: hours close where every partition moved past them.
    early = base + 10 * HOUR
    result = run_landing(settings, [days, quiet], early, "run-1")
    assert result.returncode == 0, result.stderr[-4000:]

    assert landed(spark, settings, days) == expected(produced)
    assert landed(spark, settings, quiet) == expected(quiet_produced)
    # Partition 1 has not shown anything of base+67h yet; the quiet topic's one partition
    # has moved past base+19h.
    assert markers.read_closed_through(fs, settings, days) == base + 67 * HOUR
    assert marked_hours(fs, settings, days) == set(
        hour_range(base - timedelta(days=1), base + 67 * HOUR)
    )
    assert marked_hours(fs, settings, quiet) == set(
        hour_range(base - timedelta(days=1), base + 20 * HOUR)
    )
    per_hour = Counter(
        (hour_floor(datetime.fromtimestamp(r.ts_ms / 1000, UTC)), r.partition) for r in produced
    )
    for hour in (base, base + 30 * HOUR, base + 66 * HOUR):
        done = markers.read_marker(fs, settings, days, hour)
        assert done["records"] == per_hour[hour, 0] + per_hour[hour, 1]
        assert done["partitions"]["0"]["records"] == per_hour[hour, 0]
        assert done["partitions"]["1"]["records"] == per_hour[hour, 1]
        assert done["run_id"] == "run-1"
    empty = markers.read_marker(fs, settings, days, base - HOUR)
    assert empty["records"] == 0 and empty["reason"] == "moved_past"

    # The batch jobs' reader takes the closed hours it asks for, empty ones included.
    hours = [base - 2 * HOUR + i * HOUR for i in range(8)]
    got = read_kafka_landing(spark, settings, days, hours).count()
    assert got == sum(n for (h, _), n in per_hour.items() if h in hours)

    # Metrics of the run are in the Pushgateway.
    text = requests.get(f"{settings.pushgateway_url}/metrics", timeout=10).text
    labels = f'instance="",job="land_kafka",run_id="run-1",source="{days}"'
    assert f"{metrics.BATCH_ROWS_WRITTEN}{{{labels}}} {len(produced)}" in text

    # A later run with nothing new: same records, the rest closed by draining up to --until.
    later = base + 80 * HOUR
    result = run_landing(settings, [days], later, "run-2")
    assert result.returncode == 0, result.stderr[-4000:]
    assert landed(spark, settings, days) == expected(produced)
    assert markers.read_closed_through(fs, settings, days) == later
    assert marked_hours(fs, settings, days) == set(hour_range(base - timedelta(days=1), later))
    assert markers.read_marker(fs, settings, days, base)["run_id"] == "run-1"
    assert markers.read_marker(fs, settings, days, base + 70 * HOUR)["reason"] == "drained"

    # A record stamped in an hour that is already closed (a producer's clock behind): it
    # lands in that hour, whose marker is rewritten with the new count and says so.
    late_ts = int((base + 30 * HOUR + timedelta(minutes=7)).timestamp() * 1000)
    late = produce(settings, days, [(1, late_ts, b"late", b"late record")])
    before = markers.read_marker(fs, settings, days, base + 30 * HOUR)
    result = run_landing(settings, [days], later, "run-3")
    assert result.returncode == 0, result.stderr[-4000:]
    assert landed(spark, settings, days) == expected(produced + late)
    after = markers.read_marker(fs, settings, days, base + 30 * HOUR)
    assert after["records"] == before["records"] + 1
    assert after["reason"] == "late_records" and after["run_id"] == "run-3"
    assert after["reopened"] == [
        {"run_id": "run-3", "at": after["closed_at"], "previous": {"records": before["records"]}}
    ]
    # (spark-submit's Python driver writes its stderr to spark-submit's stdout)
    assert "Re-run the daily run(s) that read this hour" in result.stdout


def _exists(fs, uri: str) -> bool:
    return fs.status(uri) is not None


def test_a_landing_job_killed_mid_batch_and_run_again_lands_each_record_once(stack, spark):
    settings = lake_settings(stack, "kill")
    fs = webhdfs(settings)
    topic = unique("kill")
    create_topic(settings, topic, partitions=2)
    base = day_start(datetime.now(UTC)) - timedelta(days=2)
    records = spread(0, base, base + 5 * HOUR, 6000, "k") + spread(
        1, base, base + 5 * HOUR, 6000, "l"
    )
    produced = produce(settings, topic, records)
    checkpoint = lake.checkpoint_path(settings, f"landing_{topic}")
    staging = f"{lake.landing_path(settings, topic)}/_staging"

    job = start_landing(settings, [topic], "run-killed", max_records_per_batch=1500)
    killed_in = None
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and job.poll() is None:
            for batch in (2, 3, 4):
                if _exists(fs, f"{staging}/batch={batch}"):
                    killed_in = batch
                    break
            if killed_in is not None:
                break
            time.sleep(0.2)
        assert killed_in is not None, "the job never reached its third batch"
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
    # It died inside that batch: planned in the offset log, not committed.
    assert _exists(fs, f"{checkpoint}/offsets/{killed_in}")
    assert not _exists(fs, f"{checkpoint}/commits/{killed_in}")
    half = landed(spark, settings, topic)
    assert 0 < len(half) < len(produced)

    result = run_landing(
        settings, [topic], base + 6 * HOUR, "run-again", max_records_per_batch=1500
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert landed(spark, settings, topic) == expected(produced)
    assert not any(f.name.startswith("batch=") for f in fs.list(staging))
    assert markers.read_closed_through(fs, settings, topic) == base + 6 * HOUR
