"""Benchmark: the daily batch pipeline (Spark through spark-submit) against a DuckDB peer.

For each volume (impressions per day; bids about 4x, clicks and conversions in proportion):

1. **generate** the simulated day once (``bench/data/pipeline/sim-<volume>``, reused by later
   runs; generation speed is recorded because it bounds the volumes this can reach). A day
   whose ground truth does not fit in memory is built from copies of a smaller one instead,
   ids rewritten per copy so the truth scales exactly (``bench/replicate.py``);
2. **landing**: lay the simulator's Kafka records out exactly as the landing job writes them
   (Parquet per arrival hour), copy the tracking CSVs into their hour folders and the
   dimension files into ``<lake>/dims``: a ``file://`` lake, no broker;
3. run every batch job for the day, **alternately**: the Spark job with
   ``adplatform.spark_config.spark_submit_command`` plus what the DAG's operator adds
   (``--py-files`` code zip, ``--name``), against a private Hive metastore on free ports,
   then the same job of the DuckDB peer (``bench/peer``, one process per job);
4. check: the peer's ``campaign_daily`` must equal Spark's row for row, and both the
   simulator's ``expected.campaign_daily`` (the run fails otherwise); ``--sides spark``
   leaves the peer out and checks Spark against the truth alone;
5. the report query (hive/reports/campaign_performance.sql) on both.

Per job and side: wall time, CPU seconds, peak RSS of the process tree (sampled every
0.25 s), files and bytes written, rows/s per core. Stages group jobs as the issue names them:
clean (dims, impressions, bid requests), correlate/enrich (tracking: click correlation and
attribution; the funnel), aggregate, report.

    .venv/bin/python bench/pipeline.py [--volumes 200000] [--fault-rate 0.002] [--sides spark]

Results: ``bench/results/<date>-<volume>.json`` (one file per volume, runs of the day appended
to ``runs``) and a table appended to docs/performance.md (``--no-docs`` to skip).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import math
import multiprocessing
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psutil  # noqa: E402

from adplatform import contracts  # noqa: E402
from adplatform import settings as settings_module  # noqa: E402
from adplatform.lake import PARTITION_VERSION_PREFIX  # noqa: E402
from adplatform.settings import Settings  # noqa: E402
from bench import replicate  # noqa: E402

DATA = REPO / "bench" / "data" / "pipeline"
RESULTS = REPO / "bench" / "results"
DOC = REPO / "docs" / "performance.md"
APPS = REPO / "bench" / "apps"
START = date(2025, 3, 3)
BENCH_KEY = "bench-pipeline-not-a-secret"
JOBS = (
    ("load_dimensions", "clean"),
    ("clean_impressions", "clean"),
    ("clean_bid_requests", "clean"),
    ("clean_tracking", "correlate/enrich"),
    ("build_ad_funnel", "correlate/enrich"),
    ("aggregate_campaign_daily", "aggregate"),
    ("report", "report"),
)
SIDES = ("spark", "duckdb")
STAGES = ("clean", "correlate/enrich", "aggregate", "report")
COUNTED = ("impressions", "clicks", "conversions", "spend_micros", "revenue_micros", "unique_users")
COMPARED = (*COUNTED, "won_bid_imps", "bid_imps", "ctr", "cvr", "cpa_micros", "ecpm_micros")
RATIOS = ("ctr", "cvr", "cpa_micros", "ecpm_micros", "win_rate")


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# -- 1. generation ---------------------------------------------------------------------------


# The generation's peak per impression, measured at 5M (15,008 MB): the ground truth holds
# every valid record of the day at once.
TRUTH_MB_PER_MILLION = 3000


def memory_shortfall(volume: int, available_mb: int) -> str | None:
    """Why generating that volume would run out of memory here, or None if it fits."""
    needed_mb = volume * TRUTH_MB_PER_MILLION // 1_000_000
    if needed_mb <= available_mb:
        return None
    return (
        f"generating {volume:,} impressions/day needs about {needed_mb:,} MB for its ground "
        f"truth ({TRUTH_MB_PER_MILLION:,} MB a million impressions, measured at 5M) and "
        f"{available_mb:,} MB are available here, and no smaller day that fits divides it "
        "into copies (bench/replicate.py); bench smaller volumes (BENCH_VOLUMES)"
    )


def plan_day(volume: int, fault_rate: float, available_mb: int) -> tuple[int, int] | None:
    """(base volume, copies) that builds the day: whole when it fits in memory, else copies.

    For copies, a base day already generated comes first (generating one takes an hour at
    5M), then the fewest copies. None when not even copies of a smaller day fit.
    """
    if is_generated(simulation_folder(volume, fault_rate)):
        return volume, 1
    if memory_shortfall(volume, available_mb) is None:
        return volume, 1
    fitting = [
        k
        for k in range(2, replicate.max_copies() + 1)
        if volume % k == 0 and memory_shortfall(volume // k, available_mb) is None
    ]
    generated = [k for k in fitting if is_generated(simulation_folder(volume // k, fault_rate))]
    if not fitting:
        return None
    copies = (generated or fitting)[0]
    return volume // copies, copies


def simulation_folder(volume: int, fault_rate: float) -> Path:
    return DATA / f"sim-{volume}-f{fault_rate}"


def generation_record(out: Path) -> Path:
    return out.parent / f"{out.name}.generation.json"


def is_generated(out: Path) -> bool:
    """Whether that simulated day is complete, so later runs reuse it."""
    return (out / "manifest.json").exists() and generation_record(out).exists()


def simulated(volume: int, fault_rate: float) -> tuple[Path, dict]:
    """The simulated day of that volume, generated on first use; its generation record.

    Generation runs in a child process: its peak (the ground truth holds every valid record,
    15 GB measured at 5M impressions) is returned to the machine before any job starts.
    """
    out = simulation_folder(volume, fault_rate)
    record = generation_record(out)
    if is_generated(out):
        return out, json.loads(record.read_text())
    shutil.rmtree(out, ignore_errors=True)
    log(f"generating {volume:,} impressions (once; reused by later runs) into {out}")
    fork = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=fork) as child:
        info = child.submit(_generate, volume, fault_rate, out).result()
    record.write_text(json.dumps(info, indent=1))
    log(
        f"generated in {info['seconds']:.0f} s ({info['impressions_per_s']:,} impressions/s, "
        f"peak {info['peak_rss_mb']:,} MB)"
    )
    return out, info


def _generate(volume: int, fault_rate: float, out: Path) -> dict:
    from adplatform.simulator import faults
    from adplatform.simulator.generate import SimConfig, simulate

    config = SimConfig(
        seed=42,
        start_date=START,
        days=1,
        events_per_day=volume,
        campaigns=20,
        users=max(3000, volume // 10),
        fault_rates=faults.rates(fault_rate, {}),
    )
    started = time.monotonic()
    done = 0

    def progress(hour_impressions: int) -> None:  # called once per simulated hour
        nonlocal done
        done += hour_impressions
        log(f"  generated {done:,}/{volume:,} impressions")

    manifest = simulate(config, out, progress)
    seconds = time.monotonic() - started
    raw = sum(v["total"] for v in manifest["raw_records"].values())
    return {
        "seconds": round(seconds, 1),
        "impressions_per_s": round(volume / seconds),
        "raw_records": raw,
        "raw_records_per_s": round(raw / seconds),
        # this process only generates, so its peak is the generation's
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "load_average": os.getloadavg(),
    }


# -- 2. landing ------------------------------------------------------------------------------


def _land_topic(sim: Path, root: Path, topic: str, copies: int) -> int:
    """A topic's Kafka records as Parquet per arrival hour; how many were landed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from adplatform.simulator import writers

    schema = pa.schema(
        [
            ("key", pa.binary()),
            ("value", pa.binary()),
            ("topic", pa.string()),
            ("partition", pa.int32()),
            ("offset", pa.int64()),
            ("kafka_ts", pa.timestamp("us", tz="UTC")),
        ]
    )
    bid_request = topic == contracts.TOPIC_BID_REQUESTS
    pending: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    parts: dict[tuple[str, str], int] = defaultdict(int)

    def write(hours: list[tuple[str, str]]) -> None:
        for day, hour in hours:
            rows = pending.pop((day, hour))
            folder = root / "landing" / topic / f"arrival_date={day}" / f"arrival_hour={hour}"
            folder.mkdir(parents=True, exist_ok=True)
            columns = [[r[0] for r in rows], [r[1] for r in rows], [topic] * len(rows),
                       [0] * len(rows), [r[3] for r in rows], [r[2] for r in rows]]  # fmt: skip
            part = parts[day, hour]
            parts[day, hour] += 1
            table = pa.table(columns, schema=schema)
            pq.write_table(table, folder / f"part-{part:05d}.snappy.parquet")

    offset = 0
    for path in writers.kafka_files(sim, topic):
        for rec in writers.read_kafka_records(path):
            ts = rec["timestamp_ms"]
            hour = datetime.fromtimestamp(ts / 1000, UTC)
            rows = pending[hour.date().isoformat(), f"{hour.hour:02d}"]
            for key, value in replicate.kafka_copies(rec, copies, bid_request):
                rows.append((key, value, ts * 1000, offset))
                offset += 1
        # A file holds one generated hour and nothing arrives before it is generated, so every
        # arrival hour up to this file's is complete: writing them keeps memory to an hour or
        # so of records (a later straggler would only add a second part).
        generated = datetime.strptime(path.stem, "%Y%m%d_%H")
        upto = (generated.date().isoformat(), f"{generated.hour:02d}")
        write(sorted(h for h in pending if h <= upto))
    write(sorted(pending))
    return offset


