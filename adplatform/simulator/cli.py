"""`adplatform simulate`: generate a deterministic ad world with faults, and its ground truth."""

from __future__ import annotations

import argparse
import shutil
import sys
from datetime import date
from pathlib import Path

from adplatform import settings as settings_module
from adplatform.contracts import Rules
from adplatform.errors import UserError
from adplatform.simulator import faults
from adplatform.simulator.writers import MANIFEST


def register(subparsers: argparse._SubParsersAction) -> None:
    defaults_doc = ", ".join(faults.FAULTS)
    parser = subparsers.add_parser(
        "simulate",
        help="generate bid requests, impressions, clicks and conversions with faults",
        description=__doc__,
        epilog=f"Fault kinds: {defaults_doc}. See docs/simulator.md.",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder (new or empty)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument(
        "--start-date", type=date.fromisoformat, default=date(2025, 1, 6), help="YYYY-MM-DD"
    )
    parser.add_argument(
        "--events-per-day",
        type=int,
        default=2000,
        help="impressions (won auctions) per day; bid requests are about 4x that",
    )
    parser.add_argument("--campaigns", type=int, default=12)
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=faults.DEFAULT_FAULT_RATE,
        help="rate of every fault kind, per eligible record (0 = clean data)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND=RATE",
        help="rate of one fault kind, e.g. --fault malformed_json=0.05 (repeatable)",
    )
    parser.add_argument(
        "--kafka",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="publish the Kafka records to the broker of the settings after writing them",
    )
    parser.add_argument(
        "--publish-only",
        action="store_true",
        help="publish an existing output folder to Kafka without generating anything",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace the output folder when it holds an earlier simulator run",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from adplatform.simulator.generate import SimConfig, simulate
    from adplatform.simulator.progress import Progress

    settings = settings_module.load()
    out: Path = args.out
    if args.publish_only:
        if not (out / MANIFEST).exists():
            raise UserError(f"{out} holds no {MANIFEST}; run `adplatform simulate --out {out}`")
        return _publish(out, settings)
    try:
        overrides = dict(faults.parse_override(text) for text in args.fault)
        rates = faults.rates(args.fault_rate, overrides)
        config = SimConfig(
            seed=args.seed,
            start_date=args.start_date,
            days=args.days,
            events_per_day=args.events_per_day,
            campaigns=args.campaigns,
            users=args.users,
            fault_rates=rates,
            rules=Rules.from_settings(settings),
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if out.exists() and any(out.iterdir()):
        if not args.force:
            raise UserError(f"{out} is not empty; give a new folder, or --force to replace a run")
        if not (out / MANIFEST).exists():
            raise UserError(f"{out} is not a simulator output folder; refusing to delete it")
        shutil.rmtree(out)
    progress = Progress(config.days * config.events_per_day, "simulate")
    manifest = simulate(config, out, progress)
    progress.close()
    records = manifest["raw_records"]
    print(
        f"wrote {out}: "
        + ", ".join(f"{records[s]['total']} {s} records" for s in sorted(records))
        + f"; ground truth in {out / MANIFEST}",
        file=sys.stderr,
    )
    if args.kafka:
        return _publish(out, settings)
    return 0


def _publish(out: Path, settings: settings_module.Settings) -> int:
    from adplatform.simulator.manifest import load
    from adplatform.simulator.progress import Progress
    from adplatform.simulator.publish import TOPICS, publish

    raw = load(out)["raw_records"]
    total = sum(raw.get(t, {}).get("total", 0) for t in TOPICS)
    progress = Progress(total, "publish")
    result = publish(out, settings, progress)
    progress.close()
    print(
        f"published {result.records} records to {settings.kafka_bootstrap} "
        f"in {result.seconds:.1f} s ({result.records_per_s:,.0f} records/s)",
        file=sys.stderr,
    )
    return 0
