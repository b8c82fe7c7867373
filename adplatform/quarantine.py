"""``adplatform quarantine``: open the sealed raw payloads of ``adtech.quarantine``, and
replay them once the bug that set them aside is fixed.

    adplatform quarantine show   [--day D] [--source S] [--reason R] [--limit N]
    adplatform quarantine replay  --day D  --source S  [--reason R] [--limit N] [--hour H]

The table holds each raw payload sealed (AES-256-GCM, ``adplatform.keyring``): every
HiveServer2 user may count and triage the rows, only a holder of the key reads them.
``show`` prints each selected row and its payload in clear (text as text, other bytes as
base64, a bid request's Avro also decoded to JSON). ``replay`` sends the payloads of a
selection back to where they came from:

* ``bid_requests`` and ``impressions``: to the Kafka topic named in the row's origin
  (``topic/partition/offset``), with the record's original key; landing takes them as
  records of the hour they arrive in;
* ``tracking``: as one CSV file (the header, then the selected lines) dropped into the
  tracking inbox under the name of the current UTC hour (``--hour`` names another); the
  intake lands it like any file of that hour, and refuses nothing it would not refuse from
  the tracker. A file of that name already in the inbox is never overwritten;
* dimension rows are not replayed: the dimension files are loaded whole every day.

Replayed records are new arrivals: they are cleaned by the run of the day they arrive in
(their event dates restated as docs/data-contracts.md describes), and the quarantine rows
that held them stay until their day's retention.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TextIO

from adplatform import contracts, keyring, lake
from adplatform import settings as settings_module
from adplatform.errors import UserError
from adplatform.settings import Settings

TABLE = f"{lake.DATABASE}.quarantine"
KAFKA_SOURCES = {"bid_requests", "impressions"}
SOURCES = (*sorted(KAFKA_SOURCES), lake.TRACKING_SOURCE, "dim_campaign", "dim_user")
_REASON = re.compile(r"^[a-z][a-z0-9_]*$")
COLUMNS = ("dt", "source", "reason", "detail", "origin", "raw_payload", "raw_key", "run_id")

Fetch = Callable[[str], Iterable[Sequence[Any]]]


@dataclass(frozen=True)
class Selection:
    """Which quarantine rows: by owner day, source and reason; at most ``limit``."""

    day: date | None = None
    source: str | None = None
    reason: str | None = None
    limit: int | None = 100

    def __post_init__(self) -> None:
        if self.source is not None and self.source not in SOURCES:
            raise UserError(f"--source {self.source!r}: one of {', '.join(SOURCES)}")
        if self.reason is not None and not _REASON.match(self.reason):
            raise UserError(f"--reason {self.reason!r} is not a reason name (see --help)")
        if self.limit is not None and self.limit < 1:
            raise UserError(f"--limit {self.limit}: at least 1")

    def query(self, table: str = TABLE) -> str:
        """The Spark SQL (HiveServer2) query; payloads travel as base64 text."""
        where = ["TRUE"]
        if self.day is not None:
            where.append(f"dt = DATE '{self.day.isoformat()}'")
        if self.source is not None:
            where.append(f"source = '{self.source}'")
        if self.reason is not None:
            where.append(f"reason = '{self.reason}'")
        limit = f"\nLIMIT {self.limit}" if self.limit is not None else ""
        return (
            "SELECT dt, source, reason, detail, origin, base64(raw_payload) AS raw_payload,\n"
            "       base64(raw_key) AS raw_key, run_id\n"
            f"FROM {table}\nWHERE {' AND '.join(where)}\n"
            f"ORDER BY dt, source, origin{limit}"
        )


@dataclass(frozen=True)
class Quarantined:
    """One quarantine row with its payload opened."""

    dt: str
    source: str
    reason: str
    detail: str | None
    origin: str | None
    key_version: int | None
    payload: bytes | None
    key: bytes | None
    run_id: str | None


def opened(rows: Iterable[Sequence[Any]], ring: keyring.KeyRing) -> list[Quarantined]:
    """The rows of ``Selection.query`` with their payloads decrypted."""
    out = []
    for row in rows:
        values = dict(zip(COLUMNS, row, strict=True))
        sealed = base64.b64decode(values["raw_payload"]) if values["raw_payload"] else None
        key = base64.b64decode(values["raw_key"]) if values["raw_key"] else None
        out.append(
            Quarantined(
                dt=str(values["dt"]),
                source=str(values["source"]),
                reason=str(values["reason"]),
                detail=values["detail"],
                origin=values["origin"],
                key_version=keyring.envelope_version(sealed) if sealed else None,
                payload=keyring.open_payload(sealed, ring) if sealed else None,
                key=key,
                run_id=values["run_id"],
            )
        )
    return out


def fetch_hiveserver2(settings: Settings) -> Fetch:
    """Rows of a query through the HiveServer2 endpoint of the settings."""
    from adplatform.reports.runner import connect

    def fetch(query: str) -> list[Sequence[Any]]:
        connection = connect(settings, {})
        try:
            cursor = connection.cursor()
            cursor.execute(query)
            return cursor.fetchall()
        finally:
            connection.close()

    return fetch


def _clear(data: bytes | None) -> str:
    if data is None:
        return "(none)"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return f"base64:{base64.b64encode(data).decode()}"
    return text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text


def decoded_bid_request(r: Quarantined) -> str | None:
    """A bid request's Avro payload as JSON, when it decodes (registry-less framing)."""
    if r.source != "bid_requests" or r.payload is None:
        return None
    try:
        record = contracts.BidRequestCodec().decode(r.payload)
    except contracts.DecodeError:
        return None
    return json.dumps(record, default=str, sort_keys=True, ensure_ascii=False)


