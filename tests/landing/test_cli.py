"""`adplatform land ...`: arguments, the spark-submit command it runs, the intake end to end."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from adplatform.landing import cli, kafka_job
from adplatform.settings import REPO_ROOT
from adplatform.stack.process import free_port
from tests.landing.intake_files import csv_bytes, local_settings


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="adplatform")
    cli.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["land", *argv])


def test_until_takes_airflows_data_interval_end():
    args = parse("kafka", "--until", "2025-01-06T08:00:00+00:00", "--run-id", "scheduled__x")
    assert args.until == datetime(2025, 1, 6, 8, tzinfo=UTC)
    assert args.func is cli.run_kafka and args.run_id == "scheduled__x"
    assert parse("tracking", "--until", "2025-01-06T10:00:00+02:00").until == datetime(
        2025, 1, 6, 8, tzinfo=UTC
    )


def test_the_kafka_job_runs_through_the_platforms_spark_submit(tmp_path):
    settings = local_settings(tmp_path)
    command = kafka_job.command(
        settings, until=datetime(2025, 1, 6, 8, tzinfo=UTC), run_id="r", topics=["a", "b"]
    )
    # `env SPARK_LOCAL_IP=...` first, so the driver's UI binds where the settings say.
    assert command[0] == "env"
    assert any(part.endswith("bin/spark-submit") for part in command)
    assert "spark.sql.session.timeZone=UTC" in command
    assert command[-7:] == [
        str(REPO_ROOT / "spark_jobs" / "land_kafka" / "job.py"),
        "--until",
        "2025-01-06T08:00:00+00:00",
        "--run-id",
        "r",
        "--topics",
        "a,b",
    ]
    env = kafka_job.environment(settings, {"ADPLATFORM_LAKE_URI": "hdfs://elsewhere/x"})
    assert env["ADPLATFORM_LAKE_URI"] == settings.lake_uri
    assert str(REPO_ROOT) in env["PYTHONPATH"].split(":")


def test_land_tracking_from_the_command_line(tmp_path, monkeypatch, capsys):
    settings = local_settings(tmp_path)
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "tracking_20250106_07.csv").write_bytes(csv_bytes("20250106_07", 2))
    for name, value in settings.as_env().items():
        monkeypatch.setenv(name, value)
    # No Pushgateway there: the run says so in one line and goes on.
    monkeypatch.setenv("ADPLATFORM_PUSHGATEWAY_PORT", str(free_port()))

    code = cli.main(["tracking", "--until", "2025-01-06T08:00:00Z", "--run-id", "cli"])

    assert code == 0
    err = capsys.readouterr().err
    assert "1 files landed (2 rows)" in err and "closed through 2025-01-06T08:00:00Z" in err
    assert list((tmp_path / "inbox").iterdir()) == []
