"""Device types: one vocabulary (desktop, mobile, tablet, ctv, other) for every source.

The ad server logs a name, OpenRTB sends a code of its list 5.21; both become the same
lower-case name so that the funnel and the reports group them together.
"""

from __future__ import annotations

from itertools import chain

from pyspark.sql import Column
from pyspark.sql import functions as F

DEVICE_TYPES = ("desktop", "mobile", "tablet", "ctv", "other")

# OpenRTB 2.6 list 5.21.
_OPENRTB = {
    1: "mobile",  # Mobile/Tablet (version 2.0 value)
    2: "desktop",  # Personal Computer
    3: "ctv",  # Connected TV
    4: "mobile",  # Phone
    5: "tablet",
    6: "other",  # Connected Device
    7: "ctv",  # Set Top Box
    8: "other",  # OOH Device
}
_SYNONYMS = {
    "desktop": "desktop",
    "pc": "desktop",
    "computer": "desktop",
    "mobile": "mobile",
    "phone": "mobile",
    "smartphone": "mobile",
    "tablet": "tablet",
    "ctv": "ctv",
    "tv": "ctv",
    "connected_tv": "ctv",
    "connected tv": "ctv",
}


def _lookup(mapping: dict[object, str], key: Column) -> Column:
    literal = F.create_map(*(F.lit(x) for x in chain.from_iterable(mapping.items())))
    return F.try_element_at(literal, key)


def device_type_from_name(name: Column) -> Column:
    """A logged device type name, normalised; ``other`` when unknown, null when absent."""
    clean = F.lower(F.trim(name))
    return F.when(clean.isNull() | (clean == ""), F.lit(None)).otherwise(
        F.coalesce(_lookup(_SYNONYMS, clean), F.lit("other"))
    )


def device_type_from_openrtb(code: Column) -> Column:
    """An OpenRTB device type code, normalised; ``other`` when unknown, null when absent."""
    return F.when(code.isNull(), F.lit(None)).otherwise(
        F.coalesce(_lookup(_OPENRTB, code), F.lit("other"))
    )
