"""The DuckDB peer of the batch jobs: the same contract in SQL over the same landed files.

What a single-machine user would write instead of the Spark jobs: the rules of
docs/data-contracts.md (parse, validate, owner day and lateness, dedup, click correlation,
last-click then last-view attribution, the funnel, ``campaign_daily``) as DuckDB SQL in
``<job>.sql`` next to this file, one file per Spark job. ``run_job`` does the I/O of every job:
source views in (the landed files, the peer's own tables), ``out_*`` tables out as Parquet.
Each job runs in its own process (``python -m bench.peer JOB ...``), as each Spark job is its
own ``spark-submit``, so both sides pay their start-up and hand over through files.

Tables are Parquet under ``<peer>/tables/<table>/``: ``dt=<day>/data.parquet``; the funnel
``dt=<day>/campaign_id=<id>/``; quarantine and outcome counts ``dt=<day>/<source or job>/``.
Not done here (the Spark jobs do it): metrics, reconciliation rows, data-quality checks.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import fastavro
import pyarrow as pa

from adplatform import contracts, lake
from adplatform.contracts import DecodeError, Rules
from adplatform.settings import REPO_ROOT

SQL_DIR = Path(__file__).resolve().parent
REPORT_SQL = REPO_ROOT / "hive" / "reports" / "campaign_performance.sql"
JOBS = (
    "load_dimensions",
    "clean_impressions",
    "clean_bid_requests",
    "clean_tracking",
    "build_ad_funnel",
    "aggregate_campaign_daily",
    "report",
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_US = timedelta(microseconds=1)
_KAFKA_EMPTY = (
    'SELECT NULL::BLOB AS "key", NULL::BLOB AS value, NULL::VARCHAR AS topic, '
    'NULL::INTEGER AS "partition", NULL::BIGINT AS "offset", NULL::TIMESTAMPTZ AS kafka_ts '
    "WHERE false"
)
_CLICKS_EMPTY = (
    "SELECT NULL::VARCHAR AS click_id, NULL::TIMESTAMP AS event_ts, NULL::VARCHAR AS user_id, "
    "NULL::VARCHAR AS campaign_id WHERE false"
)
_NEWEST = contracts.bid_request_schema()
BID_REQUEST = pa.struct(
    [
        ("reason", pa.string()),
        ("id", pa.string()),
        ("event_ms", pa.int64()),
        ("imp_ids", pa.list_(pa.string())),
        ("floors", pa.list_(pa.float64())),
        ("banner_w", pa.list_(pa.int32())),
        ("banner_h", pa.list_(pa.int32())),
        ("banner_pos", pa.list_(pa.int32())),
        ("yob", pa.int32()),
        ("gdpr", pa.int32()),
        ("coppa", pa.int32()),
        ("tmax", pa.int32()),
        ("site_id", pa.string()),
        ("app_id", pa.string()),
        ("publisher_id", pa.string()),
        ("device_type", pa.int32()),
        ("country", pa.string()),
        ("user_id", pa.string()),
    ]
)
BID_REQUEST_SQL = (
    "STRUCT(reason VARCHAR, id VARCHAR, event_ms BIGINT, imp_ids VARCHAR[], floors DOUBLE[], "
    "banner_w INTEGER[], banner_h INTEGER[], banner_pos INTEGER[], yob INTEGER, gdpr INTEGER, "
    "coppa INTEGER, tmax INTEGER, "
    "site_id VARCHAR, app_id VARCHAR, publisher_id VARCHAR, device_type INTEGER, "
    "country VARCHAR, user_id VARCHAR)"
)


def _decode(payload: bytes) -> dict:
    """One wire-format bid request, read with the schema version it names.

    As ``contracts.BidRequestCodec.decode`` but without Avro schema resolution when the
    writer's version is the newest (half the time per record: 36 instead of 69 us).
    """
    schema_id, body = contracts.unframe(payload)
    version = -schema_id
    if version not in contracts.BID_REQUEST_SCHEMA_FILES:
        raise DecodeError(contracts.Reason.UNKNOWN_SCHEMA_ID, str(schema_id))
    writer = contracts.bid_request_schema(version)  # cached
    reader = None if version == contracts.BID_REQUEST_VERSION else _NEWEST
    stream = io.BytesIO(body)
    try:
        record = fastavro.schemaless_reader(stream, writer, reader)
    except Exception as exc:  # fastavro raises assorted errors on garbage input
        raise DecodeError(contracts.Reason.UNDECODABLE_AVRO, type(exc).__name__) from None
    if stream.tell() != len(body):
        raise DecodeError(contracts.Reason.UNDECODABLE_AVRO, "bytes left after the record")
    return record


def decode_bid_requests(payloads: pa.Array) -> pa.Array:
    """Vectorised DuckDB function: wire-format Avro bid requests -> BID_REQUEST structs.

    DuckDB reads Avro files but has no decoder for single Avro datums, so this is Python
    around fastavro (the platform's own codec), as a single-machine user would write it.
    """
    rows = []
    for payload in payloads.to_pylist():
        try:
            r = _decode(payload)
        except DecodeError as exc:
            rows.append({"reason": exc.reason})
            continue
        inventory = r.get("site") or r.get("app") or {}
        device = r.get("device") or {}
        banners = [i.get("banner") or {} for i in r["imp"]]
        regs = r.get("regs") or {}
        rows.append(
            {
                "id": r["id"],
                "event_ms": (r["event_ts"] - _EPOCH) // _MS,
                "imp_ids": [i["id"] for i in r["imp"]],
                "floors": [i["bidfloor"] for i in r["imp"]],
                "banner_w": [b.get("w") for b in banners],
                "banner_h": [b.get("h") for b in banners],
                "banner_pos": [b.get("pos") for b in banners],
                "yob": (r.get("user") or {}).get("yob"),
                "gdpr": regs.get("gdpr"),
                "coppa": regs.get("coppa"),
                "tmax": r.get("tmax"),
                "site_id": (r.get("site") or {}).get("id"),
                "app_id": (r.get("app") or {}).get("id"),
                "publisher_id": (inventory.get("publisher") or {}).get("id"),
                "device_type": device.get("devicetype"),
                "country": (device.get("geo") or {}).get("country"),
                "user_id": (r.get("user") or {}).get("id"),
            }
        )
    return pa.array(rows, type=BID_REQUEST)


def hmac_pads(key: str) -> tuple[bytes, bytes]:
    """The inner and outer padded key blocks of HMAC-SHA256 (RFC 2104)."""
    raw = key.encode()
    if len(raw) > 64:
        raw = hashlib.sha256(raw).digest()
    raw = raw.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in raw), bytes(b ^ 0x5C for b in raw)


def report_sql(from_date: date, to_date: date, campaign_id: str = "") -> str:
    """hive/reports/campaign_performance.sql with its parameters filled in, as beeline does."""
    text = REPORT_SQL.read_text()
    for name, value in (("from_date", from_date), ("to_date", to_date)):
        text = text.replace(f"${{hivevar:{name}}}", str(value))
    return text.replace("${hivevar:campaign_id}", campaign_id).strip().rstrip(";")


class PeerJob:
    def __init__(self, lake_root: Path, peer_root: Path, ds: date, key: str, rules: Rules):
        self.lake = lake_root
        self.tables = peer_root / "tables"
        self.peer = peer_root
        self.ds = ds
        self.rules = rules
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar = false")
        ipad, opad = hmac_pads(key)
        day_us = 86_400_000_000
        window_us = rules.click_window // _US
        variables = {
            "ds": f"DATE '{ds.isoformat()}'",
            "grace_us": rules.late_grace // _US,
            "future_us": rules.future_tolerance // _US,
            "window_us": window_us,
            "window_days": math.ceil(window_us / day_us),
            "click_lookback_us": rules.last_click_lookback // _US,
            "view_lookback_us": rules.last_view_lookback // _US,
            "hmac_ipad": f"unhex('{ipad.hex()}')",
            "hmac_opad": f"unhex('{opad.hex()}')",
            "min_yob": contracts.MIN_YOB,
        }
        # Contract ranges: imp.bidfloor -> imp_bidfloor_low / imp_bidfloor_high ...
        ranges = {**contracts.BID_REQUEST_RANGES, **contracts.IMPRESSION_RANGES}
        for path, (low, high) in ranges.items():
            variables[f"{path.replace('.', '_')}_low"] = low
            variables[f"{path.replace('.', '_')}_high"] = high
        for name, value in variables.items():
            self.con.execute(f"SET VARIABLE {name} = {value}")
        self.con.execute((SQL_DIR / "macros.sql").read_text())

    # -- inputs --------------------------------------------------------------------------------

    def arrival_hours(self) -> list[datetime]:
        """Arrival hours of the run: D-1 22:00 ... D+1 (grace-1):00 (contract §2)."""
        start = datetime.combine(self.ds, datetime.min.time()) - timedelta(hours=2)
        end = datetime.combine(self.ds + timedelta(days=1), datetime.min.time()) + (
            self.rules.late_grace - timedelta(hours=1)
        )
        hours = []
        while start <= end:
            hours.append(start)
            start += timedelta(hours=1)
        return hours

    def landed(self, source: str, pattern: str) -> list[str]:
        files = []
        for hour in self.arrival_hours():
            folder = self.lake / "landing" / source
            folder = folder / f"arrival_date={hour.date()}" / f"arrival_hour={hour.hour:02d}"
            files += sorted(str(p) for p in folder.glob(pattern))
        return files

    def day_files(self, table: str, first: date, last: date) -> list[str]:
        files = []
        day = first
        while day <= last:
            files += sorted(str(p) for p in (self.tables / table / f"dt={day}").rglob("*.parquet"))
            day += timedelta(days=1)
        return files

    def view(self, name: str, files: list[str], empty_sql: str | None = None) -> None:
        if files:
            source = f"read_parquet({files!r}, hive_partitioning = true, union_by_name = true)"
            self.con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {source}")
        elif empty_sql is not None:
            self.con.execute(f"CREATE OR REPLACE VIEW {name} AS {empty_sql}")
        else:
            raise FileNotFoundError(f"no files for {name}: run the jobs before this one")

    def days_back(self, days: int) -> date:
        return self.ds - timedelta(days=days)

    # -- outputs -------------------------------------------------------------------------------

    def write_day(self, table: str, name: str) -> None:
        target = self.tables / table / f"dt={self.ds}"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        self.con.execute(
            f"COPY (SELECT * EXCLUDE (dt) FROM {name}) TO '{target}/data.parquet' (FORMAT parquet)"
        )

    def write_side(self, table: str, part: str, name: str) -> None:
        target = self.tables / table / f"dt={self.ds}" / part
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        self.con.execute(
            f"COPY (SELECT * EXCLUDE (dt) FROM {name}) TO '{target}/data.parquet' (FORMAT parquet)"
        )

    # -- jobs ----------------------------------------------------------------------------------

    def run(self, job: str) -> None:
        getattr(self, job)()

    def sql(self, job: str) -> None:
        self.con.execute((SQL_DIR / f"{job}.sql").read_text())

    def clean_outputs(self, job: str, table: str, source: str) -> None:
        self.write_day(table, f"out_{table}")
        self.write_side("quarantine", f"source={source}", "out_quarantine")
        self.con.execute(
            "CREATE OR REPLACE TEMP VIEW outcomes AS "
            "SELECT *, getvariable('ds') AS dt FROM outcome_counts"
        )
        self.write_side("outcomes", f"job={job}", "outcomes")

    def load_dimensions(self) -> None:
        dims = self.lake / "dims"
        for name in ("campaigns", "users"):
            self.con.execute(
                f"CREATE VIEW {name}_csv AS SELECT * FROM read_csv('{dims / name}.csv', "
                "header = true, all_varchar = true)"
            )
        self.sql("load_dimensions")
        for table in ("dim_campaign", "dim_user"):
            target = self.tables / table
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            self.con.execute(f"COPY out_{table} TO '{target}/data.parquet' (FORMAT parquet)")

    def clean_impressions(self) -> None:
        topic = contracts.TOPIC_AD_IMPRESSIONS
        self.view("landed_impressions", self.landed(topic, "*.parquet"), _KAFKA_EMPTY)
        self.sql("clean_impressions")
        self.clean_outputs("clean_impressions", "impressions", "impressions")

    def clean_bid_requests(self) -> None:
        self.con.create_function(
            "decode_bid_request",
            decode_bid_requests,
            ["BLOB"],
            BID_REQUEST_SQL,
            type="arrow",
            side_effects=False,
        )
        # device.geo.country: alpha-3 (OpenRTB) or alpha-2 (real traffic) -> alpha-2.
        codes = {
            **contracts.ALPHA3_TO_ALPHA2,
            **{a2: a2 for a2 in contracts.ALPHA3_TO_ALPHA2.values()},
        }
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE country_codes AS SELECT * FROM "
            "(SELECT unnest(?) AS code, unnest(?) AS alpha2)",
            [list(codes), list(codes.values())],
        )
        topic = contracts.TOPIC_BID_REQUESTS
        self.view("landed_bid_requests", self.landed(topic, "*.parquet"), _KAFKA_EMPTY)
        self.sql("clean_bid_requests")
        self.clean_outputs("clean_bid_requests", "bid_requests", "bid_requests")

    def clean_tracking(self) -> None:
        files = self.landed(lake.TRACKING_SOURCE, "tracking_*.csv")
        if files:
            self.con.execute(
                f"CREATE VIEW landed_tracking AS SELECT filename, content FROM read_blob({files!r})"
            )
        else:
            self.con.execute(
                "CREATE VIEW landed_tracking AS "
                "SELECT NULL::VARCHAR AS filename, NULL::BLOB AS content WHERE false"
            )
        rules = self.rules
        back = max(math.ceil(rules.click_window / timedelta(days=1)), rules.last_view_lookback.days)
        recent = self.day_files("impressions", self.days_back(back), self.ds)
        self.view("recent_impressions", recent)
        click_back = math.ceil(rules.last_click_lookback / timedelta(days=1))
        before = self.day_files("clicks", self.days_back(click_back), self.days_back(1))
        self.view("recent_clicks", before, _CLICKS_EMPTY)
        self.sql("clean_tracking")
        self.write_day("clicks", "out_clicks")
        self.write_day("conversions", "out_conversions")
        self.write_side("quarantine", "source=tracking", "out_quarantine")
        self.con.execute(
            "CREATE OR REPLACE TEMP VIEW outcomes AS "
            "SELECT *, getvariable('ds') AS dt FROM outcome_counts"
        )
        self.write_side("outcomes", "job=clean_tracking", "outcomes")

    def build_ad_funnel(self) -> None:
        rules = self.rules
        restate = math.ceil((rules.click_window + rules.last_click_lookback) / timedelta(days=1))
        first = self.days_back(restate)
        self.view("funnel_impressions", self.day_files("impressions", first, self.ds))
        self.view("funnel_bids", self.day_files("bid_requests", first, self.ds))
        self.view("funnel_clicks", self.day_files("clicks", first, self.ds))
        self.view("funnel_conversions", self.day_files("conversions", first, self.ds))
        self.view("dim_campaign", [str(self.tables / "dim_campaign" / "data.parquet")])
        self.view("dim_user", [str(self.tables / "dim_user" / "data.parquet")])
        self.sql("build_ad_funnel")
        day = first
        while day <= self.ds:
            shutil.rmtree(self.tables / "ad_funnel" / f"dt={day}", ignore_errors=True)
            day += timedelta(days=1)
        self.con.execute(
            f"COPY out_ad_funnel TO '{self.tables / 'ad_funnel'}' "
            "(FORMAT parquet, PARTITION_BY (dt, campaign_id), OVERWRITE_OR_IGNORE)"
        )

    def aggregate_campaign_daily(self) -> None:
        for view, table in (
            ("day_impressions", "impressions"),
            ("day_clicks", "clicks"),
            ("day_conversions", "conversions"),
            ("day_bids", "bid_requests"),
        ):
            self.view(view, self.day_files(table, self.ds, self.ds))
        self.sql("aggregate_campaign_daily")
        self.write_day("campaign_daily", "out_campaign_daily")

    def report(self) -> None:
        self.con.execute("CREATE SCHEMA adtech")
        daily = str(self.tables / "campaign_daily" / "*" / "*.parquet")
        self.con.execute(
            "CREATE VIEW adtech.campaign_daily AS SELECT * FROM "
            f"read_parquet('{daily}', hive_partitioning = true)"
        )
        dim = self.tables / "dim_campaign" / "data.parquet"
        self.con.execute(f"CREATE VIEW adtech.dim_campaign AS SELECT * FROM '{dim}'")
        cursor = self.con.execute(report_sql(self.ds, self.ds))
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        (self.peer / "report.json").write_text(json.dumps(rows, default=str, indent=1))


def main(argv: list[str] | None = None) -> int:
    from adplatform import settings as settings_module

    parser = argparse.ArgumentParser(prog="python -m bench.peer", description=__doc__)
    parser.add_argument("job", choices=JOBS)
    parser.add_argument("--lake", type=Path, required=True, help="the lake folder (file://)")
    parser.add_argument("--peer", type=Path, required=True, help="the peer's own folder")
    parser.add_argument("--ds", type=date.fromisoformat, required=True)
    args = parser.parse_args(argv)
    settings = settings_module.load()
    rules = Rules.from_settings(settings)
    PeerJob(args.lake, args.peer, args.ds, settings.pseudonym_key, rules).run(args.job)
    return 0
