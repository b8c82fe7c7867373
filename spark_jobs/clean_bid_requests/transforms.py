"""Clean bid requests: landed ``bid_requests`` records -> ``adtech.bid_requests`` (one row per
offered imp).

Decoding is one thin step: the Confluent wire header (magic byte, 4-byte schema id) is split
off with binary functions, and the Avro body goes through spark-avro's ``from_avro`` with
the writer schema of its id, read into the newest schema (Avro resolution, so data written
with an older version still reads). Everything after works on the decoded ``request``
struct and is tested without the Avro jar. Checks and their order: docs/data-contracts.md
§3; dedup by request id (§4).
"""

from __future__ import annotations

import json
from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from adplatform import contracts
from adplatform.contracts import Reason, Rules
from adplatform.errors import UserError
from spark_jobs.common import event_time
from spark_jobs.common.countries import alpha2_from_alpha3_or_alpha2, country_code_form
from spark_jobs.common.dedup import IS_DUPLICATE, mark_duplicates
from spark_jobs.common.devices import device_type_from_openrtb
from spark_jobs.common.fence import fence
from spark_jobs.common.landing import kafka_origin
from spark_jobs.common.outcomes import CURATED, OUTCOME, QUARANTINED, outcome
from spark_jobs.common.pseudonymise import pseudonymise, truncate_ip
from spark_jobs.common.validation import Check, first_failure, first_missing

SOURCE = "bid_requests"
HEADER_BYTES = 5


def reader_schema_json() -> str:
    """The newest bid-request schema (what every record is read into), as JSON text."""
    return contracts.bid_request_schema_text()


def writer_schemas() -> dict[int, str]:
    """Schema id -> writer schema JSON for the registry-less ids ``-N`` (every version)."""
    return {
        contracts.local_schema_id(v): contracts.bid_request_schema_text(v)
        for v in contracts.BID_REQUEST_SCHEMA_FILES
    }


def request_type(spark: SparkSession) -> T.StructType:
    """Spark type of a decoded request (the reader schema), from Spark's own converter."""
    jvm = spark.sparkContext._jvm
    avro = jvm.org.apache.avro.Schema.Parser().parse(reader_schema_json())
    sql_type = jvm.org.apache.spark.sql.avro.SchemaConverters.toSqlType(avro).dataType()
    return T.StructType.fromJson(json.loads(sql_type.json()))


def split_wire_format(landed: DataFrame) -> DataFrame:
    """Adds ``schema_id`` (signed 32-bit), ``body`` (the Avro bytes) and ``header_reason``
    (bad_magic_byte or undecodable_avro when the header itself is wrong); same grain."""
    value = F.col("value")
    size = F.length(value)
    magic_ok = (size >= 1) & (F.substring(value, 1, 1) == F.lit(b"\x00"))
    unsigned = F.conv(F.hex(F.substring(value, 2, 4)), 16, 10).cast("bigint")
    signed = F.when(unsigned >= 2**31, unsigned - 2**32).otherwise(unsigned)
    header_reason = F.when(~magic_ok, F.lit(Reason.BAD_MAGIC_BYTE)).when(
        size < HEADER_BYTES, F.lit(Reason.UNDECODABLE_AVRO)
    )
    return landed.select(
        "*",
        F.when(header_reason.isNull(), signed.cast("int")).alias("schema_id"),
        F.when(header_reason.isNull(), F.expr(f"substring(value, {HEADER_BYTES + 1})")).alias(
            "body"
        ),
        header_reason.alias("header_reason"),
    )


def decode_avro(split: DataFrame, writers: dict[int, str]) -> DataFrame:
    """Adds ``request`` (the decoded struct, null when the id is unknown or the body does
    not decode) and ``known_schema``; same grain. Needs the spark-avro module."""
    try:
        from pyspark.sql.avro.functions import from_avro

        reader = reader_schema_json()
        decoded = F.lit(None)
        for schema_id, writer in sorted(writers.items()):
            options = {"mode": "PERMISSIVE", "avroSchema": reader}
            decoded = F.when(
                F.col("schema_id") == schema_id, from_avro(F.col("body"), writer, options)
            ).otherwise(decoded)
    except TypeError as exc:  # pyspark's sign that the JVM class is missing
        raise UserError(
            "spark-avro is not on the classpath: add the org.apache.spark:spark-avro_2.13 jar "
            "(`make setup` copies it to .jars/spark)"
        ) from exc
    known = F.col("schema_id").isin(*writers) if writers else F.lit(False)
    return split.select("*", decoded.alias("request"), known.alias("known_schema"))


