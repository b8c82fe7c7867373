"""Clean tracking: landed tracking CSV files -> ``adtech.clicks`` and ``adtech.conversions``.

Files are split into lines as bytes (``\\r\\n``, ``\\n`` or a bare ``\\r`` ends a line) and a
line into fields by RFC 4180 (a field may be quoted, ``""`` is a quote inside it), never
with Spark's CSV reader (whose PERMISSIVE mode silently drops the extra values of a row
with too many columns): a row must give exactly 8 fields or it is quarantined. Numbers and
timestamps are parsed with ``try_*`` functions, so a bad value becomes a reason, not a
crash. Then, per docs/data-contracts.md: lateness and the owner day (§2), dedup (§4),
clicks joined with their impression within the click window and conversions attributed
last click, else last view (§5).
"""

from __future__ import annotations

import math
from datetime import date, timedelta

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from adplatform.contracts import (
    CONVERSION_TYPES,
    TRACKING_CSV_COLUMNS,
    TRACKING_CSV_HEADERS,
    Reason,
    Rules,
)
from spark_jobs.common import event_time
from spark_jobs.common.dedup import IS_DUPLICATE, fingerprint, mark_duplicates
from spark_jobs.common.fence import fence
from spark_jobs.common.outcomes import CURATED, OUTCOME, QUARANTINED, outcome
from spark_jobs.common.pseudonymise import pseudonymise
from spark_jobs.common.text_lines import file_lines
from spark_jobs.common.validation import Check, first_failure, first_missing

SOURCE = "tracking"
CLICK = "click"
CONVERSION = "conversion"
# A second content under a name already landed lands beside the first as
# tracking_YYYYMMDD_HH-<sha256[:16]>.csv (adplatform/landing/tracking.py): same hour.
FILE_NAME_REGEX = r"^tracking_([0-9]{8})_([0-9]{2})(?:-[0-9a-f]{16})?\.csv$"
# \z, not $: Java's $ also matches before a final \u2028 or \u0085.
DECIMAL_GRAMMAR = r"^-?[0-9]+(\.[0-9]{1,6})?\z"
# What a number parser would read (a float literal, NaN, infinity): a conversion_value of
# that shape outside the decimal grammar is a number the contract can not hold exactly, an
# ``impossible_value``; anything else is ``unparsable_number`` (docs/data-contracts.md §3).
NUMBER_LIKE = (
    r"^[+-]?([nN][aA][nN]|[iI][nN][fF]([iI][nN][iI][tT][yY])?"
    r"|([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?)\z"
)
# \r\n, \n and a bare \r (contracts.TRACKING_CSV_LINE_END) as the spaced hex bytes
# text_lines.file_lines splits on; \r\n first, as one line end.
_LINE_END = "0D 0A |0A |0D "
# Splitting a quoted line: a quote-free separator that no field can contain, because every
# \u0001 of the line is first written as \u0001\u0002.
_ESC, _ESCAPED, _SEP = "\u0001", "\u0001\u0002", "\u0001\u0003"
REQUIRED = {
    CLICK: ("event_id", "event_ts", "user_id", "campaign_id", "impression_id"),
    CONVERSION: ("event_ts", "user_id", "campaign_id", "conversion_type", "conversion_value"),
}
_DAY = timedelta(days=1)


def _days_back(span: timedelta) -> int:
    return math.ceil(span / _DAY)


def csv_fields(text: Column) -> Column:
    """The fields of one CSV line by RFC 4180, or null when its quotes break the RFC (a
    quote inside an unquoted field, text after a closing quote, a quote never closed).

    A line with no quote is split on every comma. Otherwise it is split on its quotes:
    the even pieces lie outside quotes (their commas separate fields; an empty one between
    two quoted pieces is an escaped ``""``), the odd pieces are quoted text, kept whole.
    A line break inside quotes is not supported: records are lines, so both halves of such
    a record have an unclosed quote."""
    plain = F.split(text, ",", -1)
    pieces = F.split(F.replace(text, F.lit(_ESC), F.lit(_ESCAPED)), '"', -1)
    last = F.size(pieces) - 1

    def outside(i: Column) -> Column:
        return i % 2 == 0

    def well_formed(piece: Column, i: Column) -> Column:
        opens = (i == 0) | piece.startswith(",")
        closes = (i == last) | piece.endswith(",")
        return ~outside(i) | (piece == "") | (opens & closes)

    def unquoted(piece: Column, i: Column) -> Column:
        return (
            F.when(~outside(i), piece)
            .when((piece == "") & (i > 0) & (i < last), F.lit('"'))
            .otherwise(F.replace(piece, F.lit(","), F.lit(_SEP)))
        )

    ok = (F.size(pieces) % 2 == 1) & ~F.array_contains(F.transform(pieces, well_formed), False)
    joined = F.array_join(F.transform(pieces, unquoted), "")
    quoted = F.transform(
        F.split(joined, _SEP, -1), lambda f: F.replace(f, F.lit(_ESCAPED), F.lit(_ESC))
    )
    return F.when(~text.contains('"'), plain).when(ok, quoted)


