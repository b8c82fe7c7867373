"""Validation: the reason of the first failing check, and a detail for people.

A check is a *failure* condition, its reason (``adplatform.contracts.Reason``) and a short
detail (which field, what was wrong). Checks run in the order the contract lists them; a
check whose condition is null (not evaluable because an earlier part is missing) counts as
passed, so only an earlier check can be the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F


@dataclass(frozen=True)
class Check:
    failed: Column
    reason: str
    detail: Column | str


def _detail(detail: Column | str) -> Column:
    return F.lit(detail) if isinstance(detail, str) else detail


def first_failure(checks: list[Check]) -> Column:
    """``struct(reason, detail)`` of the first failing check; both null when all pass."""
    index = F.lit(None).cast("int")
    for position, check in reversed(list(enumerate(checks, start=1))):
        index = F.when(F.coalesce(check.failed, F.lit(False)), F.lit(position)).otherwise(index)
    reasons = F.array(*(F.lit(c.reason) for c in checks))
    details = F.array(*(_detail(c.detail).cast("string") for c in checks))
    return F.struct(
        F.try_element_at(reasons, index).alias("reason"),
        F.try_element_at(details, index).alias("detail"),
    )


def first_missing(names: list[str], is_missing: dict[str, Column]) -> Column:
    """Name of the first field in ``names`` whose ``is_missing`` holds, else null."""
    result = F.lit(None).cast("string")
    for name in reversed(names):
        result = F.when(F.coalesce(is_missing[name], F.lit(False)), F.lit(name)).otherwise(result)
    return result
