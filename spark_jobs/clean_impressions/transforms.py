"""Clean impressions: landed ``ad_impressions`` records -> ``adtech.impressions`` rows.

The JSON is parsed into a VARIANT (``try_parse_json``), not with ``from_json`` and a typed
schema: the contract tells a JSON string from a number (``"2510"`` is a wrong type for
``win_price_micros``), and ``from_json`` turns any scalar into a string. The JSON type of
each field is read with ``schema_of_variant``; checks follow docs/data-contracts.md §3 in
order, the first failure is the quarantine reason.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from adplatform.contracts import (
    CURRENCY,
    FLUENTD_UNMATCHED_KEY,
    IMPRESSION_RANGES,
    Reason,
    Rules,
)
from spark_jobs.common import event_time
from spark_jobs.common.countries import normalise_alpha2
from spark_jobs.common.dedup import IS_DUPLICATE, mark_duplicates
from spark_jobs.common.devices import device_type_from_name
from spark_jobs.common.fence import fence
from spark_jobs.common.landing import kafka_origin
from spark_jobs.common.outcomes import CURATED, OUTCOME, QUARANTINED, outcome
from spark_jobs.common.pseudonymise import pseudonymise, truncate_ip
from spark_jobs.common.validation import Check, first_failure, first_missing

SOURCE = "impressions"
# The record parsed as the first element of ``[<text>,<sentinel>]``: see parse_impressions.
ROOT = "$[0]"
_SENTINEL = "\u0000end of the record\u0000"
_SENTINEL_TAIL = ',"\\u0000end of the record\\u0000"]'
_PRICE_LOW, _PRICE_HIGH = IMPRESSION_RANGES["win_price_micros"]
# A JSON integer literal as the price (a huge one reads as DECIMAL or DOUBLE).
_PRICE_INTEGER_LITERAL = r'"win_price_micros"[ \t\n\r]*:[ \t\n\r]*-?[0-9]+[ \t\n\r]*[,}]'
REQUIRED = (
    "impression_id",
    "request_id",
    "imp_id",
    "event_ts",
    "user_id",
    "campaign_id",
    "creative_id",
    "win_price_micros",
    "currency",
)
STRING_FIELDS = (*REQUIRED[:7], "currency")
OBJECT_FIELDS = ("site", "app", "device", "geo")
# Variant type names (schema_of_variant) of a JSON integer that fits a BIGINT.
_JSON_INTEGER = "BIGINT"


def _json_type(doc: Column, path: str) -> Column:
    """Variant type name at ``path``: STRING, BIGINT, OBJECT<...>, VOID (JSON null) or null
    when absent."""
    return F.schema_of_variant(F.try_variant_get(doc, path, "variant"))


def _string(doc: Column, path: str) -> Column:
    return F.try_variant_get(doc, path, "string")


def parse_impressions(landed: DataFrame, rules: Rules) -> DataFrame:
    """One row per landed record: validation ``reason``/``detail``, readable ``event_ts``
    and the impression's fields."""
    text = F.col("value").cast("string")
    utf8 = F.is_valid_utf8(text)
    # try_parse_json reads the first JSON value and ignores what follows, so `{...}{...}`
    # would read as its first object; the contract (like json.loads) rejects trailing data.
    # The text is parsed as the first element of an array whose second element is a
    # sentinel: the sentinel is read only when the text is one whole value.
    wrapped = F.when(utf8, F.try_parse_json(F.concat(F.lit("["), text, F.lit(_SENTINEL_TAIL))))
    is_object = (
        wrapped.isNotNull()
        & text.rlike(r"^[ \t\n\r]*\{")
        & F.try_variant_get(wrapped, "$[1]", "string").eqNullSafe(F.lit(_SENTINEL))
        & F.try_variant_get(wrapped, "$[2]", "variant").isNull()
        & F.try_variant_get(wrapped, f"{ROOT}.{FLUENTD_UNMATCHED_KEY}", "variant").isNull()
    )
    df = landed.select("*", utf8.alias("_utf8"), wrapped.alias("_doc"), is_object.alias("_object"))
    doc = F.col("_doc")
    types = {name: _json_type(doc, f"{ROOT}.{name}") for name in (*REQUIRED, *OBJECT_FIELDS, "ip")}
    df = df.select("*", *(t.alias(f"_t_{n}") for n, t in types.items()))

    def json_type(name: str) -> Column:
        return F.col(f"_t_{name}")

    # Every value the checks and the output share gets a column of its own, computed once:
    # the checks are conditional, so code generation shares no expression between them, and
    # event_ts (five regular expressions over the text read from the variant several times)
    # repeated in each check ran about 40 times a record.
    df = df.select(
        "*",
        *(_string(doc, f"{ROOT}.{name}").alias(f"_s_{name}") for name in STRING_FIELDS),
        F.try_variant_get(doc, f"{ROOT}.win_price_micros", "bigint").alias("_price"),
        F.when(
            F.col("_object") & (json_type("event_ts") == "STRING"), _string(doc, f"{ROOT}.event_ts")
        ).alias("_ts_text"),
    )

    def string(name: str) -> Column:
        return F.col(f"_s_{name}")

    def string_value(name: str) -> Column:
        return string(name) if name in STRING_FIELDS else _string(doc, f"{ROOT}.{name}")

    missing = {
        name: json_type(name).isNull()
        | (json_type(name) == "VOID")
        | ((json_type(name) == "STRING") & (string_value(name) == ""))
        for name in REQUIRED
    }
    wrong_string = {n: json_type(n) != "STRING" for n in STRING_FIELDS}
    wrong_object = {
        n: ~(json_type(n).startswith("OBJECT") | (json_type(n) == "VOID")) for n in OBJECT_FIELDS
    }
    df = df.select(
        "*",
        event_time.parse_event_ts(F.col("_ts_text")).alias("_event_ts"),
        # A JSON integer: a BIGINT, or one too large for it (out of range, not a wrong type).
        (
            (json_type("win_price_micros") == _JSON_INTEGER)
            | (
                json_type("win_price_micros").startswith("DECIMAL")
                | (json_type("win_price_micros") == "DOUBLE")
            )
            & text.rlike(_PRICE_INTEGER_LITERAL)
        ).alias("_price_integer"),
        first_missing(list(REQUIRED), missing).alias("_missing"),
        first_missing(list(STRING_FIELDS), wrong_string).alias("_wrong_string"),
        first_missing(list(OBJECT_FIELDS), wrong_object).alias("_wrong_object"),
    )
    event_ts = F.col("_event_ts")
    price = F.col("_price")
    currency = string("currency")
    arrival_hour = event_time.arrival_hour(F.col("kafka_ts"))
    first_missing_field = F.col("_missing")
    first_wrong_string = F.col("_wrong_string")
    first_wrong_object = F.col("_wrong_object")
    checks = [
        Check(~F.col("_utf8"), Reason.INVALID_UTF8, "value is not UTF-8"),
        Check(~F.col("_object"), Reason.MALFORMED_JSON, "not one JSON object"),
        Check(
            first_missing_field.isNotNull(),
            Reason.MISSING_FIELD,
            F.concat(F.lit("missing "), first_missing_field),
        ),
        Check(
            first_wrong_string.isNotNull(),
            Reason.WRONG_TYPE,
            F.concat(first_wrong_string, F.lit(" is not a string")),
        ),
        Check(
            ~F.col("_price_integer"),
            Reason.WRONG_TYPE,
            F.concat(F.lit("win_price_micros is "), json_type("win_price_micros")),
        ),
        Check(
            first_wrong_object.isNotNull(),
            Reason.WRONG_TYPE,
            F.concat(first_wrong_object, F.lit(" is not an object or null")),
        ),
        Check(
            json_type("ip").isNotNull() & ~json_type("ip").isin("STRING", "VOID"),
            Reason.WRONG_TYPE,
            "ip is not a string or null",
        ),
        Check(event_ts.isNull(), Reason.UNPARSABLE_TIMESTAMP, "event_ts breaks the grammar"),
        Check(
            price.isNull() | (price < _PRICE_LOW) | (price > _PRICE_HIGH),
            Reason.IMPOSSIBLE_VALUE,
            "win_price_micros out of range",
        ),
        Check(currency != CURRENCY, Reason.IMPOSSIBLE_VALUE, "currency is not USD"),
        Check(
            event_time.is_future(event_ts, arrival_hour, rules),
            Reason.IMPOSSIBLE_VALUE,
            "event_ts in the future",
        ),
    ]
    parsed = (
        df.select(
            F.col("key").alias("raw_key"),
            F.col("value").alias("raw_payload"),
            kafka_origin().alias("origin"),
            F.col("partition"),
            F.col("offset"),
            F.col("kafka_ts").alias("arrival_ts"),
            arrival_hour.alias("arrival_hour"),
            event_ts.alias("event_ts"),
            first_failure(checks).alias("_check"),
            string("impression_id").alias("impression_id"),
            string("request_id").alias("request_id"),
            string("imp_id").alias("imp_id"),
            string("user_id").alias("user_id"),
            string("campaign_id").alias("campaign_id"),
            string("creative_id").alias("creative_id"),
            json_type("site").startswith("OBJECT").alias("has_site"),
            json_type("app").startswith("OBJECT").alias("has_app"),
            _string(doc, f"{ROOT}.site.id").alias("site_id"),
            _string(doc, f"{ROOT}.site.domain").alias("site_domain"),
            _string(doc, f"{ROOT}.app.id").alias("app_id"),
            _string(doc, f"{ROOT}.app.bundle").alias("app_bundle"),
            F.coalesce(
                _string(doc, f"{ROOT}.site.publisher_id"), _string(doc, f"{ROOT}.app.publisher_id")
            ).alias("publisher_id"),
            _string(doc, f"{ROOT}.device.type").alias("device_type"),
            _string(doc, f"{ROOT}.device.os").alias("device_os"),
            _string(doc, f"{ROOT}.device.ifa").alias("device_ifa"),
            _string(doc, f"{ROOT}.geo.country").alias("country"),
            _string(doc, f"{ROOT}.geo.region").alias("region"),
            _string(doc, f"{ROOT}.geo.city").alias("city"),
            _string(doc, f"{ROOT}.ip").alias("ip"),
            price.alias("win_price_micros"),
            currency.alias("currency"),
        )
        .select("*", F.col("_check.reason").alias("reason"), F.col("_check.detail").alias("detail"))
        .drop("_check")
    )
    return fence(parsed)