def tracking_lines(files: DataFrame) -> DataFrame:
    """One row per record line of the landed files (header and blank lines are not
    records), with the file's arrival hour and the line's origin."""
    lines = file_lines(files, line_end=_LINE_END)
    stamp = F.regexp_extract("file_name", FILE_NAME_REGEX, 1)
    hour = F.regexp_extract("file_name", FILE_NAME_REGEX, 2)
    file_hour = F.try_to_timestamp(F.concat(stamp, hour), F.lit("yyyyMMddHH"))
    headers = [F.lit(h.encode()) for h in TRACKING_CSV_HEADERS]
    is_header = (F.col("line_number") == 1) & F.col("line").isin(*headers)
    return lines.where(~is_header & (F.length("line") > 0)).select(
        "file_name",
        "line_number",
        F.col("line").alias("raw_payload"),
        F.lit(None).cast("binary").alias("raw_key"),
        F.concat_ws(":", "file_name", F.col("line_number").cast("string")).alias("origin"),
        file_hour.alias("arrival_hour"),
        (file_hour + F.expr("INTERVAL 1 HOUR")).alias("arrival_ts"),
    )


def parse_tracking(lines: DataFrame, rules: Rules) -> DataFrame:
    """One row per record line: ``reason``/``detail`` of the first failing check, the
    readable ``event_ts``, the record ``kind`` and its fields."""
    text = F.col("raw_payload").cast("string")
    utf8 = F.is_valid_utf8(text)
    fields = F.when(utf8, csv_fields(text))
    df = lines.select("*", utf8.alias("_utf8"), fields.alias("_fields"))
    count_ok = F.coalesce(F.size("_fields") == len(TRACKING_CSV_COLUMNS), F.lit(False))

    def field(name: str) -> Column:
        value = F.try_element_at(F.col("_fields"), F.lit(TRACKING_CSV_COLUMNS.index(name) + 1))
        return F.when(count_ok & (value != ""), value)

    df = df.select(
        "*", count_ok.alias("_count_ok"), *(field(n).alias(n) for n in TRACKING_CSV_COLUMNS)
    )
    kind = F.col("record_type")
    ts_text = F.col("event_ts")
    event_ts = event_time.parse_event_ts(ts_text)
    df = df.withColumn("_event_ts", event_ts)
    value_micros = F.try_multiply(
        F.col("conversion_value").try_cast("decimal(38,6)"), F.lit(1_000_000)
    ).try_cast("bigint")
    df = df.withColumn("_value_micros", F.when(kind == CONVERSION, value_micros))
    missing = {
        k: first_missing(list(names), {n: F.col(n).isNull() for n in names})
        for k, names in REQUIRED.items()
    }
    first_missing_field = F.when(kind == CLICK, missing[CLICK]).when(
        kind == CONVERSION, missing[CONVERSION]
    )
    is_conversion = kind == CONVERSION
    value = F.col("conversion_value")
    checks = [
        Check(~F.col("_utf8"), Reason.INVALID_UTF8, "line is not UTF-8"),
        Check(
            F.col("_fields").isNull(),
            Reason.BAD_COLUMN_COUNT,
            "quotes break RFC 4180 (a quote in an unquoted field, text after a closing "
            "quote, or a quote never closed on its line)",
        ),
        Check(
            ~F.col("_count_ok"),
            Reason.BAD_COLUMN_COUNT,
            F.concat(F.size("_fields").cast("string"), F.lit(" fields, not 8")),
        ),
        Check(kind.isNull(), Reason.MISSING_FIELD, "missing record_type"),
        Check(
            ~kind.isin(CLICK, CONVERSION),
            Reason.UNKNOWN_RECORD_TYPE,
            F.concat(F.lit("record_type "), kind),
        ),
        Check(
            first_missing_field.isNotNull(),
            Reason.MISSING_FIELD,
            F.concat(F.lit("missing "), first_missing_field),
        ),
        Check(
            F.col("_event_ts").isNull(), Reason.UNPARSABLE_TIMESTAMP, "event_ts breaks the grammar"
        ),
        Check(
            is_conversion & ~value.rlike(DECIMAL_GRAMMAR) & ~value.rlike(NUMBER_LIKE),
            Reason.UNPARSABLE_NUMBER,
            F.concat(
                F.lit("conversion_value "), F.substring(value, 1, 40), F.lit(" is not a number")
            ),
        ),
        # NaN, infinity, 1e300, 1e5, 1.1234567: numbers, but none a decimal of micros.
        Check(
            is_conversion & ~value.rlike(DECIMAL_GRAMMAR),
            Reason.IMPOSSIBLE_VALUE,
            F.concat(
                F.lit("conversion_value "),
                F.substring(value, 1, 40),
                F.lit(" is not a finite decimal with at most 6 places"),
            ),
        ),
        # A value the grammar accepts but a BIGINT of micros can not hold (over 9.2e12 USD).
        Check(
            is_conversion & F.col("_value_micros").isNull(),
            Reason.IMPOSSIBLE_VALUE,
            F.concat(
                F.lit("conversion_value "),
                F.substring(value, 1, 40),
                F.lit(" out of range (at most 9223372036854.775807)"),
            ),
        ),
        Check(
            is_conversion & ~F.col("conversion_type").isin(*CONVERSION_TYPES),
            Reason.IMPOSSIBLE_VALUE,
            F.concat(F.lit("conversion_type "), F.col("conversion_type")),
        ),
        Check(
            is_conversion & (F.col("_value_micros") < 0),
            Reason.IMPOSSIBLE_VALUE,
            "negative conversion_value",
        ),
        Check(
            event_time.is_future(F.col("_event_ts"), F.col("arrival_hour"), rules),
            Reason.IMPOSSIBLE_VALUE,
            "event_ts in the future",
        ),
    ]
    parsed = df.select(
        "file_name",
        "line_number",
        "raw_payload",
        "raw_key",
        "origin",
        "arrival_hour",
        "arrival_ts",
        F.col("_event_ts").alias("event_ts"),
        first_failure(checks).alias("_check"),
        kind.alias("kind"),
        "event_id",
        "user_id",
        "campaign_id",
        "impression_id",
        "conversion_type",
        F.col("_value_micros").alias("value_micros"),
    )
    return fence(
        parsed.select(
            "*", F.col("_check.reason").alias("reason"), F.col("_check.detail").alias("detail")
        ).drop("_check")
    )


