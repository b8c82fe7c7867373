"""Landing on the embedded stack: the tracking intake over WebHDFS killed with SIGKILL, and a
simulator run landed end to end with the counts of its manifest."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from kafka import KafkaProducer

from adplatform import lake
from adplatform.landing import kafka_job, markers
from adplatform.landing.tracking import SOURCE, Intake
from adplatform.simulator import publish
from adplatform.simulator.generate import SimConfig, simulate
from adplatform.simulator.writers import INBOX_DIR
from tests.landing.intake_files import csv_bytes, landed_names
from tests.landing.kafka_records import (
    create_topic,
    lake_settings,
    landed,
    run_landing,
    unique,
    webhdfs,
)

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(test_stack):
    return test_stack.require("kafka", "hdfs-datanode")


def test_an_intake_on_hdfs_killed_with_sigkill_and_run_again_lands_each_file_once(stack):
    base = lake_settings(stack, "intake")
    settings = base.with_overrides(tracking_inbox=f"{base.lake}/inbox")
    fs = webhdfs(settings)
    first = datetime(2025, 1, 6, tzinfo=UTC)
    hours = [first + timedelta(hours=h) for h in range(48)]
    files = {
        f"tracking_{h:%Y%m%d_%H}.csv": csv_bytes(f"{h:%Y%m%d_%H}", 1 + h.hour % 5) for h in hours
    }
    for name, data in files.items():
        fs.create(f"{settings.tracking_inbox}/{name}", data)
    until = first + timedelta(hours=48)
    command = [sys.executable, "-m", "adplatform.landing.cli", "tracking", "--min-age", "0"]
    command += ["--until", until.isoformat(), "--run-id", "killed"]

    intake = subprocess.Popen(
        command,
        env=kafka_job.environment(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    ledger = f"{lake.landing_path(settings, SOURCE)}/_ledger"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and intake.poll() is None:
            if fs.status(ledger) is not None and len(fs.list(ledger)) >= 3:
                break
            time.sleep(0.05)
    finally:
        os.killpg(intake.pid, signal.SIGKILL)
        intake.wait()
    left = {f.name for f in fs.list(settings.tracking_inbox)}
    assert 0 < len(left) < len(files), "the intake was not killed half-way"

    result = Intake(settings, "rerun", until=until, min_age_s=0).run()

    assert result.frontier == until
    assert fs.list(settings.tracking_inbox) == []
    assert landed_names(fs, settings) == {
        f"{h:%Y-%m-%dT%H}/tracking_{h:%Y%m%d_%H}.csv": hashlib.sha256(
            files[f"tracking_{h:%Y%m%d_%H}.csv"]
        ).hexdigest()[:12]
        for h in hours
    }
    # (a kill during an atomic write may leave a hidden `_tmp.*` beside the entries)
    assert len([f for f in fs.list(ledger) if not f.name.startswith("_")]) == len(files)
    assert [markers.read_marker(fs, settings, SOURCE, h)["rows"] for h in hours] == [
        1 + h.hour % 5 for h in hours
    ]


def _publish(settings, out, prefix: str) -> Counter:
    """The run's Kafka records, in arrival order, to topics of our own (no registry)."""
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=20, batch_size=512 * 1024
    )
    sent = Counter()
    for ts, topic, key, value in publish.records(out):
        producer.send(prefix + topic, value=value, key=key, timestamp_ms=ts)
        sent[topic] += 1
    producer.flush()
    producer.close()
    return sent


def test_a_simulated_run_lands_every_record_with_the_counts_of_its_manifest(stack, spark, tmp_path):
    # Recent enough for the broker's retention, old enough that late arrivals (up to ~3.3
    # days after the last simulated day) are not in the future.
    start = date.today() - timedelta(days=6)
    out = tmp_path / "sim"
    manifest = simulate(SimConfig(seed=11, start_date=start, days=2, events_per_day=300), out)
    settings = lake_settings(stack, "e2e")
    prefix = f"{unique('e2e')}_"
    for topic in publish.TOPICS:
        create_topic(settings, prefix + topic, partitions=2)
    sent = _publish(settings, out, prefix)
    # The end of the run's last arrival hour, as the Airflow run of that hour would pass it.
    last = max(h for r in manifest["raw_records"].values() for h in r["by_arrival_hour"])
    until = datetime.strptime(last, "%Y-%m-%dT%H").replace(tzinfo=UTC) + timedelta(hours=1)

    result = run_landing(settings, [prefix + t for t in publish.TOPICS], until, "e2e")
    assert result.returncode == 0, result.stderr[-4000:]

    fs = webhdfs(settings)
    for topic in publish.TOPICS:
        expected = manifest["raw_records"][topic]
        records = landed(spark, settings, prefix + topic)
        assert len(records) == expected["total"] == sent[topic]
        by_hour = Counter(
            datetime.strptime(folder, "arrival_date=%Y-%m-%d/arrival_hour=%H").strftime(
                "%Y-%m-%dT%H"
            )
            for *_, folder in records.values()
        )
        assert dict(sorted(by_hour.items())) == expected["by_arrival_hour"]
        for hour_text, n in expected["by_arrival_hour"].items():
            hour = datetime.strptime(hour_text, "%Y-%m-%dT%H").replace(tzinfo=UTC)
            assert markers.read_marker(fs, settings, prefix + topic, hour)["records"] == n

    # The tracking files of the same run, through the intake from an inbox on HDFS.
    inbox = f"{settings.lake}/inbox"
    for path in sorted((out / INBOX_DIR).glob("tracking_*.csv")):
        fs.create(f"{inbox}/{path.name}", path.read_bytes())
    with_inbox = settings.with_overrides(tracking_inbox=inbox)
    intake = Intake(with_inbox, "e2e", until=until, min_age_s=0).run()
    expected = manifest["raw_records"]["tracking"]
    assert intake.quarantined == [] and intake.duplicates == []
    assert intake.rows("landed") == expected["total"]
    for hour_text, n in expected["by_arrival_hour"].items():
        hour = datetime.strptime(hour_text, "%Y-%m-%dT%H").replace(tzinfo=UTC)
        assert markers.read_marker(fs, settings, SOURCE, hour)["rows"] == n
