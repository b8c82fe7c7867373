"""Deduplication: the first occurrence of a key wins, the others are counted (semantic 4).

The key is the event's id, or a fingerprint of its canonical fields where the id is
missing. "First" is the smallest arrival order (arrival time, then Kafka partition and
offset, or file name and line number); the contract's rules are in
docs/data-contracts.md section 4. The losers are not kept anywhere: they become a count.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

# Unit separator: can not occur in the CSV fields or ids that are fingerprinted, so two
# different field lists never join into the same text.
_SEPARATOR = "\x1f"
IS_DUPLICATE = "is_duplicate"


def fingerprint(*fields: Column) -> Column:
    """SHA-256 (hex) of the fields in canonical text form; a null field is marked, not empty."""
    parts = [F.coalesce(f.cast("string"), F.lit("\x00")) for f in fields]
    return F.sha2(F.concat_ws(_SEPARATOR, *parts), 256)


def mark_duplicates(df: DataFrame, keys: list[Column], order: list[Column]) -> DataFrame:
    """Adds ``is_duplicate``: false for the first row of each key in ``order``, true after.

    Same grain as the input; rows with a null key component are compared like any value.
    """
    window = Window.partitionBy(*keys).orderBy(*order)
    return df.withColumn(IS_DUPLICATE, F.row_number().over(window) > 1)