LANDING_RECORD = "landing.json"
LANDED_TOPICS = (contracts.TOPIC_BID_REQUESTS, contracts.TOPIC_AD_IMPRESSIONS)


def reused_landing(lake_root: Path, sim: Path, copies: int) -> dict | None:
    """The landing already in the lake when it is this day's (20 min at 20M), else None.

    What the jobs wrote on the last run is removed, so every run starts from the landing
    alone; the landing's measurements are those of the run that landed it.
    """
    record = lake_root / LANDING_RECORD
    if not record.exists():
        return None
    landed = json.loads(record.read_text())
    if (landed["sim"], landed["copies"]) != (sim.name, copies):
        return None
    for entry in lake_root.iterdir():
        if entry.name not in ("landing", "dims", LANDING_RECORD):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    return {**landed["landing"], "reused": True}


def land(sim: Path, settings: Settings, copies: int = 1) -> dict:
    """The run laid out as the landing job and the tracking intake leave it.

    With copies > 1, every record, tracking row and user is landed that many times with ids
    rewritten per copy (bench/replicate.py).
    """
    from adplatform import lake
    from adplatform.simulator import writers

    root = Path(settings.lake_uri.removeprefix("file://"))
    counts = {topic: _land_topic(sim, root, topic, copies) for topic in LANDED_TOPICS}
    tracking = 0
    for path in sorted((sim / writers.INBOX_DIR).glob("tracking_*.csv")):
        hour = datetime.strptime(path.name[9:20], "%Y%m%d_%H")
        folder = lake.landing_path(settings, lake.TRACKING_SOURCE, hour.date(), hour.hour)
        target = Path(folder.removeprefix("file://"))
        target.mkdir(parents=True, exist_ok=True)
        (target / path.name).write_bytes(replicate.csv_copies(path.read_bytes(), copies))
        tracking += 1
    dims = root / "dims"
    dims.mkdir(parents=True, exist_ok=True)
    # campaigns are shared by every copy; users are copied like their events
    for name, times in (("campaigns", 1), ("users", copies)):
        text = (sim / "dims" / f"{name}.csv").read_bytes()
        (dims / f"{name}.csv").write_bytes(replicate.csv_copies(text, times))
    counts["tracking_files"] = tracking
    return counts


