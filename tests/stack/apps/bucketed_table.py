"""Spark application for the metastore test: a table partitioned by two columns and
bucketed by a third, written while the Thrift Server runs in another process."""

import sys

from pyspark.sql import SparkSession

table = sys.argv[1]
spark = SparkSession.builder.appName("test-bucketed-table").getOrCreate()
spark.sql(f"CREATE DATABASE IF NOT EXISTS {table.split('.')[0]}")
spark.sql(f"DROP TABLE IF EXISTS {table}")
spark.sql(
    f"""CREATE TABLE {table} (user_id STRING, clicks INT, dt STRING, campaign_id STRING)
    USING parquet PARTITIONED BY (dt, campaign_id) CLUSTERED BY (user_id) INTO 4 BUCKETS"""
)
rows = [
    ("u1", 1, "2026-01-01", "c1"),
    ("u2", 2, "2026-01-01", "c2"),
    ("u3", 3, "2026-01-02", "c1"),
]
spark.createDataFrame(
    rows, "user_id string, clicks int, dt string, campaign_id string"
).write.insertInto(table)
spark.stop()
