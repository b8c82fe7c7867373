"""Lines of whole files, byte for byte, with their line numbers.

Spark's text and CSV readers decode lines as they split them, and a split through Java
strings replaces bytes that are not UTF-8, so a bad line could no longer be told from a
good one nor kept as it was. Here a file's bytes are split on ``\\n`` as bytes: the file
is hex-encoded with a space after every byte, so ``0A `` can only match a whole newline
byte, and each piece is decoded back to binary. A trailing ``\\r`` is removed, like the
contract says; whether a line is UTF-8 is then a question the caller can still ask.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

# The hex of \n, spaced as the bytes are below: what ends a line unless a caller says more.
NEWLINE = "0A "


def file_lines(files: DataFrame, line_end: str = NEWLINE) -> DataFrame:
    """One row per line of each file (``file_name``, ``content`` binary): ``line_number``
    (1-based) and ``line`` (binary, without its line end and a trailing ``\\r``); an empty
    last piece after a final line end is not a line. ``line_end``: a regular expression of
    spaced hex bytes, e.g. ``"0D 0A |0A |0D "`` for \\r\\n, \\n and a bare \\r."""
    spaced = F.regexp_replace(F.hex(F.col("content")), "(..)", "$1 ")
    # A final newline ends the last line instead of starting an empty one, so it is cut
    # before the split. (Dropping the empty last piece after the split with a filter on
    # size(pieces) made Catalyst re-evaluate the whole file's hex, regexp and split for
    # every line: quadratic in the file size, minutes for a 20k-line users.csv.)
    body = F.regexp_replace(spaced, f"({line_end})$", "")
    pieces = F.when(F.length("content") == 0, F.array().cast("array<string>")).otherwise(
        F.split(body, line_end, -1)
    )
    exploded = files.select("file_name", F.posexplode(pieces).alias("index", "hex"))
    hex_line = F.regexp_replace(F.regexp_replace(F.col("hex"), " ", ""), "0D$", "")
    return exploded.select(
        "file_name",
        (F.col("index") + 1).cast("long").alias("line_number"),
        F.unhex(hex_line).alias("line"),
    )
