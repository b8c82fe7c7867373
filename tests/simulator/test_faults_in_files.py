"""The faults the manifest claims are the faults that are in the files.

The files are read and every record classified here, with rules written for this test
(not with the simulator's or the reference's code), and the counts compared with the
manifest, with the fault log, and with the reference's quarantine by reason.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fastavro

from adplatform import contracts
from adplatform.contracts import BidRequestCodec, DecodeError
from adplatform.simulator import faults

TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)")
NUMBER = re.compile(r"-?\d+(\.\d{1,6})?")
REQUIRED = (
    "impression_id",
    "request_id",
    "imp_id",
    "event_ts",
    "user_id",
    "campaign_id",
    "creative_id",
    "win_price_micros",
    "currency",
)
GRACE = timedelta(hours=6)


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def readable(text: str) -> bool:
    if not TS.fullmatch(text):
        return False
    try:
        when(text)
    except ValueError:  # month 13 and the like
        return False
    return True


def from_ms(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def lateness(event: datetime, arrival: datetime, threshold: timedelta) -> str | None:
    if arrival - event < threshold:
        return None
    day_end = datetime.combine(event.date(), datetime.min.time(), UTC) + timedelta(days=1)
    return "too_late" if arrival >= day_end + GRACE else "late"


def kafka_records(out: Path, topic: str) -> list[dict]:
    records = []
    for path in sorted((out / "kafka" / topic).glob("*.avro")):
        with path.open("rb") as fo:
            records.extend(fastavro.reader(fo))
    return sorted(records, key=lambda r: r["timestamp_ms"])


def classify_bid_requests(out: Path) -> Counter:
    found: Counter = Counter()
    seen = set()
    codec = BidRequestCodec()
    for rec in kafka_records(out, "bid_requests"):
        try:
            req = codec.decode(rec["value"])
        except DecodeError as exc:
            found["corrupt_avro" if exc.reason == "bad_magic_byte" else "truncated_avro"] += 1
            continue
        arrival = from_ms(rec["timestamp_ms"])
        if any(i["bidfloor"] < 0 for i in req["imp"]):
            found["negative_price"] += 1
        elif req["event_ts"] > arrival + timedelta(days=1):
            found["future_event"] += 1
        elif req["id"] in seen:
            found["duplicate"] += 1
        elif kind := lateness(req["event_ts"], arrival, timedelta(hours=1)):
            found[kind] += 1
        seen.add(req["id"])
    return found


def classify_impressions(out: Path) -> tuple[Counter, dict[str, datetime]]:
    found: Counter = Counter()
    seen = set()
    times: dict[str, datetime] = {}
    for rec in kafka_records(out, "ad_impressions"):
        try:
            obj = json.loads(rec["value"].decode("utf-8"))
        except UnicodeDecodeError:
            found["invalid_utf8"] += 1
            continue
        if "unmatched_line" in obj:
            found["malformed_json"] += 1
            continue
        if any(obj.get(k) in (None, "") for k in REQUIRED):
            found["missing_field"] += 1
            continue
        price = obj["win_price_micros"]
        if (
            type(price) is not int
            or not isinstance(obj["user_id"], str)
            or obj["site"] == "unknown"
        ):
            found["wrong_type"] += 1
            continue
        if not readable(obj["event_ts"]):
            found["unparsable_timestamp"] += 1
            continue
        event, arrival = when(obj["event_ts"]), from_ms(rec["timestamp_ms"])
        times.setdefault(obj["impression_id"], event)
        if price < 0:
            found["negative_price"] += 1
        elif event > arrival + timedelta(days=1):
            found["future_event"] += 1
        elif obj["impression_id"] in seen:
            found["duplicate"] += 1
        elif kind := lateness(event, arrival, timedelta(hours=1)):
            found[kind] += 1
        seen.add(obj["impression_id"])
    return found, times


def classify_tracking(out: Path, impressions: dict[str, datetime], all_ids: set[str]):
    found = {"clicks": Counter(), "conversions": Counter()}
    seen = set()
    for path in sorted((out / "tracking_inbox").glob("tracking_*.csv")):
        file_hour = datetime.strptime(path.stem[9:], "%Y%m%d_%H").replace(tzinfo=UTC)
        lines = path.read_bytes().split(b"\n")
        assert lines[0].decode() == contracts.TRACKING_CSV_HEADER
        for line in filter(None, lines[1:]):
            source = "clicks" if line.startswith(b"click,") else "conversions"
            counter = found[source]
            try:
                fields = line.decode("utf-8").split(",")
            except UnicodeDecodeError:
                counter["invalid_utf8"] += 1
                continue
            if len(fields) != 8:
                counter["bad_column_count"] += 1
                continue
            required = (1, 2, 3, 4, 5) if source == "clicks" else (2, 3, 4, 6, 7)
            if any(fields[i] == "" for i in required):
                counter["missing_field"] += 1
            elif not readable(fields[2]):
                counter["unparsable_timestamp"] += 1
            elif source == "conversions" and not NUMBER.fullmatch(fields[7]):
                counter["unparsable_number"] += 1
            elif source == "conversions" and fields[7].startswith("-"):
                counter["negative_price"] += 1
            elif when(fields[2]) > file_hour + timedelta(days=1):
                counter["future_event"] += 1
            elif source == "clicks" and fields[5] not in all_ids:
                counter["orphan_click"] += 1
            elif source == "clicks" and when(fields[2]) < impressions[fields[5]]:
                counter["click_before_impression"] += 1
            elif line in seen:
                counter["duplicate"] += 1
            elif kind := lateness(when(fields[2]), file_hour, timedelta(hours=1)):
                counter[kind] += 1
            seen.add(line)
    return found


def test_fault_counts_in_the_files_equal_the_manifest(faulty_run):
    out, manifest = faulty_run
    log_ids = set()
    for path in (out / "adserver_logs").glob("*.log"):
        log_ids.update(re.findall(rb'"impression_id":"(imp-[0-9a-f]{16})"', path.read_bytes()))
    impression_faults, impression_times = classify_impressions(out)
    tracking = classify_tracking(out, impression_times, {i.decode() for i in log_ids})
    found = {
        "bid_requests": classify_bid_requests(out),
        "impressions": impression_faults,
        **tracking,
    }
    claimed = manifest["faults_total"]
    for source, counter in found.items():
        assert dict(counter) == claimed[source], source
    # Every fault kind really occurs: in each of its sources for the big ones, in at least
    # one source for the few hundred clicks and conversions.
    for name, fault in faults.FAULTS.items():
        assert sum(claimed[source].get(name, 0) for source in fault.sources) > 0, name
        for source in set(fault.sources) & {"bid_requests", "impressions"}:
            assert claimed[source].get(name, 0) > 0, (source, name)


def test_fault_log_lists_every_fault_with_a_location_that_holds_it(faulty_run):
    out, manifest = faulty_run
    entries = [json.loads(line) for line in (out / "faults.jsonl").read_text().splitlines()]
    by_source_kind = Counter((e["source"], e["kind"]) for e in entries)
    claimed = Counter(
        {(s, k): n for s, kinds in manifest["faults_total"].items() for k, n in kinds.items()}
    )
    assert by_source_kind == claimed
    file_lines: dict[str, list[bytes]] = {}
    for e in entries:
        if "file" not in e:
            continue
        if e["file"] not in file_lines:
            file_lines[e["file"]] = (out / e["file"]).read_bytes().split(b"\n")
        line = file_lines[e["file"]][e["line"] - 1]
        id_less = e["source"] == "conversions" and line.split(b",")[1] == b""
        if e["kind"] not in ("orphan_click", "invalid_utf8", "malformed_json", "missing_field"):
            assert e["record_id"].encode() in line or id_less, e


def test_every_injected_fault_gets_its_reason_from_the_reference(faulty_run):
    _, manifest = faulty_run
    expected: Counter = Counter()
    duplicates: Counter = Counter()
    for source, kinds in manifest["faults_total"].items():
        group = "tracking" if source in ("clicks", "conversions") else source
        for kind, n in kinds.items():
            if faults.FAULTS[kind].reason:
                expected[group, faults.FAULTS[kind].reason] += n
            elif kind == faults.DUPLICATE:
                duplicates[group] += n
    got: Counter = Counter()
    got_duplicates: Counter = Counter()
    for source, days in manifest["expected"]["outcomes"].items():
        for outcome in days.values():
            got_duplicates[source] += outcome["duplicates"]
            for reason, n in outcome["quarantined"].items():
                got[source, reason] += n
    assert got == expected
    assert +got_duplicates == duplicates


def test_reconciliation_adds_up_and_covers_every_raw_record(faulty_run):
    _, manifest = faulty_run
    outcomes = manifest["expected"]["outcomes"]
    for source in ("bid_requests", "impressions", "tracking"):
        days = outcomes[source].values()
        for o in days:
            assert o["in"] == o["curated"] + o["duplicates"] + sum(o["quarantined"].values())
    raw = manifest["raw_records"]
    assert sum(o["in"] for o in outcomes["bid_requests"].values()) == raw["bid_requests"]["total"]
    assert sum(o["in"] for o in outcomes["impressions"].values()) == raw["ad_impressions"]["total"]
    assert sum(o["in"] for o in outcomes["tracking"].values()) == raw["tracking"]["total"]


def test_log_lines_and_kafka_records_correspond_one_to_one(faulty_run):
    out, _ = faulty_run
    lines: Counter = Counter()
    for path in (out / "adserver_logs").glob("*.log"):
        lines.update(line for line in path.read_bytes().split(b"\n") if line)
    published: Counter = Counter()
    for rec in kafka_records(out, "ad_impressions"):
        try:
            obj = json.loads(rec["value"])
        except (UnicodeDecodeError, ValueError):
            obj = None
        if isinstance(obj, dict) and set(obj) == {"unmatched_line"}:
            published[obj["unmatched_line"].encode()] += 1
        else:
            published[rec["value"]] += 1
    assert published == lines