# -- 3. measuring one process tree -----------------------------------------------------------


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            files[path] = (st.st_size, st.st_mtime_ns)
    return files


def measure(cmd: list[str], env: dict[str, str], watch: Path, log_file: Path) -> dict:
    """Run cmd; wall and CPU time, peak RSS of its process tree, files it wrote under watch."""
    before = _snapshot(watch)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log_file.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        peak = 0

        def sample() -> None:
            nonlocal peak
            try:
                root = psutil.Process(proc.pid)
                while proc.poll() is None:
                    rss = 0
                    for p in [root, *root.children(recursive=True)]:
                        with contextlib.suppress(psutil.Error):
                            rss += p.memory_info().rss
                    peak = max(peak, rss)
                    time.sleep(0.25)
            except psutil.Error:
                pass

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        sampler.join()
    wall = time.monotonic() - started
    after_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if code != 0:
        tail = log_file.read_text(errors="replace").splitlines()[-15:]
        what = " ".join(cmd[:3])
        raise RuntimeError(f"{what}... exited {code}; log {log_file}:\n" + "\n".join(tail))
    after = _snapshot(watch)
    written = [p for p, meta in after.items() if before.get(p) != meta]
    cpu = (after_usage.ru_utime - usage.ru_utime) + (after_usage.ru_stime - usage.ru_stime)
    return {
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "peak_rss_mb": round(peak / 2**20),
        "files_written": len(written),
        "bytes_written": sum(after[p][0] for p in written),
    }


