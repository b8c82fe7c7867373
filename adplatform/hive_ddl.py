"""Apply the Hive DDL of ``hive/`` (the source of truth) through a SparkSession.

``apply_ddl(spark, settings)`` runs ``hive/create_database_adtech.sql`` and then every
``hive/create_<table>.sql``. Every statement is ``CREATE ... IF NOT EXISTS``, so applying
it again changes nothing. The database folder is the only parameter of the DDL
(``${hivevar:adtech_location}``); it comes from the lake settings.

``adplatform hive init`` applies it against the shared metastore.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING

from adplatform import lake
from adplatform.settings import REPO_ROOT, Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

HIVE_DIR = REPO_ROOT / "hive"
DATABASE_FILE = "create_database_adtech.sql"
LOCATION_VARIABLE = "${hivevar:adtech_location}"


def ddl_files(hive_dir: Path = HIVE_DIR) -> list[Path]:
    """The database file first, then the table files by name."""
    tables = sorted(p for p in hive_dir.glob("create_*.sql") if p.name != DATABASE_FILE)
    return [hive_dir / DATABASE_FILE, *tables]


def statements(sql: str) -> list[str]:
    """The statements of a DDL file: ``--`` comment lines removed, split on a final ``;``."""
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*(?:\n|$)", body) if s.strip()]


def table_name(path: Path) -> str:
    return path.stem.removeprefix("create_")


def apply_ddl(spark: SparkSession, settings: Settings, hive_dir: Path = HIVE_DIR) -> list[str]:
    """Create the database and every table that does not exist yet; returns the tables."""
    location = lake.database_path(settings)
    for path in ddl_files(hive_dir):
        for statement in statements(path.read_text()):
            spark.sql(statement.replace(LOCATION_VARIABLE, location))
    return [f"{lake.DATABASE}.{table_name(p)}" for p in ddl_files(hive_dir)[1:]]


def apply_ddl_through_hiveserver2(settings: Settings, hive_dir: Path = HIVE_DIR) -> None:
    """The same DDL through the stack's HiveServer2 endpoint, without a Spark driver."""
    from adplatform.reports.runner import connect

    conn = connect(settings, {})
    try:
        cursor = conn.cursor()
        for path in ddl_files(hive_dir):
            for statement in statements(path.read_text()):
                cursor.execute(statement.replace(LOCATION_VARIABLE, lake.database_path(settings)))
    finally:
        conn.close()


def _init(args: argparse.Namespace) -> int:
    from pyspark.sql import SparkSession

    from adplatform import settings as settings_module
    from adplatform.spark_config import spark_conf

    settings = settings_module.load()
    builder = SparkSession.builder.appName("adplatform-hive-init")
    for key, value in spark_conf(settings).items():
        builder = builder.config(key, value)
    spark = builder.enableHiveSupport().getOrCreate()
    try:
        for table in apply_ddl(spark, settings):
            print(f"ok  {table}")
    finally:
        spark.stop()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """``adplatform hive init``."""
    hive = subparsers.add_parser("hive", help="Hive tables of the platform")
    commands = hive.add_subparsers(dest="hive_command", required=True)
    init = commands.add_parser(
        "init", help="create database adtech and its tables (idempotent) from hive/*.sql"
    )
    init.set_defaults(func=_init)