def _field(struct: Column, path: list[str]) -> Column:
    for name in path:
        struct = struct.getField(name)
    return struct


def _outside(value: Column, low: float, high: float) -> Column:
    """Not finite or outside [low, high]; null when the value is null (an absent field)."""
    number = value.cast("double")
    finite = ~F.isnan(number) & (F.abs(number) != F.lit(float("inf")))
    return ~(finite & (number >= low) & (number <= high))


def _imp_outside(path: list[str], low: float, high: float):
    return lambda imp: _outside(_field(imp, path), low, high)


def _first_out_of_range(request: Column) -> Column:
    """Name of the first numeric field outside its range (contracts.BID_REQUEST_RANGES, then
    user.yob), else null."""
    failed = {}
    for name, (low, high) in contracts.BID_REQUEST_RANGES.items():
        first, *rest = name.split(".")
        if first == "imp":
            failed[name] = F.exists(request.getField("imp"), _imp_outside(rest, low, high))
        else:
            failed[name] = _outside(_field(request, name.split(".")), low, high)
    yob = _field(request, ["user", "yob"])
    failed["user.yob"] = (yob < contracts.MIN_YOB) | (yob > F.year(request.getField("event_ts")))
    return first_missing(list(failed), failed)


def parse_bid_requests(decoded: DataFrame, rules: Rules) -> DataFrame:
    """One row per landed record: ``reason``/``detail`` of the first failing check, the
    readable ``event_ts`` and the decoded ``request``."""
    request = F.col("request")
    # PERMISSIVE from_avro gives a struct of nulls for a body that does not decode; a
    # decoded record always has its (non-null in the schema) id and event_ts.
    decoded_ok = request.isNotNull() & request.getField("id").isNotNull()
    event_ts = F.when(decoded_ok, request.getField("event_ts"))
    imps = request.getField("imp")
    arrival_hour = event_time.arrival_hour(F.col("kafka_ts"))
    checks = [
        Check(F.col("header_reason").isNotNull(), Reason.BAD_MAGIC_BYTE, "wire-format header"),
        Check(
            ~F.col("known_schema"),
            Reason.UNKNOWN_SCHEMA_ID,
            F.concat(F.lit("schema id "), F.col("schema_id").cast("string")),
        ),
        Check(~decoded_ok, Reason.UNDECODABLE_AVRO, "Avro body does not decode"),
        Check(
            (request.getField("id") == "")
            | (F.size(imps) == 0)
            | F.exists(imps, lambda i: F.coalesce(i.getField("id"), F.lit("")) == ""),
            Reason.MISSING_FIELD,
            "empty id, no imp, or an imp without id",
        ),
        Check(
            F.col("_out_of_range").isNotNull(),
            Reason.IMPOSSIBLE_VALUE,
            F.concat(F.col("_out_of_range"), F.lit(" out of range")),
        ),
        Check(
            event_time.is_future(event_ts, arrival_hour, rules),
            Reason.IMPOSSIBLE_VALUE,
            "event_ts in the future",
        ),
    ]
    check = first_failure(checks)
    # The header check carries its own reason (bad magic byte or a header cut short).
    reason = F.coalesce(F.col("header_reason"), check.getField("reason"))
    # Computed once a record: the check and its detail share it.
    decoded = decoded.select("*", _first_out_of_range(request).alias("_out_of_range"))
    parsed = decoded.select(
        F.col("key").alias("raw_key"),
        F.col("value").alias("raw_payload"),
        kafka_origin().alias("origin"),
        "partition",
        "offset",
        F.col("kafka_ts").alias("arrival_ts"),
        arrival_hour.alias("arrival_hour"),
        event_ts.alias("event_ts"),
        reason.alias("reason"),
        check.getField("detail").alias("detail"),
        F.when(decoded_ok, request).alias("request"),
    )
    return fence(parsed)


