"""`adplatform land kafka|tracking`: land new Kafka records or tracking CSV files, close hours."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date, datetime

from adplatform import settings as settings_module
from adplatform.errors import UserError
from adplatform.landing import hours as hour_rules
from adplatform.metrics import BatchRun, manual_run_id

HOURLY_S = 3600.0


def _instant(text: str) -> datetime:
    try:
        return hour_rules.utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {text!r}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "land",
        help="land Kafka records or tracking CSV files in the lake and close complete hours",
        description=__doc__,
        epilog="See docs/landing.md.",
    )
    sources = parser.add_subparsers(dest="source", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--until",
        type=_instant,
        default=None,
        help="end of the data interval (ISO-8601, e.g. Airflow's data_interval_end): hours "
        "that end by then are closed once drained; default: now",
    )
    common.add_argument("--run-id", default=None, help="run id for markers and metrics")

    kafka = sources.add_parser(
        "kafka",
        parents=[common],
        help="run the Spark landing job (Trigger.AvailableNow) on the Kafka topics",
    )
    kafka.add_argument("--topics", default=None, help="comma-separated (default: both topics)")
    kafka.add_argument("--max-records-per-batch", type=int, default=None)
    kafka.set_defaults(func=run_kafka)

    tracking = sources.add_parser(
        "tracking", parents=[common], help="move tracking CSV files from the inbox into landing"
    )
    tracking.add_argument(
        "--inbox", default=None, help="inbox folder or URI (default: ADPLATFORM_TRACKING_INBOX)"
    )
    tracking.add_argument(
        "--min-age",
        type=float,
        default=None,
        help="seconds a file must be unchanged to count as complete "
        "(default: ADPLATFORM_TRACKING_MIN_FILE_AGE_S)",
    )
    tracking.set_defaults(func=run_tracking)

    restate = subparsers.add_parser(
        "restate",
        help="re-run (clear) the daily runs that read arrival hours which got late records",
        description="Clear adtech_daily's finished runs of the days whose arrival hours got "
        "records after they were closed (recorded by landing in landing/<source>/_LATE/), "
        "through the Airflow REST API; the scheduler runs them again. The landing DAGs do "
        "this after every run. With --day, clear that day's run.",
        epilog="See docs/landing.md, 'Late records in a closed hour'.",
    )
    restate.add_argument(
        "--day",
        type=_day,
        default=None,
        help="restate this day (YYYY-MM-DD) whatever landing recorded",
    )
    restate.set_defaults(func=run_restate)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day (YYYY-MM-DD): {text!r}") from None


def run_kafka(args: argparse.Namespace) -> int:
    from adplatform.landing import kafka_job

    settings = settings_module.load()
    topics = args.topics.split(",") if args.topics else None
    code = kafka_job.run(
        settings,
        until=args.until,
        run_id=args.run_id,
        topics=topics,
        max_records_per_batch=args.max_records_per_batch,
    )
    if code != 0:
        raise UserError(f"the Kafka landing job failed (spark-submit exit code {code}); see above")
    return 0


def run_tracking(args: argparse.Namespace) -> int:
    from adplatform.landing.tracking import SOURCE, Intake

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    settings = settings_module.load()
    run_id = args.run_id or manual_run_id()
    with BatchRun(
        "land_tracking", SOURCE, run_id, settings=settings, expected_interval_s=HOURLY_S
    ) as run:
        intake = Intake(
            settings,
            run_id,
            inbox=args.inbox,
            until=args.until,
            min_age_s=args.min_age,
            progress=lambda line: print(f"land tracking: {line}", file=sys.stderr, flush=True),
        )
        result = intake.run()
        record_metrics(run, result)
        run.late_records(late_records_of(settings, SOURCE, run_id))
    print(f"land tracking: {result.summary()}", file=sys.stderr)
    return 0


def late_records_of(settings: settings_module.Settings, source: str, run_id: str) -> int:
    """Records (tracking: CSV rows) this run landed in hours already closed."""
    from adplatform.hdfs import filesystem
    from adplatform.landing import markers

    fs = filesystem(settings.lake, settings)
    return sum(h.records for h in markers.late_hours(fs, settings, source) if h.run_id == run_id)


def run_restate(args: argparse.Namespace) -> int:
    from adplatform.airflow_api import AirflowApi
    from adplatform.orchestration import restate

    settings = settings_module.load()
    if args.day is not None:
        run_id = restate.restate_day(
            AirflowApi(settings), args.day, "restated by hand: adplatform restate --day"
        )
        print(f"adplatform restate: cleared {restate.DAILY_DAG} {args.day} ({run_id})")
        return 0
    done = restate.restate_late(settings, lambda: AirflowApi(settings), log=lambda _line: None)
    for line in done.lines():
        print(f"adplatform restate: {line}")
    return 0


def record_metrics(run: BatchRun, result) -> None:
    """Rows are CSV records (non-blank lines after the header) of the files of the run."""
    run.rows_read(result.rows_read)
    run.rows_written(result.rows("landed"))
    run.rows_quarantined(result.rows("quarantined"))
    run.rows_deduplicated(result.rows("duplicates"))
    if result.landed:
        newest = max(datetime.fromisoformat(f["hour"]) for f in result.landed)
        run.newest_event(newest + hour_rules.HOUR)
    if result.frontier is not None:
        run.landing_hour_closed(result.frontier)


def main(argv: list[str] | None = None) -> int:
    """``python -m adplatform.landing.cli kafka|tracking ...``: ``adplatform land ...``."""
    parser = argparse.ArgumentParser(prog="adplatform")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["land", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except UserError as exc:
        print(f"adplatform: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
