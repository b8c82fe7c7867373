"""What every job entry point shares: its arguments, its SparkSession, its secrets check.

Entry points stay thin: parse ``--ds``, ``--run-id`` and table names, build the session
from ``adplatform.spark_config`` (the same metastore and warehouse as every other Spark
application), read, call the transforms, write, reconcile. A user error (no pseudonym key,
missing jars) is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date

from pyspark.sql import SparkSession

from adplatform.errors import UserError
from adplatform.metrics import manual_run_id
from adplatform.quality.validation import import_gx_in_background
from adplatform.settings import Settings, SettingsError
from adplatform.spark_config import spark_conf
from spark_jobs.common.fence import CONSTRAINT_PROPAGATION


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--ds takes YYYY-MM-DD, not {text!r}") from None


def job_parser(job: str, description: str, tables: dict[str, str]) -> argparse.ArgumentParser:
    """``--ds``, ``--run-id`` and one ``--<name>-table`` option per table (with default)."""
    parser = argparse.ArgumentParser(prog=job, description=description)
    parser.add_argument("--ds", type=_day, required=True, help="the day to process, YYYY-MM-DD")
    parser.add_argument(
        "--run-id",
        default=None,
        help="Airflow run id, carried by metrics, quarantine and reconciliation rows "
        "(default: manual__<now>)",
    )
    for name, default in tables.items():
        parser.add_argument(
            f"--{name.replace('_', '-')}-table",
            dest=f"{name}_table",
            default=default,
            help=f"table of {name.replace('_', ' ')} (default {default})",
        )
    return parser


def parse_job_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    args = parser.parse_args(argv)
    args.run_id = args.run_id or manual_run_id()
    return args


def require_pseudonym_key(settings: Settings) -> str:
    """The HMAC key of semantic 8; a job that writes personal data refuses to run without."""
    if not settings.pseudonym_key:
        raise UserError(
            "ADPLATFORM_PSEUDONYM_KEY is empty: set it to the platform's secret key "
            "(`adplatform stack up` generates one into the state folder)"
        )
    return settings.pseudonym_key


def job_session(app_name: str, settings: Settings, *, audits: bool = True) -> SparkSession:
    """The platform's SparkSession (Hive metastore, UTC, dynamic partition overwrite).

    ``audits``: the job validates what it writes with a suite, so Great Expectations is
    imported while the session starts (``import_gx_in_background``).
    """
    if audits:
        import_gx_in_background()
    builder = SparkSession.builder.appName(app_name)
    for key, value in spark_conf(settings).items():
        builder = builder.config(key, value)
    builder = builder.config(CONSTRAINT_PROPAGATION, "false")
    spark = builder.enableHiveSupport().getOrCreate()
    spark.conf.set(CONSTRAINT_PROPAGATION, "false")
    return spark


def run_main(job: str, body: Callable[[], int]) -> int:
    """Run a job body; user errors become one line on stderr and exit code 2."""
    try:
        return body()
    except (UserError, SettingsError) as exc:
        print(f"{job}: {exc}", file=sys.stderr)
        return 2
