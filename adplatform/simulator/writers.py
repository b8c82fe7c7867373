"""The simulator's output folder: where every raw record and dimension file is written.

Layout (docs/simulator.md):

    manifest.json                    ground truth, counts, file hashes
    faults.jsonl                     one line per injected fault, with its location
    dims/campaigns.csv, dims/users.csv
    adserver_logs/impressions-YYYYMMDD_HH.log     ad-server JSON lines by arrival hour
    tracking_inbox/tracking_YYYYMMDD_HH.csv       click-tracking CSV by arrival hour
    bid_requests_archive/bid_requests-YYYYMMDD_HH.avro   Avro container of generated requests
    kafka/<topic>/YYYYMMDD_HH.avro   the Kafka records to publish, one file per generated hour,
                                     sorted by timestamp (schema KAFKA_RECORD_SCHEMA)
"""

from __future__ import annotations

import csv
import hashlib
import json
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import fastavro

from adplatform import contracts
from adplatform.simulator.clock import hour_label

MANIFEST = "manifest.json"
FAULT_LOG = "faults.jsonl"
DIMS_DIR = "dims"
LOGS_DIR = "adserver_logs"
INBOX_DIR = "tracking_inbox"
ARCHIVE_DIR = "bid_requests_archive"
KAFKA_DIR = "kafka"

KAFKA_RECORD_SCHEMA = fastavro.parse_schema(
    {
        "type": "record",
        "name": "KafkaRecord",
        "namespace": "com.advertisex.simulator",
        "doc": "One record as the simulator publishes it: timestamp = simulated arrival.",
        "fields": [
            {"name": "timestamp_ms", "type": "long"},
            {"name": "key", "type": ["null", "bytes"]},
            {"name": "value", "type": "bytes"},
        ],
    }
)


def log_file_name(arrival_ms: int) -> str:
    return f"{LOGS_DIR}/impressions-{hour_label(arrival_ms)}.log"


def tracking_file_name(arrival_ms: int) -> str:
    return f"{INBOX_DIR}/tracking_{hour_label(arrival_ms)}.csv"


def kafka_file_name(topic: str, chunk_ms: int) -> str:
    return f"{KAFKA_DIR}/{topic}/{hour_label(chunk_ms)}.avro"


def archive_file_name(chunk_ms: int) -> str:
    return f"{ARCHIVE_DIR}/bid_requests-{hour_label(chunk_ms)}.avro"


def _zigzag(n: int) -> bytes:
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _avro_bytes(b: bytes) -> bytes:
    return _zigzag(len(b)) + b


def write_container(
    path: Path, schema_json: str, datums: list[bytes], sync_marker: bytes, block_size: int = 4000
) -> None:
    """An Avro object container file (deflate) of already-encoded datums.

    The bid requests are Avro-encoded once for the wire; writing those bytes into the
    archive directly avoids encoding each request a second time.
    """
    meta = {"avro.schema": schema_json.encode(), "avro.codec": b"deflate"}
    header = b"Obj\x01" + _zigzag(len(meta))
    for key, value in meta.items():
        header += _avro_bytes(key.encode()) + _avro_bytes(value)
    header += _zigzag(0) + sync_marker
    with path.open("wb") as fo:
        fo.write(header)
        for start in range(0, len(datums), block_size):
            block = datums[start : start + block_size]
            compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
            data = compressor.compress(b"".join(block)) + compressor.flush()
            fo.write(_zigzag(len(block)) + _zigzag(len(data)) + data + sync_marker)


class Output:
    """Writes the raw files of a run and remembers line numbers and hashes."""

    def __init__(self, root: Path, seed: int) -> None:
        self.root = root
        self.seed = seed
        self._lines: dict[str, int] = defaultdict(int)
        root.mkdir(parents=True, exist_ok=True)
        for sub in (DIMS_DIR, LOGS_DIR, INBOX_DIR, ARCHIVE_DIR):
            (root / sub).mkdir(exist_ok=True)

    def sync_marker(self, name: str) -> bytes:
        """Avro sync markers are normally random; derived from seed and file for determinism."""
        return hashlib.sha256(f"{self.seed}:{name}".encode()).digest()[:16]

    def append_lines(self, name: str, lines: Iterable[bytes], header: bytes | None = None) -> int:
        """Append lines to a text file; returns the 1-based number of the first one."""
        path = self.root / name
        first = self._lines[name] + 1
        with path.open("ab") as fo:
            if self._lines[name] == 0 and header is not None:
                fo.write(header + b"\n")
                self._lines[name] = 1
                first = 2
            for line in lines:
                fo.write(line + b"\n")
                self._lines[name] += 1
        return first

    def reserve_line(self, name: str, header: bytes | None = None) -> int:
        """The line number the next appended line of ``name`` will get."""
        if self._lines[name] == 0 and header is not None:
            return 2
        return self._lines[name] + 1

    def write_kafka_records(self, topic: str, chunk_ms: int, records: list[dict[str, Any]]) -> str:
        name = kafka_file_name(topic, chunk_ms)
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fo:
            fastavro.writer(
                fo,
                KAFKA_RECORD_SCHEMA,
                records,
                codec="deflate",
                sync_marker=self.sync_marker(name),
            )
        return name

    def write_archive(self, chunk_ms: int, schema_json: str, datums: list[bytes]) -> str:
        name = archive_file_name(chunk_ms)
        write_container(self.root / name, schema_json, datums, self.sync_marker(name))
        return name

    def write_csv(self, name: str, header: list[str], rows: Iterable[list[Any]]) -> None:
        with (self.root / name).open("w", newline="", encoding="utf-8") as fo:
            writer = csv.writer(fo, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)

    def write_json(self, name: str, obj: Any) -> None:
        text = json.dumps(obj, indent=1, sort_keys=False, ensure_ascii=False)
        (self.root / name).write_text(text + "\n", encoding="utf-8")

    def file_hashes(self) -> dict[str, str]:
        """sha256 of every file of the run except the manifest, by relative path."""
        hashes = {}
        for path in sorted(self.root.rglob("*")):
            rel = path.relative_to(self.root).as_posix()
            if path.is_file() and rel != MANIFEST:
                hashes[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        return hashes


def read_kafka_records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as fo:
        yield from fastavro.reader(fo)


def kafka_files(root: Path, topic: str) -> list[Path]:
    return sorted((root / KAFKA_DIR / topic).glob("*.avro"))


def csv_bytes(fields: list[str]) -> bytes:
    return ",".join(fields).encode("utf-8")


def split_lines(data: bytes) -> list[bytes]:
    """Lines of a file's bytes, without their terminators (a last unterminated line counts)."""
    lines = contracts.TRACKING_CSV_LINE_END.split(data)
    if lines and lines[-1] == b"":
        lines.pop()
    return lines
