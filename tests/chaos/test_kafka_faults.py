"""A simulated day through a broker stopped while the simulator publishes and a landing job
killed with SIGKILL mid-batch, then the clean jobs: the reconciliation equals the
simulator's ground truth and no curated table holds an id twice (docs/chaos.md).

The landing kill alone (each record landed once) is tests/landing/test_kafka_landing.py;
this test carries both faults through to the curated tables and the reconciliation.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from adplatform import contracts, lake
from adplatform.contracts import Rules
from adplatform.simulator import publish
from adplatform.simulator.generate import SimConfig, simulate
from adplatform.simulator.reference import compute_truth
from adplatform.stack import manager
from spark_jobs.clean_bid_requests import job as clean_bid_requests
from spark_jobs.clean_impressions import job as clean_impressions
from tests.chaos.conftest import PSEUDONYM_KEY, closed_port
from tests.chaos.jobs import duplicated_ids, reconciliation_rows, run_job
from tests.landing.kafka_records import (
    create_topic,
    lake_settings,
    landed,
    run_landing,
    start_landing,
    unique,
    webhdfs,
)
from tests.spark_jobs.test_clean_bid_requests import _has_spark_avro

pytestmark = [pytest.mark.stack, pytest.mark.slow]

KAFKA_SOURCES = {
    contracts.TOPIC_AD_IMPRESSIONS: ("impressions", clean_impressions),
    contracts.TOPIC_BID_REQUESTS: ("bid_requests", clean_bid_requests),
}


def _published_values(out) -> dict[str, Counter]:
    """topic -> multiset of value digests the simulator sent (re-sends included)."""
    sent: dict[str, Counter] = {t: Counter() for t in publish.TOPICS}
    for _, topic, _, value in publish.records(out):
        sent[topic][hashlib.sha256(value).hexdigest()] += 1
    return sent


def test_broker_stop_while_publishing_and_landing_kill_end_in_the_ground_truth(
    test_stack, spark, local_lake, tmp_path
):
    stack = test_stack.require("kafka", "hdfs-datanode")
    # Recent enough for the broker's retention, old enough that late arrivals are not
    # in the future (as tests/landing/test_landing_on_the_stack.py).
    start = date.today() - timedelta(days=6)
    out = tmp_path / "sim"
    config = SimConfig(
        seed=23, start_date=start, days=1, events_per_day=800, campaigns=4, users=400
    )
    manifest = simulate(config, out)
    settings = lake_settings(stack, "broker").with_overrides(
        pseudonym_key=PSEUDONYM_KEY, pushgateway_port=closed_port(), pushgateway_push_attempts=1
    )
    prefix = f"{unique('broker')}_"
    for topic in publish.TOPICS:
        create_topic(settings, prefix + topic, partitions=2)

    # 1. The broker stops after the first 1,000 records and comes back 3 s later, while the
    #    simulator's producer keeps sending (it retries, idempotently).
    kafka = manager.handle(stack, manager.BY_NAME["kafka"])
    restart = threading.Thread(target=lambda: (time.sleep(3), manager.up(stack, ["kafka"])))
    stops: list[float] = []

    def progress(_: int) -> None:
        if not stops:
            assert kafka.stop()
            stops.append(time.monotonic())
            restart.start()

    try:
        result = publish.publish(out, settings, progress=progress, topic_prefix=prefix)
    finally:
        if stops:
            restart.join()
        manager.up(stack, ["kafka"])  # whatever happened, the session's broker runs again
    assert stops, "the broker was never stopped: the run has fewer than 1,000 records"
    assert result.by_topic == {t: manifest["raw_records"][t]["total"] for t in publish.TOPICS}

    # 2. Landing killed with SIGKILL in the middle of a batch, then run again.
    topics = [prefix + t for t in publish.TOPICS]
    fs = webhdfs(settings)
    staging = [f"{lake.landing_path(settings, t)}/_staging" for t in topics]
    job = start_landing(settings, topics, "chaos-killed", max_records_per_batch=300)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and job.poll() is None:
            if any(fs.status(f"{s}/batch=2") is not None for s in staging):
                break
            time.sleep(0.1)
        assert job.poll() is None, "the landing job ended before its third batch"
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
    last = max(h for t in publish.TOPICS for h in manifest["raw_records"][t]["by_arrival_hour"])
    until = datetime.strptime(last, "%Y-%m-%dT%H").replace(tzinfo=UTC) + timedelta(hours=1)
    rerun = run_landing(settings, topics, until, "chaos-rerun", max_records_per_batch=300)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-1000:]

    # Every record the simulator sent is in Kafka and landed once: no loss from the stop,
    # no duplicate from the producer's retries or from the replayed batch.
    sent = _published_values(out)
    for topic in publish.TOPICS:
        records = landed(spark, settings, prefix + topic)  # asserts no (partition, offset) twice
        assert Counter(digest for _, digest, _, _ in records.values()) == sent[topic], topic

    # 3. The clean jobs on what landed (under the platform's topic names), for every day
    #    the run's records reach: reconciliation = the ground truth, exactly.
    for topic in publish.TOPICS:
        fs.rename(lake.landing_path(settings, prefix + topic), lake.landing_path(settings, topic))
    sources = dict(KAFKA_SOURCES)
    if not _has_spark_avro(spark):
        del sources[contracts.TOPIC_BID_REQUESTS]
    truth = compute_truth(out, Rules())
    # Every day that owns a record of these sources (late arrivals reach days after).
    days = sorted(
        {date.fromisoformat(d) for s, _ in sources.values() for d in truth["outcomes"][s]}
    )
    for day in days:
        for _, module in sources.values():
            run_job(spark, settings, module, day, "chaos__broker")

    jobs = [module.JOB for _, module in sources.values()]
    recon = reconciliation_rows(spark, days, jobs)
    empty = {"in": 0, "curated": 0, "duplicates": 0, "quarantined": {}}
    for source, module in sources.values():
        for day in days:
            rows_in, curated, duplicates, quarantined, ok = recon[module.JOB, day]
            want = truth["outcomes"].get(source, {}).get(day.isoformat(), empty)
            assert ok
            got = {"in": rows_in, "curated": curated, "duplicates": duplicates,
                   "quarantined": quarantined}  # fmt: skip
            assert got == want, (module.JOB, day)
    for topic, (_, module) in sources.items():
        owned = sum(recon[module.JOB, day][0] for day in days)
        assert owned == manifest["raw_records"][topic]["total"], topic
    assert set(duplicated_ids(spark, days).values()) == {0}
