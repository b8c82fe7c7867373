"""The jobs against the simulator's ground truth, without the embedded stack.

A small simulated run with faults is landed into a temporary lake exactly as the landing
job and the tracking intake lay it out; every job runs for each day (and the days late
records reach); ``campaign_daily`` must equal the reference's rows and each clean job's
reconciliation must equal the reference's outcomes, per day and reason. Bid requests need
the spark-avro jar: without it on the session, that job and the win rate are left out.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest
from pyspark.sql import functions as F

from adplatform import contracts, lake
from adplatform.contracts import Rules
from adplatform.ground_truth import CLEAN_JOBS as SOURCES
from adplatform.ground_truth import COUNTED
from adplatform.simulator import faults, writers
from adplatform.simulator.generate import SimConfig, simulate
from adplatform.simulator.reference import compute_truth
from spark_jobs.aggregate_campaign_daily import job as aggregate_campaign_daily
from spark_jobs.build_ad_funnel import job as build_ad_funnel
from spark_jobs.clean_bid_requests import job as clean_bid_requests
from spark_jobs.clean_impressions import job as clean_impressions
from spark_jobs.clean_tracking import job as clean_tracking
from spark_jobs.common.landing import KAFKA_SCHEMA
from spark_jobs.load_dimensions import job as load_dimensions
from tests.spark_jobs.test_clean_bid_requests import _has_spark_avro

pytestmark = pytest.mark.slow

START = date(2024, 6, 3)
DAYS = 2


def _land(spark, settings, out: Path) -> None:
    for topic in (contracts.TOPIC_BID_REQUESTS, contracts.TOPIC_AD_IMPRESSIONS):
        rows = []
        for path in writers.kafka_files(out, topic):
            for rec in writers.read_kafka_records(path):
                arrival = datetime.fromtimestamp(rec["timestamp_ms"] / 1000, UTC)
                rows.append(
                    (rec["key"], rec["value"], topic, 0, len(rows), arrival.replace(tzinfo=None))
                )
        landed = spark.createDataFrame(rows, KAFKA_SCHEMA).select(
            "*",
            F.date_format("kafka_ts", "yyyy-MM-dd").alias("arrival_date"),
            F.date_format("kafka_ts", "HH").alias("arrival_hour"),
        )
        landed.write.partitionBy("arrival_date", "arrival_hour").mode("overwrite").parquet(
            lake.landing_path(settings, topic)
        )
    for path in sorted((out / writers.INBOX_DIR).glob("tracking_*.csv")):
        hour = datetime.strptime(path.name[9:20], "%Y%m%d_%H")
        folder = lake.landing_path(settings, lake.TRACKING_SOURCE, hour.date(), hour.hour)
        target = Path(urlparse(folder).path)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / path.name)
    dims = Path(urlparse(lake.dims_path(settings, "campaigns")).path).parent
    dims.mkdir(parents=True, exist_ok=True)
    for name in ("campaigns", "users"):
        shutil.copy(out / "dims" / f"{name}.csv", dims / f"{name}.csv")


def _args(module, day: date, *extra: str):
    if module is load_dimensions:
        parser = load_dimensions.arg_parser()
    else:
        parser = module.job_parser(module.JOB, "", module.TABLES)
    if module is build_ad_funnel:
        parser.add_argument("--restate-days", type=int, default=None)
    return parser.parse_args(["--ds", day.isoformat(), "--run-id", "truth", *extra])


def test_campaign_daily_and_outcomes_equal_the_ground_truth(spark, adtech, lake_settings, tmp_path):
    rules = Rules()
    config = SimConfig(
        seed=11,
        start_date=START,
        days=DAYS,
        events_per_day=400,
        campaigns=5,
        users=300,
        fault_rates=faults.rates(0.02, {}),
        rules=rules,
    )
    out = tmp_path / "sim"
    simulate(config, out, None)
    truth = compute_truth(out, rules)
    _land(spark, lake_settings, out)
    with_bids = _has_spark_avro(spark)
    jobs = [clean_impressions, clean_tracking, build_ad_funnel, aggregate_campaign_daily]
    if with_bids:
        jobs.insert(1, clean_bid_requests)
    # Late and too-late records reach the two days after the last simulated one.
    days = [START + timedelta(days=n) for n in range(DAYS + 2)]
    load_dimensions.run(spark, lake_settings, _args(load_dimensions, START))
    for day in days:
        for job in jobs:
            job.run(spark, lake_settings, _args(job, day))

    in_range = F.col("dt").isin(*days)
    got = {
        (r.dt.isoformat(), r.campaign_id): r.asDict()
        for r in spark.table("adtech.campaign_daily").where(in_range).collect()
    }
    expected = {(r["dt"], r["campaign_id"]): r for r in truth["campaign_daily"]}
    assert sorted(got) == sorted(expected)
    for key, row in expected.items():
        assert {c: got[key][c] for c in COUNTED} == {c: row[c] for c in COUNTED}, key
        if with_bids:
            win = truth["win_rate"][key[0]]
            assert (got[key]["won_bid_imps"], got[key]["bid_imps"]) == (
                win["won_imps"], win["bid_imps"]
            )  # fmt: skip

    dims = spark.table("adtech.reconciliation").where(
        (F.col("dt") == START) & (F.col("job") == "load_dimensions")
    )
    assert sorted((r.source, r.ok) for r in dims.collect()) == [
        ("dim_campaign", True), ("dim_user", True)
    ]  # fmt: skip
    recon = spark.table("adtech.reconciliation").where(in_range & F.col("job").isin(*SOURCES))
    for row in recon.collect():
        source = SOURCES[row.job]
        empty = {"in": 0, "curated": 0, "duplicates": 0, "quarantined": {}}
        want = truth["outcomes"].get(source, {}).get(row.dt.isoformat(), empty)
        assert row.ok
        assert {
            "in": row.rows_in,
            "curated": row.curated,
            "duplicates": row.duplicates,
            "quarantined": dict(row.quarantined_by_reason),
        } == want, (row.job, row.dt)
