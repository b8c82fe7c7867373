"""Benchmark: records/s the Kafka landing job lands in HDFS, started as production starts it.

Publishes synthetic records of realistic sizes (bid requests ~350 bytes of Avro, impressions
~500 bytes of JSON; the job never decodes them, so their content does not matter) to fresh
topics, then runs ``spark_jobs/land_kafka/job.py`` through spark-submit and reads its
summary lines. Two cases:

* ``catch_up``: three simulated days published at once (72 hour folders per batch), what
  the first run after the simulator, or after an outage, does;
* ``hourly``: the same number of records within two hours, what the hourly DAG run does.

For each: the records/s of the landing itself (both topics' queries, from the first batch
to the last commit), the hour closing (markers), and the wall time of the whole
spark-submit (JVM start included). The machine's load average is recorded beside them:
other work on the machine changes the numbers a lot.

    .venv/bin/python bench/landing.py --records 400000            # a running `adplatform stack`
    .venv/bin/python bench/landing.py --records 400000 --private-stack

Results: ``bench/results/landing-<date>.json`` (each run of the day is appended to ``runs``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from adplatform import settings as settings_module  # noqa: E402
from adplatform.landing import kafka_job  # noqa: E402
from adplatform.settings import Settings  # noqa: E402

VALUE_BYTES = {"bid_requests": 350, "ad_impressions": 500}
SHARE = {"bid_requests": 0.8, "ad_impressions": 0.2}  # about 4 bids per impression
SUMMARY = re.compile(
    r"land_kafka: (?P<topic>\S+): (?P<records>\d+) records in (?P<batches>\d+) batches, "
    r"(?P<seconds>[0-9.]+) s .*?(?P<markers>\d+) markers written in (?P<closing>[0-9.]+) s"
)


def _produce(
    settings: Settings, topic: str, kind: str, n: int, first: datetime, span: timedelta
) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    admin.create_topics([NewTopic(topic, 2, 1, topic_configs={"retention.ms": "-1"})])
    admin.close()
    rng = random.Random(topic)
    payloads = [rng.randbytes(VALUE_BYTES[kind]) for _ in range(1000)]
    start_ms, span_ms = int(first.timestamp() * 1000), int(span.total_seconds() * 1000)
    try:
        from confluent_kafka import Producer  # librdkafka: loads the broker 5-10x faster

        producer = Producer(
            {"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 20, "acks": "all"}
        )
        for i in range(n):
            while True:
                try:
                    producer.produce(
                        topic,
                        value=payloads[i % 1000],
                        key=b"%d" % i,
                        timestamp=start_ms + span_ms * i // n,
                    )
                    break
                except BufferError:
                    producer.poll(0.05)
        producer.flush()
    except ImportError:
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=20)
        for i in range(n):
            producer.send(
                topic, payloads[i % 1000], b"%d" % i, timestamp_ms=start_ms + span_ms * i // n
            )
        producer.flush()
        producer.close()


def _case(settings: Settings, name: str, records: int, span: timedelta, batch: int) -> dict:
    stamp = f"bench{int(time.time())}"
    topics = {f"{stamp}_{name}_{kind}": kind for kind in VALUE_BYTES}
    first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - span - timedelta(hours=2)
    produced_at = time.monotonic()
    for topic, kind in topics.items():
        _produce(settings, topic, kind, int(records * SHARE[kind]), first, span)
    produce_s = time.monotonic() - produced_at
    lake = settings.with_overrides(lake_uri=f"{settings.hdfs_uri}/bench/{stamp}_{name}")
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    result = subprocess.run(
        kafka_job.command(lake, topics=list(topics), max_records_per_batch=batch, run_id=stamp),
        env=kafka_job.environment(lake),
        capture_output=True,
        text=True,
    )
    wall_s = time.monotonic() - started
    if result.returncode != 0:
        lines = [x for x in result.stderr.splitlines() if not x.lstrip().startswith("at ")]
        raise SystemExit("the landing job failed:\n" + "\n".join(lines[-60:]))
    lines = [m.groupdict() for m in SUMMARY.finditer(result.stdout)]
    landed = sum(int(m["records"]) for m in lines)
    landing_s = max(float(m["seconds"]) for m in lines)
    closing_s = sum(float(m["closing"]) for m in lines)
    total_bytes = sum(int(records * SHARE[k]) * VALUE_BYTES[k] for k in VALUE_BYTES)
    row = {
        "case": name,
        "records": landed,
        "value_mb": round(total_bytes / 1e6, 1),
        "hours": int(span.total_seconds() // 3600),
        "max_records_per_batch": batch,
        "batches": sum(int(m["batches"]) for m in lines),
        "landing_s": round(landing_s, 1),
        "landing_records_per_s": round(landed / landing_s),
        "landing_mb_per_s": round(total_bytes / 1e6 / landing_s, 2),
        "closing_s": round(closing_s, 1),
        "markers": sum(int(m["markers"]) for m in lines),
        "spark_submit_wall_s": round(wall_s, 1),
        "end_to_end_records_per_s": round(landed / wall_s),
        "produce_s": round(produce_s, 1),
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    print(json.dumps(row), flush=True)
    return row


def _git_commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip()


def _private_stack(home: Path) -> Settings:
    from adplatform.stack import manager
    from adplatform.stack.process import free_port

    ports = {f.name: free_port() for f in dataclasses.fields(Settings) if f.name.endswith("_port")}
    settings = settings_module.load({}).with_overrides(home=home, **ports)
    manager.up(settings, ["kafka", "hdfs-datanode"])
    return settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=400_000, help="per case, both topics")
    parser.add_argument("--max-records-per-batch", type=int, default=500_000)
    parser.add_argument("--private-stack", action="store_true", help="Kafka + HDFS of its own")
    parser.add_argument(
        "--results", type=Path, default=REPO / "bench" / "results" / f"landing-{date.today()}.json"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as home:
        settings = _private_stack(Path(home)) if args.private_stack else settings_module.load()
        try:
            cases = [
                _case(
                    settings,
                    "catch_up",
                    args.records,
                    timedelta(days=3),
                    args.max_records_per_batch,
                ),
                _case(
                    settings, "hourly", args.records, timedelta(hours=2), args.max_records_per_batch
                ),
            ]
        finally:
            if args.private_stack:
                from adplatform.stack import manager

                manager.down(settings, ["kafka", "hdfs-datanode", "hdfs-namenode"])
    run = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "cases": cases,
    }
    # Runs of the same day accumulate: on a shared machine one run is not the truth.
    result = json.loads(args.results.read_text()) if args.results.exists() else {}
    result.update(
        benchmark="landing",
        machine={
            "cpus": os.cpu_count(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "python": platform.python_version(),
        },
    )
    result["runs"] = [*result.get("runs", []), run]
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=1) + "\n")
    print(f"results in {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
