"""The raw zone as the batch jobs read it (layout in ``adplatform.lake``).

Kafka topics are landed as Parquet with one row per Kafka record: ``key`` and ``value``
(binary, exactly as on the topic), ``topic``, ``partition``, ``offset`` and ``kafka_ts``
(the record timestamp = the simulated or real arrival time), under
``landing/<topic>/arrival_date=YYYY-MM-DD/arrival_hour=HH/``. Tracking CSV files are landed
unchanged under ``landing/tracking/arrival_date=.../arrival_hour=.../tracking_*.csv``.

The readers take the arrival hours a daily run needs (``event_time.arrival_hours``) and
read those of them that exist; a missing hour is simply empty (the DAG waits for the done
markers before it starts the job).
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from adplatform import lake
from adplatform.settings import Settings

KAFKA_SCHEMA = T.StructType(
    [
        T.StructField("key", T.BinaryType()),
        T.StructField("value", T.BinaryType()),
        T.StructField("topic", T.StringType()),
        T.StructField("partition", T.IntegerType()),
        T.StructField("offset", T.LongType()),
        T.StructField("kafka_ts", T.TimestampType()),
    ]
)
KAFKA_COLUMNS = tuple(f.name for f in KAFKA_SCHEMA.fields)

# Tracking files as read: one row per file, its bytes and its name.
TRACKING_FILES_SCHEMA = T.StructType(
    [
        T.StructField("file_name", T.StringType()),
        T.StructField("content", T.BinaryType()),
    ]
)


def kafka_origin() -> Column:
    """Where a landed Kafka record came from: ``topic/partition/offset``."""
    return F.concat_ws("/", F.col("topic"), F.col("partition"), F.col("offset"))


def _existing(spark: SparkSession, paths: list[str]) -> list[str]:
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    found = []
    for path in paths:
        hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
        if hadoop_path.getFileSystem(conf).exists(hadoop_path):
            found.append(path)
    return found


def _hour_paths(settings: Settings, source: str, hours: list[datetime]) -> list[str]:
    return [lake.landing_path(settings, source, h.date(), h.hour) for h in hours]


def read_kafka_landing(
    spark: SparkSession, settings: Settings, topic: str, hours: list[datetime]
) -> DataFrame:
    """The landed records of a topic in those arrival hours (columns ``KAFKA_COLUMNS``)."""
    paths = _existing(spark, _hour_paths(settings, topic, hours))
    if not paths:
        return spark.createDataFrame([], KAFKA_SCHEMA)
    landed = spark.read.schema(KAFKA_SCHEMA).parquet(*paths)
    return landed.select(*KAFKA_COLUMNS)


def read_tracking_landing(
    spark: SparkSession, settings: Settings, hours: list[datetime]
) -> DataFrame:
    """The landed tracking CSV files of those arrival hours, one row per file."""
    paths = _existing(spark, _hour_paths(settings, lake.TRACKING_SOURCE, hours))
    if not paths:
        return spark.createDataFrame([], TRACKING_FILES_SCHEMA)
    files = spark.read.format("binaryFile").option("pathGlobFilter", "tracking_*.csv").load(paths)
    return files.select(F.col("_metadata.file_name").alias("file_name"), F.col("content"))
