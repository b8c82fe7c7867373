"""Paths of the data lake, built from ``Settings.lake`` so that no job repeats a folder name.

Zones under the lake root (HDFS by default, ``file://`` when ``ADPLATFORM_LAKE_URI`` says so):

* ``landing/`` is the raw zone: Kafka records as Parquet and tracking CSV files exactly as
  they arrived, partitioned by arrival date and hour
  (``landing/<source>/arrival_date=YYYY-MM-DD/arrival_hour=HH/``), with a done marker per
  closed hour;
* ``inbox/`` is where the click-tracking system drops its hourly CSV files before intake;
* ``quarantine/`` keeps whole raw files that could not be read at all (a truncated CSV);
  bad records inside readable files go to the ``adtech.quarantine`` table instead;
* ``warehouse/`` holds the Hive database ``adtech`` (one folder per table; each partition's
  rows in a ``_v=<version>`` folder that the metastore points at, spark_jobs/common/tables.py);
* ``checkpoints/`` holds Structured Streaming checkpoints, one folder per query.
"""

from __future__ import annotations

from datetime import date

from adplatform.settings import Settings

# The folder of one written version of a table partition: ``<partition>/_v=<version>``.
PARTITION_VERSION_PREFIX = "_v="

DATABASE = "adtech"
# Source folder of the tracking CSV files under landing/ (the Kafka sources use the topic).
TRACKING_SOURCE = "tracking"
# Written into an arrival hour's folder once that hour is closed (semantic 6). A leading
# underscore keeps Spark's file listing from reading it as data.
DONE_MARKER = "_DONE"


def landing_root(settings: Settings) -> str:
    return f"{settings.lake}/landing"


def landing_path(
    settings: Settings, source: str, day: date | None = None, hour: int | None = None
) -> str:
    """Folder of one landed source (a Kafka topic or ``tracking``), day or hour."""
    path = f"{landing_root(settings)}/{source}"
    if day is not None:
        path += f"/arrival_date={day.isoformat()}"
        if hour is not None:
            path += f"/arrival_hour={hour:02d}"
    elif hour is not None:
        raise ValueError("an arrival hour needs its arrival date")
    return path


def done_marker_path(settings: Settings, source: str, day: date, hour: int) -> str:
    """Marker file that says an arrival hour of a source is complete."""
    return f"{landing_path(settings, source, day, hour)}/{DONE_MARKER}"


def inbox_path(settings: Settings) -> str:
    """Where the click-tracking system drops its hourly CSV files."""
    return f"{settings.lake}/inbox/{TRACKING_SOURCE}"


def quarantine_path(settings: Settings, source: str, day: date | None = None) -> str:
    """Folder for whole raw files set aside as unreadable, by source and arrival date."""
    path = f"{settings.lake}/quarantine/{source}"
    return path if day is None else f"{path}/arrival_date={day.isoformat()}"


def warehouse_path(settings: Settings) -> str:
    return settings.warehouse_uri


def database_path(settings: Settings) -> str:
    """Location of the Hive database ``adtech``; every table is a folder inside it."""
    return f"{warehouse_path(settings)}/{DATABASE}.db"


def table_path(settings: Settings, table: str) -> str:
    return f"{database_path(settings)}/{table}"


def checkpoint_path(settings: Settings, query: str) -> str:
    """Checkpoint folder of one Structured Streaming query (landing, stream monitor)."""
    return f"{settings.lake}/checkpoints/{query}"


def dims_path(settings: Settings, name: str) -> str:
    """A dimension file as delivered (``campaigns`` or ``users``, CSV with a header)."""
    return f"{settings.lake}/dims/{name}.csv"
