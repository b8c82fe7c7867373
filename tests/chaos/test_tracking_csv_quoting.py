"""The Spark job's RFC 4180 split of a tracking line agrees with the reference's on every
short line of quotes, commas, text and the bytes the Spark split uses as its separator."""

from __future__ import annotations

from itertools import product

from pyspark.sql import functions as F

from adplatform.simulator.reference import csv_fields as reference_fields
from spark_jobs.clean_tracking.transforms import csv_fields

ALPHABET = ('"', ",", "a", "\u0001")


def test_every_short_line_splits_as_the_reference_splits_it(spark):
    lines = ["".join(p) for n in range(7) for p in product(ALPHABET, repeat=n)]
    lines += ['"a\u0001\u0003b",c', '\u0001\u0002,"\u0001\u0003"', '"x""\u0001\u0002"']
    df = spark.createDataFrame([(line,) for line in lines], "line string")
    got = {r.line: r.fields for r in df.select("line", csv_fields(F.col("line")).alias("fields"))
           .collect()}  # fmt: skip
    assert len(got) == len(lines) == 5_464
    mismatches = {line: (got[line], reference_fields(line)) for line in lines
                  if got[line] != reference_fields(line)}  # fmt: skip
    assert mismatches == {}
    # Both sides are not trivially equal: some lines are malformed, some have quoted commas.
    assert sum(reference_fields(line) is None for line in lines) == 3_833
    assert reference_fields('"a,""b",c') == ['a,"b', "c"]
