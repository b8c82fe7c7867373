"""The suites on what the real batch jobs make of a small, clean simulator run.

The simulator's Kafka records and tracking files are put into a local lake exactly where
landing puts them, the jobs' entry points run on the test session (load_dimensions,
clean_impressions, clean_tracking, build_ad_funnel, aggregate_campaign_daily), and each
suite is validated the way `adplatform quality validate` does it (campaign_daily through
that command itself): raw suites through the clean jobs' own read and parse steps, table
suites on the published partitions, with their reference tables from the catalog.

Bid requests are left out: decoding them needs the spark-avro jar, which the unit-test
session does not have, so adtech.bid_requests stays empty and the funnel has no bids; the
only failure allowed is therefore the funnel's warning about impressions without a bid.
"""

from __future__ import annotations

import json
import shutil
import socket
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from adplatform import lake
from adplatform.contracts import TOPIC_AD_IMPRESSIONS
from adplatform.hive_ddl import apply_ddl
from adplatform.quality.cli import suite_days
from adplatform.quality.sources import load_batch, load_references
from adplatform.quality.validation import validate
from adplatform.settings import Settings
from adplatform.simulator import faults
from adplatform.simulator.generate import SimConfig, simulate
from adplatform.simulator.writers import kafka_files, read_kafka_records

from .conftest import failed, offline_run

pytestmark = pytest.mark.slow

DS = date(2025, 1, 6)
RUN_ID = "scheduled__2025-01-06T00:00:00+00:00"
SUITES = (
    "raw_impressions",
    "raw_tracking",
    "impressions",
    "clicks",
    "conversions",
    "ad_funnel",
)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _local(uri: str) -> Path:
    return Path(uri.removeprefix("file://"))


def _land_kafka(spark, settings: Settings, run_dir: Path, topic: str) -> None:
    from pyspark.sql import functions as F

    from spark_jobs.common.landing import KAFKA_SCHEMA

    rows = [
        (
            record["key"],
            record["value"],
            topic,
            0,
            offset,
            datetime.fromtimestamp(record["timestamp_ms"] / 1000, UTC).replace(tzinfo=None),
        )
        for offset, record in enumerate(
            r for path in kafka_files(run_dir, topic) for r in read_kafka_records(path)
        )
    ]
    df = spark.createDataFrame(rows, KAFKA_SCHEMA)
    hour = F.date_trunc("hour", "kafka_ts")
    for (start,) in df.select(hour).distinct().collect():
        path = lake.landing_path(settings, topic, start.date(), start.hour)
        df.where(hour == F.lit(start)).coalesce(1).write.mode("overwrite").parquet(path)


def _land_tracking(settings: Settings, run_dir: Path) -> None:
    for csv in sorted((run_dir / "tracking_inbox").glob("tracking_*.csv")):
        stamp = datetime.strptime(csv.stem.removeprefix("tracking_"), "%Y%m%d_%H")
        folder = _local(lake.landing_path(settings, "tracking", stamp.date(), stamp.hour))
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(csv, folder / csv.name)


def _run_job(spark, settings: Settings, module, *extra: str) -> None:
    from spark_jobs.common.session import job_parser

    if module.JOB == "load_dimensions":
        parser = module.arg_parser()
    else:
        parser = job_parser(module.JOB, "test", module.TABLES)
    if module.JOB == "build_ad_funnel":
        parser.add_argument("--restate-days", type=int, default=None)
    args = parser.parse_args(["--ds", DS.isoformat(), "--run-id", RUN_ID, *extra])
    module.run(spark, settings, args)


@pytest.fixture(scope="module")
def pipeline(spark, tmp_path_factory) -> Settings:
    """The published tables of DS, made by the real jobs from a clean simulator run."""
    from spark_jobs.aggregate_campaign_daily import job as aggregate_campaign_daily
    from spark_jobs.build_ad_funnel import job as build_ad_funnel
    from spark_jobs.clean_impressions import job as clean_impressions
    from spark_jobs.clean_tracking import job as clean_tracking
    from spark_jobs.load_dimensions import job as load_dimensions

    root = tmp_path_factory.mktemp("pipeline")
    settings = Settings(
        home=root / "home",
        lake_uri=f"file://{root / 'lake'}",
        pseudonym_key="data-quality-test-key",
        pushgateway_port=_closed_port(),
        pushgateway_push_attempts=1,
    )
    run_dir = root / "sim"
    config = SimConfig(
        seed=3, days=2, start_date=DS, events_per_day=1500, fault_rates=faults.rates(0.0, {})
    )
    simulate(config, run_dir)
    _land_kafka(spark, settings, run_dir, TOPIC_AD_IMPRESSIONS)
    _land_tracking(settings, run_dir)
    dims = _local(f"{settings.lake}/dims")
    dims.mkdir(parents=True)
    for name in ("campaigns", "users"):
        shutil.copy(run_dir / "dims" / f"{name}.csv", dims / f"{name}.csv")
    # The session's adtech database, shared with tests/spark_jobs (they use other dates).
    apply_ddl(spark, settings)
    for module in (
        load_dimensions,
        clean_impressions,
        clean_tracking,
        build_ad_funnel,
        aggregate_campaign_daily,
    ):
        _run_job(spark, settings, module)
    return settings


@pytest.mark.parametrize("suite", SUITES)
def test_suite_passes_on_the_jobs_output(spark, pipeline, suite):
    days = suite_days(suite, DS, pipeline, None)
    batch = load_batch(spark, pipeline, suite, DS, days)
    assert batch.count() > 0
    report = validate(
        batch,
        suite,
        run=offline_run(),
        ds=DS,
        references=load_references(spark, pipeline, suite, DS, days),
        days=days,
        settings=pipeline,
        raise_on_critical=False,
    )

    allowed = {"ad_funnel": {"expect_column_values_to_be_in_set(has_bid)"}}.get(suite, set())
    assert set(failed(report)) == allowed, report.failure_message()
    assert report.success


def test_the_cli_validates_a_stage(spark, pipeline, monkeypatch, capsys):
    from adplatform.quality import cli

    for name, value in pipeline.as_env().items():
        monkeypatch.setenv(name, value)
    # The test session stands in for the job session spark-submit would build.
    monkeypatch.setattr(cli, "_session", lambda settings: spark)

    code = cli.main(
        ["validate", "--stage", "published", "--ds", DS.isoformat(), "--run-id", RUN_ID]
    )

    assert code == 0, capsys.readouterr().err
    summary = pipeline.home / "quality" / "campaign_daily" / "scheduled__2025-01-06T00_00_00_00_00"
    assert json.loads((summary / "summary.json").read_text())["success"] is True
