"""Dimension files (CSV with a header, RFC 4180 quoting) -> ``dim_campaign`` and ``dim_user``.

The files come from the advertiser systems (the simulator writes them): trusted, but still
checked like any input. A row with the wrong number of fields, an empty key, or a number or
date that does not parse is quarantined with its reason; the rest is loaded. Quoted fields
may contain commas; a doubled quote inside quotes is a quote.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from adplatform.contracts import Reason
from spark_jobs.common.pseudonymise import pseudonymise
from spark_jobs.common.text_lines import file_lines
from spark_jobs.common.validation import Check, first_failure

CAMPAIGN_COLUMNS = (
    "campaign_id",
    "campaign_name",
    "advertiser_id",
    "advertiser_name",
    "pricing_model",
    "budget_micros",
    "flight_start",
    "flight_end",
    "bid_cpm_micros",
)
USER_COLUMNS = ("user_id", "age_band", "gender", "country", "segment")
PRICING_MODELS = ("CPM", "CPC", "CPA")
# A comma outside double quotes (an even number of quotes follows it).
_SEPARATOR = r',(?=(?:[^"]*"[^"]*")*[^"]*$)'


def csv_rows(files: DataFrame, columns: tuple[str, ...]) -> DataFrame:
    """One row per data line (the header line and blank lines skipped): the raw line, its
    origin, ``_count_ok`` and the fields as strings (empty = null)."""
    lines = file_lines(files).where((F.col("line_number") > 1) & (F.length("line") > 0))
    text = F.col("line").cast("string")
    fields = F.split(text, _SEPARATOR, -1)
    df = lines.select(
        "file_name",
        "line_number",
        F.col("line").alias("raw_payload"),
        F.is_valid_utf8(text).alias("_utf8"),
        fields.alias("_fields"),
    )
    count_ok = F.size("_fields") == len(columns)

    def field(i: int) -> Column:
        value = _unquote(F.try_element_at(F.col("_fields"), F.lit(i + 1)))
        return F.when(count_ok & (value != ""), value)

    return df.select(
        "*",
        count_ok.alias("_count_ok"),
        *(field(i).alias(name) for i, name in enumerate(columns)),
    )


def _unquote(field: Column) -> Column:
    """A CSV field without its enclosing quotes, doubled quotes made single."""
    quoted = field.startswith('"') & field.endswith('"') & (F.length(field) >= 2)
    inner = F.regexp_replace(F.regexp_replace(field, '^"|"$', ""), '""', '"')
    return F.when(quoted, inner).otherwise(field)


def _checks(columns: tuple[str, ...], required: tuple[str, ...]) -> list[Check]:
    missing = F.lit(None).cast("string")
    for name in reversed(required):
        missing = F.when(F.col(name).isNull(), F.lit(name)).otherwise(missing)
    return [
        Check(~F.col("_utf8"), Reason.INVALID_UTF8, "line is not UTF-8"),
        Check(
            ~F.col("_count_ok"),
            Reason.BAD_COLUMN_COUNT,
            F.concat(F.size("_fields").cast("string"), F.lit(f" fields, not {len(columns)}")),
        ),
        Check(missing.isNotNull(), Reason.MISSING_FIELD, F.concat(F.lit("missing "), missing)),
    ]


def parse_campaigns(files: DataFrame) -> DataFrame:
    """One row per campaign line: ``reason``/``detail`` and the typed columns."""
    rows = csv_rows(files, CAMPAIGN_COLUMNS)
    budget = F.col("budget_micros").try_cast("bigint")
    bid = F.col("bid_cpm_micros").try_cast("bigint")
    start = F.try_to_date(F.col("flight_start"), "yyyy-MM-dd")
    end = F.try_to_date(F.col("flight_end"), "yyyy-MM-dd")
    checks = [
        *_checks(CAMPAIGN_COLUMNS, ("campaign_id", "pricing_model")),
        Check(
            (F.col("budget_micros").isNotNull() & budget.isNull())
            | (F.col("bid_cpm_micros").isNotNull() & bid.isNull()),
            Reason.UNPARSABLE_NUMBER,
            "budget_micros or bid_cpm_micros",
        ),
        Check(
            (F.col("flight_start").isNotNull() & start.isNull())
            | (F.col("flight_end").isNotNull() & end.isNull()),
            Reason.UNPARSABLE_TIMESTAMP,
            "flight dates",
        ),
        Check(
            ~F.col("pricing_model").isin(*PRICING_MODELS) | (budget < 0) | (bid < 0),
            Reason.IMPOSSIBLE_VALUE,
            "pricing model, budget or bid",
        ),
    ]
    check = first_failure(checks)
    return rows.select(
        "file_name",
        "line_number",
        "raw_payload",
        check.getField("reason").alias("reason"),
        check.getField("detail").alias("detail"),
        "campaign_id",
        "campaign_name",
        "advertiser_id",
        "advertiser_name",
        "pricing_model",
        budget.alias("budget_micros"),
        start.alias("flight_start"),
        end.alias("flight_end"),
        bid.alias("bid_cpm_micros"),
    )


def parse_users(files: DataFrame, pseudonym_key: str) -> DataFrame:
    """One row per user line: ``reason``/``detail`` and the columns, user_id pseudonymised."""
    rows = csv_rows(files, USER_COLUMNS)
    check = first_failure(_checks(USER_COLUMNS, ("user_id",)))
    return rows.select(
        "file_name",
        "line_number",
        "raw_payload",
        check.getField("reason").alias("reason"),
        check.getField("detail").alias("detail"),
        pseudonymise(F.col("user_id"), pseudonym_key).alias("user_id"),
        "age_band",
        "gender",
        F.upper(F.col("country")).alias("country"),
        "segment",
    )


def valid_rows(parsed: DataFrame, columns: tuple[str, ...]) -> DataFrame:
    """The valid rows, one per key (the first line of a repeated key wins)."""
    valid = parsed.where(F.col("reason").isNull())
    key = columns[0]
    first = valid.groupBy(key).agg(F.min(F.struct("file_name", "line_number")).alias("_first"))
    return (
        valid.join(first, key)
        .where(
            (F.col("file_name") == F.col("_first.file_name"))
            & (F.col("line_number") == F.col("_first.line_number"))
        )
        .select(*columns)
    )