def spark_profile(log_file: Path, started: datetime, seconds: float) -> dict:
    """Where a spark-submit's wall time went, from its driver log (second resolution).

    ``to_context_s``: JVM, Python and SparkContext start; ``in_spark_jobs_s``: the sum of the
    stages' durations (stages AQE runs at once overlap, so this can exceed their span);
    ``codegen_s``: Janino compilation of generated code; ``rest_s``: what is left (session and
    Hive client start, planning, metastore calls, Python on the driver, shutdown).
    """
    stamp = re.compile(r"^(\d\d/\d\d/\d\d \d\d:\d\d:\d\d) ")
    took = re.compile(r"(?:ShuffleMapStage|ResultStage) \d+ \(.*\) finished in ([0-9.]+) ms")
    generated = re.compile(r"Code generated in ([0-9.]+) ms")
    context = None
    jobs_ms = codegen_ms = 0.0
    for line in log_file.read_text(errors="replace").splitlines():
        if context is None and "Running Spark version" in line and (m := stamp.match(line)):
            at = datetime.strptime(m.group(1), "%y/%m/%d %H:%M:%S").replace(tzinfo=UTC)
            context = max(0.0, (at - started).total_seconds())
        if m := took.search(line):
            jobs_ms += float(m.group(1))
        elif m := generated.search(line):
            codegen_ms += float(m.group(1))
    profile = {
        "to_context_s": context,
        "in_spark_jobs_s": round(jobs_ms / 1000, 1),
        "codegen_s": round(codegen_ms / 1000, 1),
    }
    profile["rest_s"] = round(seconds - (context or 0) - profile["in_spark_jobs_s"], 1)
    return profile


# -- 4. the two sides ------------------------------------------------------------------------


def bench_settings(lake_root: Path) -> Settings:
    """Private settings: every port free, state under bench/data, a file:// lake."""
    from adplatform.stack.process import free_port

    base = settings_module.load({})  # defaults only: never the running stack's variables
    ports = {f: free_port() for f in base.__dataclass_fields__ if f.endswith("_port")}
    return base.with_overrides(
        home=DATA / "stack",
        lake_uri=f"file://{lake_root}",
        pseudonym_key=BENCH_KEY,
        service_heap_mb=384,
        **ports,
    )


class SparkSide:
    """The jobs as the DAG starts them: spark_submit_command + code zip + app name."""

    def __init__(self, settings: Settings):
        from adplatform.orchestration import package

        self.settings = settings
        self.py_files = str(package.build(settings.state_dir / "spark-packages"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("ADPLATFORM_")}
        env.pop("SPARK_CONF_DIR", None)
        self.env = {
            **env,
            **settings.as_env(),
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
        }

    def command(self, app: Path, name: str, *args: str) -> list[str]:
        from adplatform.spark_config import spark_submit_command

        cmd = spark_submit_command(self.settings, str(app), *args)
        at = cmd.index(str(app))
        return [*cmd[:at], "--name", name, "--py-files", self.py_files, *cmd[at:]]

    def job(self, job: str, ds: date, out: Path) -> list[str]:
        if job == "report":
            report = REPO / "hive" / "reports" / "campaign_performance.sql"
            args = ("report", str(report), ds.isoformat(), str(out / "report-spark.json"))
            return self.command(APPS / "pipeline_spark.py", "adtech-bench-report", *args)
        app = REPO / "spark_jobs" / job / "job.py"
        return self.command(app, f"adtech-{job}", "--ds", ds.isoformat(), "--run-id", "bench")


def peer_command(job: str, lake_root: Path, peer_root: Path, ds: date) -> list[str]:
    return [sys.executable, "-m", "bench.peer", job, "--lake", str(lake_root),
            "--peer", str(peer_root), "--ds", ds.isoformat()]  # fmt: skip


# -- 5. checks -------------------------------------------------------------------------------


def _rows(glob: str) -> dict[str, dict]:
    import duckdb

    con = duckdb.connect()
    cursor = con.execute(f"SELECT * FROM read_parquet('{glob}')")
    names = [d[0] for d in cursor.description]
    rows = (dict(zip(names, t, strict=True)) for t in cursor.fetchall())
    return {r["campaign_id"]: r for r in rows}


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9)
    return a == b


