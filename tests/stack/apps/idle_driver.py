"""Spark application for the loopback test: a batch driver that has run a job (so its block
manager and file server are in use), prints READY, and lives until its stdin closes."""

import sys

from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("test-idle-driver").getOrCreate()
total = spark.range(1000).repartition(2).selectExpr("sum(id)").first()[0]
print(f"READY sum={total}", flush=True)
sys.stdin.read()
spark.stop()