def classify_tracking(parsed: DataFrame, ds: date, rules: Rules, pseudonym_key: str) -> DataFrame:
    """One row per record line the run for ``ds`` owns, with its ``outcome`` before
    correlation; ``user_id`` pseudonymised and the dedup ``record_key`` set."""
    owner = event_time.owner_day(F.col("event_ts"), F.col("arrival_hour"), rules)
    reason = event_time.with_lateness(
        F.col("reason"), F.col("event_ts"), F.col("arrival_hour"), rules
    )
    late = F.col("reason").isNull() & reason.isNotNull()
    owned = parsed.select(
        "*", owner.alias("owner_dt"), reason.alias("_reason"), late.alias("_late")
    ).where(F.col("owner_dt") == F.lit(ds))
    user = pseudonymise(F.col("user_id"), pseudonym_key)
    owned = owned.select(
        *(c for c in owned.columns if c not in ("reason", "detail", "user_id", "_reason", "_late")),
        F.col("_reason").alias("reason"),
        F.when(F.col("_late"), F.lit("arrived after the grace period"))
        .otherwise(F.col("detail"))
        .alias("detail"),
        user.alias("user_id"),
    )
    # A conversion with an id and one without are never duplicates of each other.
    record_key = (
        F.when(F.col("kind") == CLICK, F.col("event_id"))
        .when(F.col("event_id").isNotNull(), F.col("event_id"))
        .otherwise(
            F.concat(
                F.lit("fp:"),
                fingerprint(
                    F.unix_micros("event_ts"),
                    F.col("user_id"),
                    F.col("campaign_id"),
                    F.col("conversion_type"),
                    F.col("value_micros"),
                ),
            )
        )
    )
    owned = owned.withColumn("record_key", record_key)
    valid = F.col("reason").isNull()
    deduped = mark_duplicates(
        owned,
        keys=[valid, F.when(valid, F.col("kind")), F.when(valid, F.col("record_key"))],
        order=[F.col("arrival_ts"), F.col("file_name"), F.col("line_number")],
    )
    return deduped.withColumn(OUTCOME, outcome(F.col("reason"), F.col(IS_DUPLICATE)))