def current_version_glob(table_dir: Path, ds: date) -> str:
    """The Parquet files of the day's current version: each write of a partition is a new
    ``_v=<UTC time>-<random>`` folder and the replaced one stays until the next write, so the
    newest name is the version the metastore points at (spark_jobs/common/tables.py)."""
    versions = sorted((table_dir / f"dt={ds.isoformat()}").glob(f"{PARTITION_VERSION_PREFIX}*"))
    if not versions:
        return str(table_dir / f"dt={ds.isoformat()}" / "*.parquet")
    return str(versions[-1] / "*.parquet")


def check(spark_glob: str, peer_glob: str | None, manifest: dict, ds: date) -> dict:
    """campaign_daily: Spark = peer row for row (when the peer ran), and both = the truth."""
    spark, peer = _rows(spark_glob), _rows(peer_glob) if peer_glob else {}
    problems = []
    if peer_glob and sorted(spark) != sorted(peer):
        problems.append(f"campaigns differ: spark {sorted(spark)} peer {sorted(peer)}")
    for campaign in sorted(set(spark) & set(peer)):
        for column in (*COMPARED, "win_rate"):
            if not _same(spark[campaign][column], peer[campaign][column]):
                problems.append(
                    f"{campaign} {column}: spark {spark[campaign][column]} "
                    f"peer {peer[campaign][column]}"
                )
    expected = {r["campaign_id"]: r for r in manifest["expected"]["campaign_daily"]
                if r["dt"] == ds.isoformat()}  # fmt: skip
    win = manifest["expected"]["win_rate"].get(ds.isoformat(), {"won_imps": 0, "bid_imps": 0})
    for side, rows in (("spark", spark), ("peer", peer))[: 2 if peer_glob else 1]:
        if sorted(rows) != sorted(expected):
            problems.append(f"{side}: campaigns differ from the ground truth")
        for campaign in sorted(set(rows) & set(expected)):
            got = {c: rows[campaign][c] for c in COUNTED}
            want = {c: expected[campaign][c] for c in COUNTED}
            wins = (rows[campaign]["won_bid_imps"], rows[campaign]["bid_imps"])
            if got != want or wins != (win["won_imps"], win["bid_imps"]):
                problems.append(f"{side} {campaign}: {got} {wins} != truth {want} {win}")
    return {"rows": len(spark), "equal": not problems, "problems": problems[:20]}


def check_reports(spark_file: Path, peer_file: Path) -> list[str]:
    spark, peer = json.loads(spark_file.read_text()), json.loads(peer_file.read_text())
    if len(spark) != len(peer):
        return [f"report rows: spark {len(spark)} peer {len(peer)}"]
    problems = []
    for a, b in zip(spark, peer, strict=True):
        for column, value in a.items():
            if not _same(value, b.get(column)):
                problems.append(f"report {a['campaign_id']} {column}: {value} != {b.get(column)}")
    return problems


# -- 6. one volume ---------------------------------------------------------------------------


def _ratio(spark_seconds: float, duckdb_seconds: float | None) -> float | None:
    """Spark's seconds over DuckDB's, when the peer ran."""
    return None if duckdb_seconds is None else round(spark_seconds / duckdb_seconds, 2)