def classify_impressions(parsed: DataFrame, ds: date, rules: Rules) -> DataFrame:
    """One row per record the run for ``ds`` owns, with its ``outcome``; lateness decided
    before dedup, the first arrival (Kafka timestamp, partition, offset) of an id wins."""
    owner = event_time.owner_day(F.col("event_ts"), F.col("arrival_hour"), rules)
    reason = event_time.with_lateness(
        F.col("reason"), F.col("event_ts"), F.col("arrival_hour"), rules
    )
    late_detail = F.when(
        F.col("reason").isNull() & reason.isNotNull(), F.lit("arrived after the grace period")
    )
    owned = parsed.select(
        "*", owner.alias("owner_dt"), reason.alias("_reason"), late_detail.alias("_late")
    ).where(F.col("owner_dt") == F.lit(ds))
    owned = owned.withColumn("detail", F.coalesce(F.col("_late"), F.col("detail")))
    owned = owned.withColumn("reason", F.col("_reason")).drop("_reason", "_late")
    valid = F.col("reason").isNull()
    deduped = mark_duplicates(
        owned,
        keys=[valid, F.when(valid, F.col("impression_id"))],
        order=[F.col("arrival_ts"), F.col("partition"), F.col("offset")],
    )
    return deduped.withColumn(OUTCOME, outcome(F.col("reason"), F.col(IS_DUPLICATE)))