def show_lines(records: Sequence[Quarantined]) -> list[str]:
    """What ``show`` prints: a header line per row, then its key and payload in clear (and
    a bid request's Avro decoded)."""
    lines = []
    for r in records:
        lines.append(
            f"{r.dt} {r.source} {r.reason} ({r.detail or '-'}) origin={r.origin or '-'} "
            f"key_version={r.key_version} run_id={r.run_id or '-'}"
        )
        if r.key is not None:
            lines.append(f"  key:     {_clear(r.key)}")
        lines.append(f"  payload: {_clear(r.payload)}")
        decoded = decoded_bid_request(r)
        if decoded is not None:
            lines.append(f"  decoded: {decoded}")
    lines.append(f"{len(records)} quarantined record(s)")
    return lines


# ---------------------------------------------------------------------------------------------
# Replay


@dataclass(frozen=True)
class Replayed:
    destination: str
    records: int


def tracking_file(records: Sequence[Quarantined]) -> bytes:
    """One tracking CSV: the header, then each record's raw line."""
    lines = [contracts.TRACKING_CSV_HEADER.encode()]
    for r in records:
        if r.payload is None or b"\n" in r.payload:
            raise UserError(f"{r.origin}: its payload is not one CSV line; not replayable")
        lines.append(r.payload)
    return b"\n".join(lines) + b"\n"


def replay_tracking(settings: Settings, records: Sequence[Quarantined], hour: datetime) -> Replayed:
    """Drop the records into the tracking inbox as the file of ``hour`` (write, then rename)."""
    from adplatform.hdfs import filesystem, join
    from adplatform.landing.tracking import inbox_uri

    inbox = inbox_uri(settings)
    fs = filesystem(inbox, settings)
    name = f"tracking_{hour:%Y%m%d_%H}.csv"
    target = join(inbox, name)
    if fs.exists(target):
        raise UserError(f"{target} exists: the intake has not taken it yet; replay later or --hour")
    part = f"{target}.part"
    fs.create(part, tracking_file(records), overwrite=True)
    try:
        fs.rename(part, target)
    except FileExistsError:
        fs.delete(part)
        raise UserError(f"{target} appeared meanwhile; replay again later or with --hour") from None
    return Replayed(target, len(records))


