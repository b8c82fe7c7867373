"""An optimizer fence: computed columns stay computed once.

The clean jobs derive dozens of columns from one parsed payload (a JSON variant, an Avro
struct, a CSV line). Catalyst pushes a later filter below the projection that computes
them and inlines the expressions into it (the JSON is then parsed once for the filter and
again for the projection), and it infers constraints from every alias, which takes tens of
seconds on projections this wide. A ``Generate`` of a one-element array is a node filters
on its output can not cross, so ``fence`` puts one between parsing and everything after.

The jobs also run with ``spark.sql.constraintPropagation.enabled=false``
(``CONSTRAINT_PROPAGATION``), which Spark documents for wide projections like these.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

CONSTRAINT_PROPAGATION = "spark.sql.constraintPropagation.enabled"


def fence(df: DataFrame) -> DataFrame:
    """The same rows and columns, behind a node the optimizer does not push filters through."""
    return df.select(F.inline(F.array(F.struct(*df.columns))))
