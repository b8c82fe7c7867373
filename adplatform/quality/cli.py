"""`adplatform quality`: list the suites, or validate one table's partition on its own.

    adplatform quality list
    adplatform quality validate --table clicks --ds 2025-03-01 --run-id "$RUN_ID" --job dq_clicks

`validate` reads the partition (or, for a raw suite, the landed records of the run's
arrival window through the clean job's parse step) and the suite's reference tables from
the lake and the Hive catalog, runs the suite, writes results and Data Docs, pushes the
metrics, and exits 1 when a critical expectation failed (0 otherwise, also with failed
warnings). It runs as a plain command (a local Spark session with the platform's
configuration) or under spark-submit: `spark-submit adplatform/quality/cli.py validate ...`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date
from typing import TYPE_CHECKING

from adplatform import settings as settings_module
from adplatform.metrics import BatchRun, manual_run_id
from adplatform.quality.suites import load_suite, suite_names

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("quality", help="data-quality suites (Great Expectations)")
    commands = parser.add_subparsers(dest="quality_command", required=True)

    listing = commands.add_parser("list", help="the suites, their size and references")
    listing.set_defaults(func=run_list)

    check = commands.add_parser(
        "validate", help="validate one table's partition; exit 1 on a critical failure"
    )
    check.add_argument("--table", required=True, choices=suite_names(), help="suite = table")
    check.add_argument("--ds", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    check.add_argument(
        "--first-day",
        type=date.fromisoformat,
        help="first dt to validate when the run covers several days (default: --ds)",
    )
    check.add_argument(
        "--run-id", default="", help="Airflow run id for the metrics (default: manual__<now>)"
    )
    check.add_argument(
        "--job",
        default="",
        help="job label of the metrics, the Airflow task id (default: dq_<table>)",
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


def _spark(settings: settings_module.Settings) -> SparkSession:
    from pyspark.sql import SparkSession

    from adplatform.spark_config import spark_conf

    builder = SparkSession.builder.appName("adplatform-quality")
    for key, value in spark_conf(settings).items():
        builder = builder.config(key, value)
    return builder.enableHiveSupport().getOrCreate()


def run_validate(args: argparse.Namespace) -> int:
    from adplatform.quality.sources import load_batch, load_references
    from adplatform.quality.validation import DataQualityError, validate

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = settings_module.load()
    days = (args.first_day or args.ds, args.ds)
    run_id = args.run_id or manual_run_id()
    spark = _spark(settings)
    batch = load_batch(spark, settings, args.table, args.ds, days)
    references = load_references(spark, settings, args.table, args.ds, days)
    with BatchRun(args.job or f"dq_{args.table}", args.table, run_id, settings=settings) as run:
        try:
            validate(
                batch,
                args.table,
                run=run,
                ds=args.ds,
                references=references,
                days=days,
                settings=settings,
            )
        except DataQualityError as exc:
            print(exc, file=sys.stderr)
            # Leaving the block with a non-zero exit pushes the run as failed.
            raise SystemExit(1) from None
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point for spark-submit: the same arguments as `adplatform quality`."""
    parser = argparse.ArgumentParser(prog="adplatform quality")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["quality", *(argv if argv is not None else sys.argv[1:])])
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