def _topic(r: Quarantined) -> str:
    topic = (r.origin or "").split("/", 1)[0]
    if topic not in (contracts.TOPIC_BID_REQUESTS, contracts.TOPIC_AD_IMPRESSIONS):
        raise UserError(f"{r.source} row with origin {r.origin!r}: no Kafka topic to replay to")
    return topic


def replay_kafka(settings: Settings, records: Sequence[Quarantined]) -> list[Replayed]:
    """Produce each record (original key and value) to the topic of its origin."""
    from confluent_kafka import KafkaException, Producer

    from adplatform.simulator.publish import producer_config

    config = producer_config(settings) | {"client.id": "adplatform-quarantine-replay"}
    producer = Producer(config)
    errors: list[str] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    counts: dict[str, int] = {}
    try:
        for r in records:
            topic = _topic(r)
            producer.produce(topic, value=r.payload, key=r.key, on_delivery=delivered)
            producer.poll(0)
            counts[topic] = counts.get(topic, 0) + 1
        if producer.flush(60):
            errors.append("records still unacknowledged after 60 s")
    except KafkaException as exc:
        errors.append(str(exc))
    if errors:
        raise UserError(f"replay to Kafka at {settings.kafka_bootstrap} failed: {errors[0]}")
    return [Replayed(f"kafka:{topic}", n) for topic, n in sorted(counts.items())]


def replay(
    settings: Settings, records: Sequence[Quarantined], hour: datetime | None = None
) -> list[Replayed]:
    """Send the records back to their origin: Kafka topics, or the tracking inbox."""
    sources = {r.source for r in records}
    if not records:
        return []
    if len(sources) != 1:
        raise UserError(f"replay one source at a time, not {', '.join(sorted(sources))}")
    (source,) = sources
    if source in KAFKA_SOURCES:
        return replay_kafka(settings, records)
    if source == lake.TRACKING_SOURCE:
        now = hour or datetime.now(UTC)
        return [replay_tracking(settings, records, now)]
    raise UserError(f"{source}: dimension rows are reloaded from the dimension files, not replayed")


# ---------------------------------------------------------------------------------------------
# Command line


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes YYYY-MM-DD, not {text!r}") from None


def _hour(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes YYYY-MM-DDTHH (UTC), not {text!r}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "quarantine",
        help="show or replay quarantined records (decrypts their raw payloads)",
        description=__doc__.split("\n\n", 1)[0].replace("\n", " "),
    )
    actions = parser.add_subparsers(dest="action", required=True)
    for action, text in (
        ("show", "print quarantined records with their payloads in clear"),
        ("replay", "send quarantined records back to their Kafka topic or the tracking inbox"),
    ):
        sub = actions.add_parser(action, help=text, description=text)
        required = action == "replay"
        sub.add_argument("--day", type=_day, required=required, help="owner day, YYYY-MM-DD")
        sub.add_argument("--source", choices=SOURCES, required=required)
        sub.add_argument("--reason", default=None, help="a reason, e.g. impossible_value")
        sub.add_argument(
            "--limit",
            type=int,
            default=100 if action == "show" else None,
            help="at most this many rows (show: 100; replay: all)",
        )
        if action == "replay":
            sub.add_argument(
                "--hour", type=_hour, default=None, help="tracking file hour (default: now)"
            )
        sub.set_defaults(func=main)


def main(
    args: argparse.Namespace,
    settings: Settings | None = None,
    fetch: Fetch | None = None,
    out: TextIO = sys.stdout,
) -> int:
    settings = settings or settings_module.load()
    ring = keyring.from_settings(settings)
    selection = Selection(args.day, args.source, args.reason, args.limit)
    records = opened((fetch or fetch_hiveserver2(settings))(selection.query()), ring)
    if args.action == "show":
        print("\n".join(show_lines(records)), file=out)
        return 0
    for sent in replay(settings, records, args.hour):
        print(f"replayed {sent.records} record(s) to {sent.destination}", file=out)
    if not records:
        print("nothing to replay: no quarantined record matches", file=out)
    return 0
