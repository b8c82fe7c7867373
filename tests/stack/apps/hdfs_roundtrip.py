"""Spark application for the HDFS test: writes Parquet to the given URI and reads it back."""

import sys

from pyspark.sql import SparkSession

path, rows = sys.argv[1], int(sys.argv[2])
spark = SparkSession.builder.appName("test-hdfs-roundtrip").getOrCreate()
spark.range(rows).selectExpr("id", "id * 2 AS doubled").repartition(3).write.mode(
    "overwrite"
).parquet(path)
back = spark.read.parquet(path)
print(f"RESULT rows={back.count()} sum={back.agg({'doubled': 'sum'}).first()[0]}")
spark.stop()