def input_rows(manifest: dict, landed: dict, ds: date) -> dict[str, int]:
    """Rows each job reads, for rows/s per core (the simulator's counts of the day)."""
    day = ds.isoformat()
    out = manifest["expected"]["outcomes"]
    imps = out["impressions"][day]
    tracking = out["tracking"][day]
    bid_imps = manifest["expected"]["win_rate"][day]["bid_imps"]
    curated = imps["curated"] + bid_imps + tracking["curated"]
    users = manifest["config"]["users"]
    return {
        "load_dimensions": users + manifest["config"]["campaigns"],
        "clean_impressions": landed[contracts.TOPIC_AD_IMPRESSIONS],
        "clean_bid_requests": landed[contracts.TOPIC_BID_REQUESTS],
        "clean_tracking": tracking["in"] + imps["curated"],
        "build_ad_funnel": curated + users,
        "aggregate_campaign_daily": curated,
        "report": len(manifest["expected"]["campaign_daily"]),
    }


def run_volume(
    volume: int, fault_rate: float, cores: int, copies: int = 1, sides: tuple = SIDES
) -> dict:
    """One volume: its day (generated, or copies of a smaller one) through every job."""
    from adplatform.stack import manager

    sim, generation = simulated(volume // copies, fault_rate)
    manifest = json.loads((sim / "manifest.json").read_text())
    if copies > 1:
        manifest = replicate.scaled_manifest(manifest, copies)
        generation = {"copies_of": sim.name, "copies": copies, "base": generation}
        log(f"{volume:,} impressions/day: {copies} copies of {sim.name}, ids rewritten per copy")
    ds = START
    lake_root = DATA / "lake"
    peer_root = DATA / "peer"
    logs = DATA / "logs" / str(volume)
    for folder in (peer_root, logs):
        shutil.rmtree(folder, ignore_errors=True)
    peer_root.mkdir(parents=True)
    settings = bench_settings(lake_root)
    load_start = os.getloadavg()

    landing = reused_landing(lake_root, sim, copies)
    if landing:
        log(f"{volume:,} impressions/day: reusing the landing of {sim.name} in {lake_root}")
    else:
        shutil.rmtree(lake_root, ignore_errors=True)
        lake_root.mkdir(parents=True)
        log(f"{volume:,} impressions/day: landing {sim.name} into {lake_root}")
        started = time.monotonic()
        landed = land(sim, settings, copies)
        landing = {"seconds": round(time.monotonic() - started, 2), **landed}
        landing_files = _snapshot(lake_root)
        landing["files_written"] = len(landing_files)
        landing["bytes_written"] = sum(size for size, _ in landing_files.values())
        record = {"sim": sim.name, "copies": copies, "landing": landing}
        (lake_root / LANDING_RECORD).write_text(json.dumps(record, indent=1))
        log(f"  landing: {landing['seconds']} s, {sum(landed.values()):,} records and files")
    landed = {k: landing[k] for k in (*LANDED_TOPICS, "tracking_files")}

    log("  starting a private metastore (and the HDFS it requires) on free ports")
    shutil.rmtree(DATA / "stack", ignore_errors=True)
    manager.up(settings, ["metastore"])
    try:
        spark = SparkSide(settings)
        catalog = spark.command(
            APPS / "pipeline_spark.py", "adtech-bench-catalog", "catalog", str(REPO / "hive")
        )
        measure(catalog, spark.env, lake_root, logs / "spark-catalog.log")
        rows = input_rows(manifest, landed, ds)
        jobs = []
        for job, stage in JOBS:
            entry = {"job": job, "stage": stage, "input_rows": rows[job]}
            commands = {
                "spark": (spark.job(job, ds, peer_root), lake_root),
                "duckdb": (peer_command(job, lake_root, peer_root, ds), peer_root),
            }
            for side in sides:
                cmd, watch = commands[side]
                started = datetime.now(UTC).replace(microsecond=0)
                result = measure(cmd, spark.env, watch, logs / f"{side}-{job}.log")
                if side == "spark":
                    result["profile"] = spark_profile(
                        logs / f"{side}-{job}.log", started, result["seconds"]
                    )
                result["rows_per_s_per_core"] = round(rows[job] / result["seconds"] / cores)
                entry[side] = result
            entry["ratio"] = _ratio(
                entry["spark"]["seconds"], entry.get("duckdb", {}).get("seconds")
            )
            log(
                f"  {job:<25} "
                + "  ".join(
                    f"{side} {entry[side]['seconds']:7.1f} s (peak {entry[side]['peak_rss_mb']} MB)"
                    for side in sides
                )
                + (f"  ratio {entry['ratio']:5.1f}" if entry["ratio"] else "")
            )
            jobs.append(entry)
    finally:
        manager.down(settings, ["metastore"])

    daily = f"dt={ds.isoformat()}/*.parquet"
    peer_ran = "duckdb" in sides
    equality = check(
        current_version_glob(lake_root / "warehouse" / "adtech.db" / "campaign_daily", ds),
        str(peer_root / "tables" / "campaign_daily" / daily) if peer_ran else None,
        manifest,
        ds,
    )
    if peer_ran:
        reports = (peer_root / "report-spark.json", peer_root / "report.json")
        equality["problems"] += check_reports(*reports)
    equality["equal"] = not equality["problems"]

    stages = {}
    for stage in STAGES:
        members = [j for j in jobs if j["stage"] == stage]
        s = {side: round(sum(j[side]["seconds"] for j in members), 2) for side in sides}
        s["ratio"] = _ratio(s["spark"], s.get("duckdb"))
        stages[stage] = s
    raw = sum(v["total"] for v in manifest["raw_records"].values())
    end_to_end = {}
    for side in sides:
        seconds = sum(j[side]["seconds"] for j in jobs)
        end_to_end[side] = {
            "seconds": round(seconds, 2),
            "cpu_seconds": round(sum(j[side]["cpu_seconds"] for j in jobs), 2),
            "peak_rss_mb": max(j[side]["peak_rss_mb"] for j in jobs),
            "files_written": sum(j[side]["files_written"] for j in jobs),
            "bytes_written": sum(j[side]["bytes_written"] for j in jobs),
            "rows_per_s_per_core": round(raw / seconds / cores),
        }
    end_to_end["ratio"] = _ratio(
        end_to_end["spark"]["seconds"], end_to_end.get("duckdb", {}).get("seconds")
    )
    return {
        "volume": volume,
        "fault_rate": fault_rate,
        "sides": list(sides),
        "day": ds.isoformat(),
        "raw_records": raw,
        "generation": generation,
        "landing": landing,
        "jobs": jobs,
        "stages": stages,
        "end_to_end": end_to_end,
        "campaign_daily_check": equality,
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


# -- 7. results ------------------------------------------------------------------------------


def machine() -> dict:
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        ),
        "python": platform.python_version(),
    }


