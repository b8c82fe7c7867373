"""Spark application of the report tests: create the adtech tables from hive/ and load
hand-made rows into them.

Usage: load_tables.py <folder>, where the folder holds one ``<table>.jsonl`` file per
table to load. Each file is read with the schema of its table (a field left out is NULL)
and replaces the partitions it has rows for (dynamic partition overwrite), or the whole
table when the table is not partitioned.
"""

import sys
from pathlib import Path

from pyspark.sql import SparkSession

from adplatform import settings as settings_module
from adplatform.hive_ddl import apply_ddl

folder = Path(sys.argv[1])
spark = SparkSession.builder.appName("test-load-adtech-tables").enableHiveSupport().getOrCreate()
apply_ddl(spark, settings_module.load())
for path in sorted(folder.glob("*.jsonl")):
    table = f"adtech.{path.stem}"
    schema = spark.table(table).schema
    rows = spark.read.schema(schema).json(path.resolve().as_uri())
    rows.write.insertInto(table, overwrite=True)
    print(f"loaded {table}", flush=True)
spark.stop()
