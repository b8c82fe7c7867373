"""The stream monitor's transforms: Kafka records -> per-topic numbers of one micro-batch.

Every function is a pure ``DataFrame -> DataFrame`` step; ``job.py`` reads Kafka, calls them
inside ``foreachBatch`` and turns their (tiny) results into Prometheus metrics.

A record is classified by the same rules as the batch pipeline (docs/data-contracts.md §3):

* **parse error**: the payload can not be decoded (``PARSE_ERROR_REASONS``: not UTF-8,
  malformed JSON or a Fluentd ``unmatched_line``, bad magic byte, unknown schema id,
  undecodable Avro);
* **schema violation**: it decodes but breaks a rule (missing field, wrong type, unparsable
  timestamp, impossible value such as a negative price or an event in the future);
* **valid** otherwise. Lateness (``too_late``) is not a property of a record in flight: it
  depends on the daily run that owns it, so the monitor measures the event-time lag instead.

Impressions are checked by the clean job's own parser (``parse_impressions``), so the
monitor and the quarantine can never disagree. Bid requests are decoded by the contract's
codec in a vectorised Arrow map (``mapInArrow``): Spark 4.2's ``from_avro`` lives in the
``spark-avro`` module, which Maven Central does not carry for 4.2.0, and the codec also
applies the contract's rules that ``from_avro`` would not (bytes left after the record,
schema ids ``-N`` of the registry-less framing). Everything else is built-in SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from adplatform.contracts import TOPIC_AD_IMPRESSIONS, TOPIC_BID_REQUESTS, Reason, Rules
from spark_jobs.clean_impressions.transforms import parse_impressions
from spark_jobs.common import event_time

TOPICS = (TOPIC_BID_REQUESTS, TOPIC_AD_IMPRESSIONS)

PARSE_ERROR_REASONS = (
    Reason.INVALID_UTF8,
    Reason.MALFORMED_JSON,
    Reason.BAD_MAGIC_BYTE,
    Reason.UNKNOWN_SCHEMA_ID,
    Reason.UNDECODABLE_AVRO,
)
VALID = "valid"
PARSE_ERROR = "parse_error"
SCHEMA_VIOLATION = "schema_violation"

# What the Kafka source gives, as the monitor reads it.
RECORD_SCHEMA = T.StructType(
    [
        T.StructField("topic", T.StringType()),
        T.StructField("partition", T.IntegerType()),
        T.StructField("offset", T.LongType()),
        T.StructField("kafka_ts", T.TimestampType()),
        T.StructField("key", T.BinaryType()),
        T.StructField("value", T.BinaryType()),
    ]
)
RECORD_COLUMNS = tuple(f.name for f in RECORD_SCHEMA.fields)

CLASSIFIED_SCHEMA = T.StructType(
    [
        T.StructField("topic", T.StringType()),
        T.StructField("partition", T.IntegerType()),
        T.StructField("offset", T.LongType()),
        T.StructField("kafka_ts", T.TimestampType()),
        T.StructField("bytes", T.LongType()),
        T.StructField("reason", T.StringType()),
        T.StructField("event_id", T.StringType()),
        T.StructField("event_ts", T.TimestampType()),
    ]
)
SEEN_SCHEMA = T.StructType(
    [
        T.StructField("topic", T.StringType()),
        T.StructField("event_id", T.StringType()),
        T.StructField("first_seen_ts", T.TimestampType()),
    ]
)


def kafka_records(kafka: DataFrame) -> DataFrame:
    """One row per Kafka record, in ``RECORD_COLUMNS`` (the source's ``timestamp`` renamed)."""
    return kafka.select(
        "topic", "partition", "offset", F.col("timestamp").alias("kafka_ts"), "key", "value"
    )


def outcome(reason: Column) -> Column:
    """``valid``, ``parse_error`` or ``schema_violation`` for a quarantine reason (or null)."""
    return (
        F.when(reason.isNull(), F.lit(VALID))
        .when(reason.isin(*PARSE_ERROR_REASONS), F.lit(PARSE_ERROR))
        .otherwise(F.lit(SCHEMA_VIOLATION))
    )


def classify_impressions(records: DataFrame, rules: Rules) -> DataFrame:
    """One row per ``ad_impressions`` record: its size, reason (null = valid), id, event time."""
    parsed = parse_impressions(
        records.where(F.col("topic") == TOPIC_AD_IMPRESSIONS).select(*RECORD_COLUMNS), rules
    )
    return parsed.select(
        F.lit(TOPIC_AD_IMPRESSIONS).alias("topic"),
        "partition",
        "offset",
        F.col("arrival_ts").alias("kafka_ts"),
        F.coalesce(F.length("raw_payload").cast("long"), F.lit(0).cast("long")).alias("bytes"),
        "reason",
        F.col("impression_id").alias("event_id"),
        "event_ts",
    )


def _bid_request_decoder(registry_url: str):
    """The Arrow map that decodes bid requests with the contract's codec, on the executors."""

    def decode(batches: Iterator) -> Iterator:
        import pyarrow as pa

        from adplatform import contracts

        registry = contracts.SchemaRegistryClient(registry_url) if registry_url else None
        codec = contracts.BidRequestCodec(registry)
        for batch in batches:
            reasons: list[str | None] = []
            ids: list[str | None] = []
            times: list[datetime | None] = []
            sizes: list[int] = []
            for value in batch.column("value").to_pylist():
                sizes.append(len(value) if value is not None else 0)
                try:
                    request = codec.decode(value or b"")
                except contracts.DecodeError as exc:
                    reasons.append(exc.reason)
                    ids.append(None)
                    times.append(None)
                    continue
                imps = request["imp"]
                if not request["id"] or not imps or any(not imp["id"] for imp in imps):
                    reasons.append(Reason.MISSING_FIELD)
                elif any(imp["bidfloor"] < 0 for imp in imps):
                    reasons.append(Reason.IMPOSSIBLE_VALUE)
                else:
                    reasons.append(None)
                ids.append(request["id"] or None)
                times.append(request["event_ts"])
            yield pa.RecordBatch.from_arrays(
                [
                    batch.column("topic"),
                    batch.column("partition"),
                    batch.column("offset"),
                    batch.column("kafka_ts"),
                    pa.array(sizes, pa.int64()),
                    pa.array(reasons, pa.string()),
                    pa.array(ids, pa.string()),
                    pa.array(times, pa.timestamp("us", tz="UTC")),
                ],
                names=CLASSIFIED_SCHEMA.fieldNames(),
            )

    return decode


def classify_bid_requests(records: DataFrame, rules: Rules, registry_url: str = "") -> DataFrame:
    """One row per ``bid_requests`` record: its size, reason (null = valid), id, event time.

    ``registry_url``: the Schema Registry that resolves positive schema ids (empty: only the
    registry-less ids ``-N`` are known, as in the embedded stack).
    """
    decoded = (
        records.where(F.col("topic") == TOPIC_BID_REQUESTS)
        .select("topic", "partition", "offset", "kafka_ts", "value")
        .mapInArrow(_bid_request_decoder(registry_url), CLASSIFIED_SCHEMA)
    )
    future = event_time.is_future(
        F.col("event_ts"), event_time.arrival_hour(F.col("kafka_ts")), rules
    )
    reason = F.when(F.col("reason").isNull() & future, F.lit(Reason.IMPOSSIBLE_VALUE)).otherwise(
        F.col("reason")
    )
    return decoded.select(
        "topic",
        "partition",
        "offset",
        "kafka_ts",
        "bytes",
        reason.alias("reason"),
        "event_id",
        "event_ts",
    )


def classify_records(records: DataFrame, rules: Rules, registry_url: str = "") -> DataFrame:
    """One row per Kafka record of either topic (``CLASSIFIED_SCHEMA`` plus ``outcome``)."""
    both = classify_bid_requests(records, rules, registry_url).unionByName(
        classify_impressions(records, rules)
    )
    return both.select(*CLASSIFIED_SCHEMA.fieldNames(), outcome(F.col("reason")).alias("outcome"))


def topic_totals(classified: DataFrame) -> DataFrame:
    """One row per topic present: records, bytes, parse errors and schema violations."""
    return classified.groupBy("topic").agg(
        F.count(F.lit(1)).alias("records"),
        F.sum("bytes").alias("bytes"),
        F.count_if(F.col("outcome") == PARSE_ERROR).alias("parse_errors"),
        F.count_if(F.col("outcome") == SCHEMA_VIOLATION).alias("schema_violations"),
    )


def event_lags(classified: DataFrame, now: datetime) -> DataFrame:
    """One row per valid record: its topic and ``lag_s``, seconds from event time to ``now``.

    Only valid records count: a record with an impossible event time (days in the future) or
    one whose time can not be read says nothing about how late the stream is.
    """
    lag = F.unix_micros(F.lit(now).cast("timestamp")) - F.unix_micros(F.col("event_ts"))
    return classified.where((F.col("outcome") == VALID) & F.col("event_ts").isNotNull()).select(
        "topic", (lag / 1e6).alias("lag_s")
    )


def lag_summary(lags: DataFrame, accuracy: int = 10_000) -> DataFrame:
    """One row per topic: mean and 0.5/0.95/0.99 quantiles of ``lag_s`` and the sample count.

    ``percentile_approx`` with ``accuracy`` 10 000 is within 0.01 % of the rank.
    """
    quantiles = F.percentile_approx("lag_s", [0.5, 0.95, 0.99], accuracy)
    return (
        lags.groupBy("topic")
        .agg(
            F.avg("lag_s").alias("lag_mean_s"),
            quantiles.alias("_q"),
            F.count(F.lit(1)).alias("samples"),
        )
        .select(
            "topic",
            "lag_mean_s",
            F.col("_q")[0].alias("lag_p50_s"),
            F.col("_q")[1].alias("lag_p95_s"),
            F.col("_q")[2].alias("lag_p99_s"),
            "samples",
        )
    )


DEDUP_SCHEMA = T.StructType(
    [
        T.StructField("topic", T.StringType()),
        T.StructField("event_id", T.StringType()),
        T.StructField("first_seen_ts", T.TimestampType()),
        T.StructField("duplicates", T.LongType()),
    ]
)


def dedup_ids(
    classified: DataFrame, seen: DataFrame, now: datetime, window: timedelta
) -> DataFrame:
    """One row per (topic, event_id) first seen within ``window`` before ``now``, this batch
    included: when it was first seen and how many of this batch's valid records repeat it.

    ``seen`` (``SEEN_SCHEMA``) holds the ids of earlier batches and when each was first seen.
    A valid record repeats an id seen before, in an earlier batch or earlier in this one.
    """
    now_ts = F.lit(now).cast("timestamp")
    live = seen.where(F.col("first_seen_ts") > F.lit(now - window).cast("timestamp"))
    batch = (
        classified.where((F.col("outcome") == VALID) & F.col("event_id").isNotNull())
        .groupBy("topic", "event_id")
        .agg(F.count(F.lit(1)).alias("occurrences"))
    )
    joined = live.select("topic", "event_id", "first_seen_ts").join(
        batch, ["topic", "event_id"], "full_outer"
    )
    occurrences = F.coalesce(F.col("occurrences"), F.lit(0))
    repeats = F.when(F.col("first_seen_ts").isNotNull(), occurrences).otherwise(occurrences - 1)
    return joined.select(
        "topic",
        "event_id",
        F.coalesce(F.col("first_seen_ts"), now_ts).alias("first_seen_ts"),
        repeats.cast("long").alias("duplicates"),
    )


def duplicate_counts(ids: DataFrame) -> DataFrame:
    """One row per topic of ``dedup_ids``: the ``duplicates`` of this batch."""
    return ids.groupBy("topic").agg(F.sum("duplicates").cast("long").alias("duplicates"))


def next_seen(ids: DataFrame) -> DataFrame:
    """The dedup state after this batch (``SEEN_SCHEMA``), from ``dedup_ids``."""
    return ids.select(*SEEN_SCHEMA.fieldNames())