def save(result: dict, host: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{date.today().isoformat()}-{result['volume']}.json"
    runs = json.loads(path.read_text())["runs"] if path.exists() else []
    runs.append({"machine": host, **result})
    path.write_text(json.dumps({"benchmark": "bench/pipeline.py", "runs": runs}, indent=1) + "\n")
    return path


def markdown(result: dict, host: dict) -> str:
    load = ", ".join(f"{x:.1f}" for x in result["load_average_start"])
    load_end = ", ".join(f"{x:.1f}" for x in result["load_average_end"])
    check_text = "equal" if result["campaign_daily_check"]["equal"] else "**DIFFERENT**"
    compared = (
        "Spark vs DuckDB vs ground truth"
        if "duckdb" in result["sides"]
        else ("Spark vs ground truth (the DuckDB peer did not run)")
    )
    made = result["generation"]
    day = (
        f" The day is {made['copies']} copies of {made['copies_of']} with ids rewritten per "
        "copy (bench/replicate.py)."
        if "copies" in made
        else ""
    )

    def cells(side: dict | None, *keys: str) -> str:
        if side is None:
            return " | ".join("—" for _ in keys)
        out = []
        for key in keys:
            if key == "written":
                out.append(f"{side['files_written']} / {side['bytes_written'] / 1e6:.1f}")
            elif key == "seconds":
                out.append(f"{side['seconds']}")
            else:
                out.append(f"{side[key]:,}")
        return " | ".join(out)

    def ratio(value: float | None) -> str:
        return "—" if value is None else str(value)

    lines = [
        f"### {result['volume']:,} impressions/day ({result['raw_records']:,} raw records), "
        f"{result['finished_at'][:16].replace('T', ' ')} UTC",
        "",
        f"Machine: {host['cores']} cores, {host['memory_gb']} GB ({host['cpu']}); load average "
        f"{load} at the start, {load_end} at the end. campaign_daily {compared}: {check_text}. "
        f"Landing (file layout, shared): {result['landing']['seconds']} s"
        f"{' (by an earlier run, reused)' if result['landing'].get('reused') else ''}.{day}",
        "",
        "| job | stage | Spark s | DuckDB s | Spark/DuckDB | Spark rows/s/core "
        "| DuckDB rows/s/core | Spark peak MB | DuckDB peak MB "
        "| Spark files / MB written | DuckDB files / MB written |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for j in result["jobs"]:
        s, d = j["spark"], j.get("duckdb")
        lines.append(
            f"| {j['job']} | {j['stage']} | {s['seconds']} | {cells(d, 'seconds')} "
            f"| {ratio(j['ratio'])} "
            f"| {s['rows_per_s_per_core']:,} | {cells(d, 'rows_per_s_per_core')} "
            f"| {s['peak_rss_mb']:,} | {cells(d, 'peak_rss_mb')} "
            f"| {cells(s, 'written')} | {cells(d, 'written')} |"
        )
    for stage, s in result["stages"].items():
        lines.append(
            f"| **{stage}** | | {s['spark']} | {s.get('duckdb', '—')} | {ratio(s['ratio'])} "
            "| | | | | | |"
        )
    e = result["end_to_end"]
    spark, peer = e["spark"], e.get("duckdb")
    lines.append(
        f"| **end to end** | | {spark['seconds']} | {cells(peer, 'seconds')} | {ratio(e['ratio'])} "
        f"| {spark['rows_per_s_per_core']:,} | {cells(peer, 'rows_per_s_per_core')} "
        f"| {spark['peak_rss_mb']:,} | {cells(peer, 'peak_rss_mb')} "
        f"| {cells(spark, 'written')} | {cells(peer, 'written')} |"
    )
    lines += [
        "",
        "Where each spark-submit's time went (from its driver log; seconds):",
        "",
        "| job | wall | to SparkContext | in Spark stages | code generation (Janino) "
        "| rest (session, Hive client, planning, metastore, driver Python) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for j in result["jobs"]:
        p = j["spark"]["profile"]
        lines.append(
            f"| {j['job']} | {j['spark']['seconds']} | {p['to_context_s']} "
            f"| {p['in_spark_jobs_s']} | {p['codegen_s']} | {p['rest_s']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--volumes",
        default="200000",
        help="impressions per day, comma-separated (default 200000; the issue's: "
        "1000000,5000000,20000000)",
    )
    parser.add_argument("--fault-rate", type=float, default=0.002, help="rate of every fault kind")
    parser.add_argument(
        "--sides",
        default=",".join(SIDES),
        help="spark, or spark,duckdb (default): the peer doubles a run's time",
    )
    parser.add_argument(
        "--no-docs", action="store_true", help="do not append to docs/performance.md"
    )
    args = parser.parse_args(argv)
    volumes = [int(v) for v in args.volumes.split(",") if v.strip()]
    sides = tuple(s.strip() for s in args.sides.split(",") if s.strip())
    if sides not in (SIDES, ("spark",)):
        print(f"bench: --sides is spark or {','.join(SIDES)}, not {args.sides}", file=sys.stderr)
        return 2
    available_mb = psutil.virtual_memory().available // 2**20
    plans = {}
    for volume in volumes:
        plans[volume] = plan_day(volume, args.fault_rate, available_mb)
        if plans[volume] is None:
            problem = memory_shortfall(volume, available_mb)
            print(f"bench: {problem}", file=sys.stderr)
            return 2
    host = machine()
    failed = False
    for volume in volumes:
        copies = plans[volume][1]
        result = run_volume(volume, args.fault_rate, host["cores"], copies, sides)
        path = save(result, host)
        table = markdown(result, host)
        if not args.no_docs:
            with DOC.open("a") as doc:
                doc.write("\n" + table)
        print(table)
        print(f"results: {path.relative_to(REPO)}")
        if not result["campaign_daily_check"]["equal"]:
            failed = True
            problems = result["campaign_daily_check"]["problems"]
            print("campaign_daily differs:\n  " + "\n  ".join(problems))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