def classify_bid_requests(parsed: DataFrame, ds: date, rules: Rules) -> DataFrame:
    """One row per record the run for ``ds`` owns, with its ``outcome``; the first arrival
    of a request id wins."""
    owner = event_time.owner_day(F.col("event_ts"), F.col("arrival_hour"), rules)
    reason = event_time.with_lateness(
        F.col("reason"), F.col("event_ts"), F.col("arrival_hour"), rules
    )
    late = F.col("reason").isNull() & reason.isNotNull()
    owned = parsed.select(
        *(c for c in parsed.columns if c not in ("reason", "detail")),
        reason.alias("reason"),
        F.when(late, F.lit("arrived after the grace period"))
        .otherwise(F.col("detail"))
        .alias("detail"),
        owner.alias("owner_dt"),
    ).where(F.col("owner_dt") == F.lit(ds))
    valid = F.col("reason").isNull()
    deduped = mark_duplicates(
        owned,
        keys=[valid, F.when(valid, F.col("request.id"))],
        order=[F.col("arrival_ts"), F.col("partition"), F.col("offset")],
    )
    return deduped.withColumn(OUTCOME, outcome(F.col("reason"), F.col(IS_DUPLICATE)))


def _micros(amount: Column) -> Column:
    return F.round(amount * F.lit(1_000_000)).cast("bigint")


def curated_bid_requests(classified: DataFrame, pseudonym_key: str) -> DataFrame:
    """One row per offered imp of each curated request, in the columns of
    ``adtech.bid_requests``."""
    r = F.col("request")
    requests = classified.where(F.col(OUTCOME) == CURATED).select(
        "*", F.posexplode(r.getField("imp")).alias("imp_index", "imp")
    )
    imp = F.col("imp")
    site, app, device, user = (r.getField(n) for n in ("site", "app", "device", "user"))
    geo = device.getField("geo")
    inventory = F.when(site.isNotNull(), F.lit("site")).when(app.isNotNull(), F.lit("app"))
    return requests.select(
        r.getField("id").alias("request_id"),
        imp.getField("id").alias("imp_id"),
        r.getField("event_ts").alias("event_ts"),
        _micros(imp.getField("bidfloor")).alias("bidfloor_cpm_micros"),
        imp.getField("bidfloorcur").alias("bidfloor_currency"),
        imp.getField("tagid").alias("tagid"),
        imp.getField("banner").getField("w").alias("banner_w"),
        imp.getField("banner").getField("h").alias("banner_h"),
        imp.getField("banner").getField("pos").alias("banner_pos"),
        inventory.alias("inventory_type"),
        site.getField("id").alias("site_id"),
        site.getField("domain").alias("site_domain"),
        app.getField("id").alias("app_id"),
        app.getField("bundle").alias("app_bundle"),
        F.coalesce(
            site.getField("publisher").getField("id"), app.getField("publisher").getField("id")
        ).alias("publisher_id"),
        device_type_from_openrtb(device.getField("devicetype")).alias("device_type"),
        device.getField("os").alias("device_os"),
        pseudonymise(device.getField("ifa"), pseudonym_key).alias("device_ifa"),
        truncate_ip(F.coalesce(device.getField("ip"), device.getField("ipv6"))).alias(
            "ip_truncated"
        ),
        alpha2_from_alpha3_or_alpha2(geo.getField("country")).alias("country"),
        geo.getField("region").alias("region"),
        geo.getField("city").alias("city"),
        pseudonymise(user.getField("id"), pseudonym_key).alias("user_id"),
        user.getField("yob").alias("user_yob"),
        user.getField("gender").alias("user_gender"),
        r.getField("regs").getField("gdpr").alias("gdpr"),
        r.getField("regs").getField("coppa").alias("coppa"),
        r.getField("tmax").alias("tmax_ms"),
        F.size(r.getField("imp")).alias("imp_count"),
        "arrival_ts",
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.to_date(r.getField("event_ts")).alias("dt"),
    )


def country_code_forms(classified: DataFrame) -> DataFrame:
    """One row per form of ``device.geo.country`` among the curated requests (``alpha3`` as
    OpenRTB says, ``alpha2`` normalised, ``unknown`` written as null) with its ``requests``."""
    form = country_code_form(F.col("request.device.geo.country"))
    return (
        classified.where((F.col(OUTCOME) == CURATED) & form.isNotNull())
        .groupBy(form.alias("form"))
        .agg(F.count(F.lit(1)).alias("requests"))
    )


def quarantined(classified: DataFrame) -> DataFrame:
    """The quarantined records of ``classified``."""
    return classified.where(F.col(OUTCOME) == QUARANTINED)
