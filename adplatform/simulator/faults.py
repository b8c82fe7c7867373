"""The catalogue of injectable faults: which source each applies to and how the pipeline must
classify it (docs/simulator.md, "Faults").

A rate is the probability that one clean record of a source the fault applies to gets that
fault; a record gets at most one fault. ``orphan_click`` is the exception: it adds a click
(with a made-up impression id) next to a clean click with that probability.
"""

from __future__ import annotations

from dataclasses import dataclass

from adplatform.contracts import Reason


@dataclass(frozen=True)
class Fault:
    name: str
    sources: tuple[str, ...]  # bid_requests, impressions, clicks, conversions
    reason: str | None  # quarantine reason the pipeline must give; None: no quarantine
    doc: str


DUPLICATE = "duplicate"
LATE = "late"

FAULTS = {
    f.name: f
    for f in (
        Fault("malformed_json", ("impressions",), Reason.MALFORMED_JSON,
              "log line cut short, not valid JSON"),
        Fault("invalid_utf8", ("impressions", "clicks", "conversions"), Reason.INVALID_UTF8,
              "bytes that are not UTF-8 inside a field"),
        Fault("missing_field", ("impressions", "clicks", "conversions"), Reason.MISSING_FIELD,
              "a required field absent, null or empty"),
        Fault("wrong_type", ("impressions",), Reason.WRONG_TYPE,
              "a field of the wrong JSON type (price as a string, id as a number, ...)"),
        Fault("unparsable_timestamp", ("impressions", "clicks", "conversions"),
              Reason.UNPARSABLE_TIMESTAMP, "event_ts not in the contract's ISO-8601 grammar"),
        Fault("unparsable_number", ("conversions",), Reason.UNPARSABLE_NUMBER,
              "conversion_value that is not a decimal number"),
        Fault("negative_price", ("bid_requests", "impressions", "conversions"),
              Reason.IMPOSSIBLE_VALUE, "negative bidfloor, win price or conversion value"),
        Fault("future_event", ("bid_requests", "impressions", "clicks", "conversions"),
              Reason.IMPOSSIBLE_VALUE, "event_ts 30 to 400 days after the arrival"),
        Fault("bad_column_count", ("clicks", "conversions"), Reason.BAD_COLUMN_COUNT,
              "CSV row with one column too many or too few"),
        Fault("truncated_avro", ("bid_requests",), Reason.UNDECODABLE_AVRO,
              "wire-format payload cut short"),
        Fault("corrupt_avro", ("bid_requests",), Reason.BAD_MAGIC_BYTE,
              "payload that is JSON text instead of the Avro wire format"),
        Fault(DUPLICATE, ("bid_requests", "impressions", "clicks", "conversions"), None,
              "the exact record sent again seconds to minutes later (counted as duplicate)"),
        Fault(LATE, ("bid_requests", "impressions", "clicks", "conversions"), None,
              "arrives 2 h or more after its event time, still within the grace period"),
        Fault("too_late", ("bid_requests", "impressions", "clicks", "conversions"),
              Reason.TOO_LATE, "arrives after the grace period of its event date"),
        Fault("orphan_click", ("clicks",), Reason.ORPHAN_CLICK,
              "an extra click whose impression never existed"),
        Fault("click_before_impression", ("clicks",), Reason.CLICK_BEFORE_IMPRESSION,
              "a click stamped before its impression, on the same day"),
    )
}  # fmt: skip

# Faults that make an impression unusable; never applied to an impression that has clicks,
# so that every orphan click in the data is an injected one.
INVALIDATING = frozenset(n for n, f in FAULTS.items() if f.reason is not None)

DEFAULT_FAULT_RATE = 0.01


def rates(global_rate: float, overrides: dict[str, float]) -> dict[str, float]:
    """Per-fault rates: every fault at ``global_rate`` except those overridden."""
    unknown = sorted(set(overrides) - set(FAULTS))
    if unknown:
        raise ValueError(f"unknown fault {', '.join(unknown)}; known: {', '.join(FAULTS)}")
    result = {name: overrides.get(name, global_rate) for name in FAULTS}
    for name, rate in result.items():
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate of {name} is {rate}, not between 0 and 1")
    for source in ("bid_requests", "impressions", "clicks", "conversions"):
        total = sum(r for n, r in result.items() if source in FAULTS[n].sources)
        if total > 1.0:
            raise ValueError(f"fault rates of {source} add up to {total:.3f}, more than 1")
    return result


def parse_override(text: str) -> tuple[str, float]:
    """``malformed_json=0.01`` -> ("malformed_json", 0.01)."""
    name, sep, value = text.partition("=")
    try:
        if not sep:
            raise ValueError
        return name.strip(), float(value)
    except ValueError:
        raise ValueError(
            f"--fault takes NAME=RATE (e.g. malformed_json=0.01), not {text!r}"
        ) from None


class FaultPicker:
    """Draws at most one fault per record, for one source, from a random stream."""

    def __init__(self, source: str, fault_rates: dict[str, float]) -> None:
        self.kinds: list[tuple[str, float]] = []
        acc = 0.0
        for name, fault in FAULTS.items():
            if source in fault.sources and name != "orphan_click" and fault_rates[name] > 0:
                acc += fault_rates[name]
                self.kinds.append((name, acc))

    def pick(self, u: float) -> str | None:
        for name, bound in self.kinds:
            if u < bound:
                return name
        return None
