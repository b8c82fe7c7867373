"""`adplatform quality`: list the suites, or validate published or landed data on its own.

    adplatform quality list
    adplatform quality validate --stage raw --ds 2025-03-01 --run-id "$RUN_ID" --job validate_raw
    adplatform quality validate --table clicks --ds 2025-03-01

`validate` reads what each suite checks (the published partitions of a table; for a raw
suite the landed records of the run's arrival window, through the clean job's own read and
parse steps) and the suite's reference tables from the lake and the Hive catalog, runs the
suite, writes results and Data Docs, pushes the metrics (job = ``--job``, the Airflow task
id, by default ``validate_<stage>`` as the DAG's ``validate_raw`` is named; source = the
suite), and exits 1 when a critical expectation failed in any suite (0 otherwise, also with
failed warnings). Every suite of a stage is validated even when an earlier one failed, so
one run names every problem.

Stages: ``raw`` (the three raw suites, before the clean jobs; the DAG's ``validate_raw``),
``curated`` (the clean tables of ``ds`` and the ``ad_funnel`` days the run rebuilt),
``published`` (``campaign_daily``). The jobs audit the curated and published tables before
writing them (write-audit-publish), so those two stages re-check published data by hand. It
runs as a command or under spark-submit through ``spark_jobs/data_quality/job.py`` (which
calls ``main``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date
from typing import TYPE_CHECKING

from adplatform import settings as settings_module
from adplatform.contracts import Rules
from adplatform.metrics import BatchRun, manual_run_id
from adplatform.quality.suites import RAW_SUITES, load_suite, suite_names

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

STAGES = {
    "raw": RAW_SUITES,
    "curated": ("impressions", "bid_requests", "clicks", "conversions", "ad_funnel"),
    "published": ("campaign_daily",),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("quality", help="data-quality suites (Great Expectations)")
    commands = parser.add_subparsers(dest="quality_command", required=True)

    listing = commands.add_parser("list", help="the suites, their size and references")
    listing.set_defaults(func=run_list)

    check = commands.add_parser(
        "validate", help="validate landed or published data; exit 1 on a critical failure"
    )
    what = check.add_mutually_exclusive_group(required=True)
    what.add_argument("--table", choices=suite_names(), help="one suite (= its table)")
    what.add_argument("--stage", choices=sorted(STAGES), help="every suite of a pipeline stage")
    check.add_argument("--ds", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    check.add_argument(
        "--first-day",
        type=date.fromisoformat,
        help="first dt of a --table that covers several days (default: --ds; with --stage, "
        "ad_funnel covers the days its job rebuilds)",
    )
    check.add_argument(
        "--run-id", default="", help="Airflow run id for the metrics (default: manual__<now>)"
    )
    check.add_argument(
        "--job",
        default="",
        help="job label of the metrics: the Airflow task id "
        "(default: validate_<stage>, or dq_<table> with --table)",
    )
    check.set_defaults(func=run_validate)


def run_list(args: argparse.Namespace) -> int:
    for name in suite_names():
        suite = load_suite(name)
        critical = sum(1 for e in suite.expectations if e["meta"]["severity"] == "critical")
        refs = ", ".join(suite.references) or "-"
        print(
            f"{name:16} {len(suite.expectations):3} expectations ({critical} critical)  "
            f"references: {refs}"
        )
    return 0


def _session(settings: settings_module.Settings) -> SparkSession:
    from spark_jobs.common.session import job_session

    return job_session("adplatform-quality", settings)


def suite_days(
    suite: str, ds: date, settings: settings_module.Settings, first_day: date | None
) -> tuple[date, date]:
    """The (first, last) event days a suite validates in the run of ``ds``."""
    if first_day is not None:
        return first_day, ds
    if suite == "ad_funnel":
        from spark_jobs.build_ad_funnel.transforms import funnel_days, restate_days

        return funnel_days(ds, restate_days(Rules.from_settings(settings)))[0], ds
    return ds, ds


def run_validate(args: argparse.Namespace) -> int:
    from adplatform.quality.sources import load_batch, load_references
    from adplatform.quality.validation import DataQualityError, validate

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = settings_module.load()
    run_id = args.run_id or manual_run_id()
    suites = STAGES[args.stage] if args.stage else (args.table,)
    job = args.job or (f"validate_{args.stage}" if args.stage else f"dq_{args.table}")
    spark = _session(settings)
    failures: list[DataQualityError] = []
    for suite in suites:
        days = suite_days(suite, args.ds, settings, args.first_day)
        batch = load_batch(spark, settings, suite, args.ds, days)
        references = load_references(spark, settings, suite, args.ds, days)
        try:
            with BatchRun(job, suite, run_id, settings=settings) as run:
                validate(
                    batch,
                    suite,
                    run=run,
                    ds=args.ds,
                    references=references,
                    days=days,
                    settings=settings,
                )
        except DataQualityError as exc:
            failures.append(exc)
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point for spark-submit: the arguments of `adplatform quality`."""
    from adplatform.errors import UserError

    parser = argparse.ArgumentParser(prog="adplatform quality")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["quality", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args) or 0
    except (UserError, settings_module.SettingsError) as exc:
        print(f"adplatform quality: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