def correlate_clicks(classified: DataFrame, impressions: DataFrame, rules: Rules) -> DataFrame:
    """Same grain as ``classified``: each candidate click is joined with its impression
    (same id, impression date from ``ceil(W)`` days before the click's date to that date,
    the earliest if several) and kept or quarantined (§5).

    ``impressions`` are curated impressions (``impression_id``, ``event_ts``, ``user_id``
    pseudonymised, ``campaign_id``, ``dt``) of at least those dates.
    """
    window_days = _days_back(rules.click_window)
    first = impressions.groupBy("impression_id", "dt").agg(
        F.min_by(
            F.struct(
                F.col("event_ts").alias("ts"),
                F.col("user_id").alias("user_id"),
                F.col("campaign_id").alias("campaign_id"),
            ),
            "event_ts",
        ).alias("imp")
    )
    candidate = (F.col(OUTCOME) == CURATED) & (F.col("kind") == CLICK)
    click_day = F.to_date("event_ts")
    joined = classified.alias("c").join(
        first.alias("i"),
        on=candidate
        & (F.col("c.impression_id") == F.col("i.impression_id"))
        & (F.col("i.dt") <= click_day)
        & (F.col("i.dt") >= F.date_sub(click_day, window_days)),
        how="left",
    )
    # Several matching impression dates: the earliest impression wins.
    ranked = joined.withColumn(
        "_rank",
        F.row_number().over(
            Window.partitionBy(F.col("c.file_name"), F.col("c.line_number")).orderBy(
                F.col("i.imp.ts").asc_nulls_last()
            )
        ),
    ).where(F.col("_rank") == 1)
    imp = F.col("i.imp")
    window_end = imp.getField("ts") + F.expr(
        f"INTERVAL {int(rules.click_window.total_seconds())} SECONDS"
    )
    click_ts = F.col("c.event_ts")
    reason = (
        F.when(~candidate, F.lit(None))
        .when(imp.isNull(), F.lit(Reason.ORPHAN_CLICK))
        .when(click_ts < imp.getField("ts"), F.lit(Reason.CLICK_BEFORE_IMPRESSION))
        .when(click_ts > window_end, F.lit(Reason.CLICK_OUTSIDE_WINDOW))
        .when(
            (F.col("c.user_id") != imp.getField("user_id"))
            | (F.col("c.campaign_id") != imp.getField("campaign_id")),
            F.lit(Reason.CLICK_IMPRESSION_MISMATCH),
        )
    )
    detail = F.when(reason.isNotNull(), F.concat(F.lit("impression "), F.col("c.impression_id")))
    result = ranked.select(
        *(F.col(f"c.{c}") for c in classified.columns if c not in ("reason", "detail", OUTCOME)),
        F.coalesce(F.col("c.reason"), reason).alias("reason"),
        F.coalesce(F.col("c.detail"), detail).alias("detail"),
        F.when(candidate, imp.getField("ts")).alias("impression_ts"),
    )
    return result.withColumn(OUTCOME, outcome(F.col("reason"), F.col(IS_DUPLICATE)))


def _last_touch(
    conversions: DataFrame, touches: DataFrame, lookback: timedelta, prefix: str
) -> DataFrame:
    """Per conversion (``file_name``, ``line_number``): the touch of the same user and
    campaign in ``[t - lookback, t]`` with the latest time, ties to the smallest id."""
    joined = conversions.alias("v").join(
        touches.alias("t"),
        on=(F.col("v.user_id") == F.col("t.user_id"))
        & (F.col("v.campaign_id") == F.col("t.campaign_id"))
        & (F.col("t.ts") <= F.col("v.event_ts"))
        & (
            F.col("t.ts")
            >= F.col("v.event_ts") - F.expr(f"INTERVAL {int(lookback.total_seconds())} SECONDS")
        ),
        how="inner",
    )
    best = Window.partitionBy(F.col("v.file_name"), F.col("v.line_number")).orderBy(
        F.col("t.ts").desc(), F.col("t.id").asc()
    )
    return (
        joined.withColumn("_rank", F.row_number().over(best))
        .where(F.col("_rank") == 1)
        .select(
            F.col("v.file_name").alias("file_name"),
            F.col("v.line_number").alias("line_number"),
            F.col("t.id").alias(f"{prefix}_id"),
            F.col("t.impression_id").alias(f"{prefix}_impression_id"),
            F.col("t.ts").alias(f"{prefix}_ts"),
        )
    )


