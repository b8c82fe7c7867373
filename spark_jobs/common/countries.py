"""Country codes: OpenRTB sends ISO-3166-1 alpha-3, the ad server and the tables use alpha-2.

Normalising both to upper-case alpha-2 lets the impression geo, the bid-request geo and the
user dimension be compared and grouped together. The table (``contracts.ALPHA3_TO_ALPHA2``)
is ISO-3166-1 as assigned (historical codes left out); an unknown code becomes null rather
than a made-up value. Real OpenRTB traffic also sends alpha-2 (``US``), which the spec does
not allow but which is unambiguous: a bid request's country may be either.
"""

from __future__ import annotations

from itertools import chain

from pyspark.sql import Column
from pyspark.sql import functions as F

from adplatform.contracts import ALPHA3_TO_ALPHA2

ALPHA2: frozenset[str] = frozenset(ALPHA3_TO_ALPHA2.values())


def alpha2_from_alpha3(code: Column) -> Column:
    """Upper-case alpha-2 of an alpha-3 code (any case); null when unknown."""
    mapping = F.create_map(*(F.lit(x) for x in chain.from_iterable(ALPHA3_TO_ALPHA2.items())))
    return F.try_element_at(mapping, F.upper(F.trim(code)))


def alpha2_from_alpha3_or_alpha2(code: Column) -> Column:
    """Upper-case alpha-2 of an alpha-3 or an alpha-2 code (any case); null when unknown."""
    return F.coalesce(alpha2_from_alpha3(code), normalise_alpha2(code))


def country_code_form(code: Column) -> Column:
    """``alpha3``, ``alpha2`` or ``unknown`` (a code of neither table); null when absent."""
    upper = F.upper(F.trim(code))
    return (
        F.when(upper.isNull() | (upper == ""), F.lit(None))
        .when(alpha2_from_alpha3(code).isNotNull(), F.lit("alpha3"))
        .when(normalise_alpha2(code).isNotNull(), F.lit("alpha2"))
        .otherwise(F.lit("unknown"))
    )


def normalise_alpha2(code: Column) -> Column:
    """Upper-case alpha-2 code; null when it is not an assigned code."""
    upper = F.upper(F.trim(code))
    return F.when(upper.isin(*sorted(ALPHA2)), upper).otherwise(F.lit(None))