def curated_impressions(classified: DataFrame, pseudonym_key: str) -> DataFrame:
    """One row per curated impression, in the columns of ``adtech.impressions``."""
    inventory = F.when(F.col("has_site"), F.lit("site")).when(F.col("has_app"), F.lit("app"))
    return classified.where(F.col(OUTCOME) == CURATED).select(
        "impression_id",
        "request_id",
        "imp_id",
        "event_ts",
        pseudonymise(F.col("user_id"), pseudonym_key).alias("user_id"),
        "campaign_id",
        "creative_id",
        inventory.alias("inventory_type"),
        "site_id",
        "site_domain",
        "app_id",
        "app_bundle",
        "publisher_id",
        device_type_from_name(F.col("device_type")).alias("device_type"),
        "device_os",
        pseudonymise(F.col("device_ifa"), pseudonym_key).alias("device_ifa"),
        normalise_alpha2(F.col("country")).alias("country"),
        "region",
        "city",
        truncate_ip(F.col("ip")).alias("ip_truncated"),
        "win_price_micros",
        "currency",
        "arrival_ts",
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.to_date("event_ts").alias("dt"),
    )


def quarantined(classified: DataFrame) -> DataFrame:
    """The quarantined records of ``classified`` (its grain, outcome = quarantined)."""
    return classified.where(F.col(OUTCOME) == QUARANTINED)
