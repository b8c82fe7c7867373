"""The DDL of hive/ applies twice without change, documents every column, and buckets
ad_funnel and dim_user so that their join on user_id needs no shuffle."""

from __future__ import annotations

import re

from adplatform.hive_ddl import apply_ddl, ddl_files, statements, table_name

TABLES = {
    "ad_funnel",
    "bid_requests",
    "campaign_daily",
    "clicks",
    "conversions",
    "dim_campaign",
    "dim_user",
    "impressions",
    "quarantine",
    "reconciliation",
}


def test_every_table_has_a_file_and_a_header_comment():
    files = ddl_files()
    assert {table_name(p) for p in files[1:]} == TABLES
    for path in files:
        assert path.read_text().startswith("-- "), f"{path.name} has no header comment"
        assert len(statements(path.read_text())) == 1


def test_every_column_has_a_comment():
    for path in ddl_files()[1:]:
        body = statements(path.read_text())[0]
        columns = body[body.index("(") + 1 : body.index("\n)")].strip().splitlines()
        for line in columns:
            assert re.search(r"\sCOMMENT\s'[^']+'", line), f"{path.name}: {line.strip()}"


def _schemas(spark) -> dict:
    """Schemas of the tables of adtech; the session's temporary views (other tests') aside."""
    tables = spark.catalog.listTables("adtech")
    return {t.name: spark.table(f"adtech.{t.name}").schema for t in tables if not t.isTemporary}


def test_apply_is_idempotent(spark, adtech, lake_settings):
    assert sorted(adtech) == sorted(f"adtech.{t}" for t in TABLES)
    before = _schemas(spark)
    apply_ddl(spark, lake_settings)
    after = _schemas(spark)
    assert before == after
    assert set(after) == TABLES


def _table_info(spark, table: str) -> dict[str, str]:
    rows = spark.sql(f"DESCRIBE FORMATTED adtech.{table}").collect()
    return {r.col_name: r.data_type for r in rows}


def test_ad_funnel_is_partitioned_and_bucketed(spark, adtech):
    info = _table_info(spark, "ad_funnel")
    assert info["Provider"] == "parquet"
    assert info["Num Buckets"] == "8"
    assert info["Bucket Columns"] == "[`user_id`]"
    partition_columns = [
        c.name for c in spark.catalog.listColumns("adtech.ad_funnel") if c.isPartition
    ]
    assert partition_columns == ["dt", "campaign_id"]
    assert _table_info(spark, "dim_user")["Num Buckets"] == "8"