def attribute_conversions(
    correlated: DataFrame, past_clicks: DataFrame, impressions: DataFrame, rules: Rules
) -> DataFrame:
    """One row per curated conversion with its attribution: ``last_click``, else
    ``last_view``, else ``none`` (§5).

    ``past_clicks``: curated clicks of earlier days (``event_id``, ``event_ts``,
    ``user_id``, ``campaign_id``, ``impression_id``); today's curated clicks come from
    ``correlated``. ``impressions``: curated impressions of the last-view look-back days.
    """
    conversions = correlated.where((F.col(OUTCOME) == CURATED) & (F.col("kind") == CONVERSION))
    today_clicks = curated_clicks(correlated).select(
        "event_id", "event_ts", "user_id", "campaign_id", "impression_id"
    )
    clicks = today_clicks.unionByName(
        past_clicks.select("event_id", "event_ts", "user_id", "campaign_id", "impression_id")
    ).select(
        F.col("event_id").alias("id"),
        F.col("event_ts").alias("ts"),
        "user_id",
        "campaign_id",
        "impression_id",
    )
    views = impressions.select(
        F.col("impression_id").alias("id"),
        F.col("event_ts").alias("ts"),
        "user_id",
        "campaign_id",
        "impression_id",
    )
    last_click = _last_touch(conversions, clicks, rules.last_click_lookback, "click")
    last_view = _last_touch(conversions, views, rules.last_view_lookback, "view")
    keys = ["file_name", "line_number"]
    joined = conversions.join(last_click, keys, "left").join(last_view, keys, "left")
    by_click = F.col("click_id").isNotNull()
    by_view = F.col("view_id").isNotNull()
    return joined.select(
        "*",
        F.when(by_click, F.lit("last_click"))
        .when(by_view, F.lit("last_view"))
        .otherwise(F.lit("none"))
        .alias("attribution"),
        F.when(by_click, F.col("click_id")).alias("attributed_click_id"),
        F.when(by_click, F.col("click_impression_id"))
        .when(by_view, F.col("view_impression_id"))
        .alias("attributed_impression_id"),
        F.when(by_click, F.col("click_ts"))
        .when(by_view, F.col("view_ts"))
        .alias("attributed_touch_ts"),
    )


def curated_clicks(correlated: DataFrame) -> DataFrame:
    """One row per curated click, in the columns of ``adtech.clicks``."""
    clicks = correlated.where((F.col(OUTCOME) == CURATED) & (F.col("kind") == CLICK))
    return clicks.select(
        "event_id",
        "event_ts",
        "user_id",
        "campaign_id",
        "impression_id",
        "impression_ts",
        (F.unix_seconds("event_ts") - F.unix_seconds("impression_ts")).alias(
            "seconds_after_impression"
        ),
        "arrival_ts",
        F.col("file_name").alias("source_file"),
        F.col("line_number").alias("source_line"),
        F.to_date("event_ts").alias("dt"),
    )


def curated_conversions(attributed: DataFrame) -> DataFrame:
    """One row per curated conversion, in the columns of ``adtech.conversions``."""
    return attributed.select(
        F.col("record_key").alias("conversion_key"),
        "event_id",
        "event_ts",
        "user_id",
        "campaign_id",
        "conversion_type",
        "value_micros",
        "attribution",
        "attributed_click_id",
        "attributed_impression_id",
        "attributed_touch_ts",
        "arrival_ts",
        F.col("file_name").alias("source_file"),
        F.col("line_number").alias("source_line"),
        F.to_date("event_ts").alias("dt"),
    )


def quarantined(correlated: DataFrame) -> DataFrame:
    """The quarantined record lines (parse, lateness or correlation reasons)."""
    return correlated.where(F.col(OUTCOME) == QUARANTINED)


def lookback_days(ds: date, rules: Rules) -> dict[str, list[date]]:
    """The earlier partitions the run for ``ds`` reads: impressions for the click window
    and the last-view look-back, clicks for the last-click look-back."""
    impression_days = max(_days_back(rules.click_window), _days_back(rules.last_view_lookback))
    click_days = _days_back(rules.last_click_lookback)
    return {
        "impressions": [ds - timedelta(days=n) for n in range(impression_days, -1, -1)],
        "clicks": [ds - timedelta(days=n) for n in range(click_days, 0, -1)],
    }
