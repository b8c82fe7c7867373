"""Benchmark: records/s the simulator publishes to Kafka against the bare client libraries.

Generates one run, then sends the same records to fresh topics on the same broker: through
``publish`` (reading the run's files, in arrival order, confluent-kafka), with a bare
confluent-kafka producer from a list in memory (the same producer settings), and with a
bare kafka-python producer (the same guarantees) for comparison. The simulator's overhead
is its time over the bare confluent-kafka time. Results go to a JSON file.

    python -m adplatform.simulator.bench --events-per-day 20000 --results bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from adplatform import settings as settings_module
from adplatform.settings import Settings
from adplatform.simulator import faults
from adplatform.simulator.generate import SimConfig, simulate
from adplatform.simulator.publish import producer_config, publish, records


def _bare_kafka_python(settings: Settings, items: list, prefix: str) -> float:
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        max_in_flight_requests_per_connection=5,
        linger_ms=20,
        batch_size=512 * 1024,
    )
    started = time.monotonic()
    for ts, topic, key, value in items:
        producer.send(prefix + topic, value=value, key=key, timestamp_ms=ts)
    producer.flush()
    seconds = time.monotonic() - started
    producer.close()
    return seconds


def _bare_confluent_kafka(settings: Settings, items: list, prefix: str) -> float:
    from confluent_kafka import Producer

    producer = Producer(producer_config(settings))
    started = time.monotonic()
    for ts, topic, key, value in items:
        while True:
            try:
                producer.produce(prefix + topic, value=value, key=key, timestamp=ts)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    producer.flush()
    return time.monotonic() - started


def run(settings: Settings, events_per_day: int, days: int, work: Path) -> dict[str, Any]:
    config = SimConfig(
        days=days,
        events_per_day=events_per_day,
        start_date=date(2024, 1, 1),
        fault_rates=faults.rates(0.0, {}),
    )
    out = work / "run"
    started = time.monotonic()
    simulate(config, out)
    generate_s = time.monotonic() - started
    items = list(records(out))
    stamp = int(time.time())
    # Bare client before and after the simulator, so that a warm-up of the broker or the
    # machine does not count against either side.
    bare_before_s = _bare_confluent_kafka(settings, items, f"bench{stamp}b_")
    sim = publish(out, settings, topic_prefix=f"bench{stamp}a_")
    bare_after_s = _bare_confluent_kafka(settings, items, f"bench{stamp}d_")
    bare_s = min(bare_before_s, bare_after_s)
    kafka_python_s = _bare_kafka_python(settings, items, f"bench{stamp}c_")
    n = len(items)
    return {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "records": n,
        "impressions": days * events_per_day,
        "generate_s": round(generate_s, 2),
        "generate_impressions_per_s": round(days * events_per_day / generate_s),
        "simulator_publish_records_per_s": round(n / sim.seconds),
        "confluent_kafka_bare_records_per_s": round(n / bare_s),
        "confluent_kafka_bare_runs_records_per_s": [
            round(n / bare_before_s),
            round(n / bare_after_s),
        ],
        "simulator_overhead_pct": round((sim.seconds / bare_s - 1) * 100, 1),
        "kafka_python_bare_records_per_s": round(n / kafka_python_s),
        "confluent_over_kafka_python": round(kafka_python_s / bare_s, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events-per-day", type=int, default=20000)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--results", type=Path, required=True)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        result = run(settings_module.load(), args.events_per_day, args.days, Path(work))
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
