"""The simulator's output: deterministic, complete, and shaped like an ad business."""

from __future__ import annotations

import csv
import json
import time
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import fastavro
import pytest

from adplatform import contracts
from adplatform.simulator import faults
from adplatform.simulator.generate import SimConfig, simulate
from adplatform.simulator.manifest import load


def test_same_seed_gives_identical_files_and_manifest(default_run, tmp_path):
    out, manifest = default_run
    started = time.monotonic()
    again = simulate(SimConfig(), tmp_path / "again")
    seconds = time.monotonic() - started
    assert again == manifest
    assert (tmp_path / "again" / "manifest.json").read_bytes() == (
        out / "manifest.json"
    ).read_bytes()
    assert len(manifest["files"]) > 200
    # The default run is meant for unit tests and demos: a few seconds, not minutes.
    assert seconds < 30, f"default run took {seconds:.1f} s"


def test_another_seed_gives_other_data(default_run, tmp_path):
    _, manifest = default_run
    other = simulate(SimConfig(seed=43, days=1), tmp_path / "other")
    shared = set(other["files"]) & set(manifest["files"])
    assert shared
    assert all(other["files"][f] != manifest["files"][f] for f in shared if "kafka/" in f)


def test_fault_rates_do_not_change_the_clean_events(tmp_path):
    clean = simulate(SimConfig(days=1, fault_rates=faults.rates(0, {})), tmp_path / "clean")
    faulty = simulate(SimConfig(days=1, fault_rates=faults.rates(0.03, {})), tmp_path / "faulty")
    generated = {
        s: {d: v["generated"] for d, v in days.items()} for s, days in clean["sources"].items()
    }
    assert generated == {
        s: {d: v["generated"] for d, v in days.items()} for s, days in faulty["sources"].items()
    }
    assert all(not kinds for kinds in clean["faults_total"].values())
    # Without faults the reference quarantines nothing and counts no duplicate.
    for days in clean["expected"]["outcomes"].values():
        for o in days.values():
            assert o["quarantined"] == {} and o["duplicates"] == 0


def test_manifest_counts_and_events_per_day(default_run):
    out, manifest = default_run
    assert load(out) == manifest
    impressions = manifest["sources"]["impressions"]
    assert {d: v["generated"] for d, v in impressions.items()} == {
        "2025-01-06": 2000,
        "2025-01-07": 2000,
        "2025-01-08": 2000,
    }
    for day, entry in manifest["sources"]["bid_requests"].items():
        assert 2.5 * 2000 < entry["imps"] < 6 * 2000, day  # bids about 4x impressions
    rows = manifest["expected"]["campaign_daily"]
    assert {r["dt"] for r in rows} == {"2025-01-06", "2025-01-07", "2025-01-08"}
    curated = sum(o["curated"] for o in manifest["expected"]["outcomes"]["impressions"].values())
    assert sum(r["impressions"] for r in rows) == curated
    assert manifest["rules"]["click_window_s"] == 24 * 3600
    assert manifest["rules"]["late_grace_s"] == 6 * 3600


def test_click_through_rates_look_like_display_advertising(default_run):
    _, manifest = default_run
    rows = manifest["expected"]["campaign_daily"]
    impressions = sum(r["impressions"] for r in rows)
    clicks = sum(r["clicks"] for r in rows)
    assert 0.0005 <= clicks / impressions <= 0.02
    per_campaign: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        per_campaign[r["campaign_id"]][0] += r["impressions"]
        per_campaign[r["campaign_id"]][1] += r["clicks"]
    for campaign, (imps, clk) in per_campaign.items():
        if imps >= 300:
            assert clk / imps <= 0.02, campaign


def test_win_rate_and_second_price(default_run):
    out, manifest = default_run
    for day, entry in manifest["expected"]["win_rate"].items():
        assert 0.15 <= entry["won_imps"] / entry["bid_imps"] <= 0.4, day
    floors = {}
    for path in sorted((out / "bid_requests_archive").glob("*.avro")):
        with path.open("rb") as fo:
            for req in fastavro.reader(fo):
                for imp in req["imp"]:
                    floors[req["id"], imp["id"]] = imp["bidfloor"]
    prices = []
    for obj in _log_objects(out):
        key = (obj.get("request_id"), obj.get("imp_id"))
        price = obj.get("win_price_micros")
        if key in floors and type(price) is int and price >= 0:
            # Paid per impression, in micros: at least the CPM floor / 1000.
            assert price >= round(floors[key] * 1000)
            prices.append(price)
    assert len(prices) > 5000


def _log_objects(out: Path):
    for path in sorted((out / "adserver_logs").glob("*.log")):
        for line in path.read_bytes().splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                yield obj


def test_traffic_curve_returning_users_geos_and_devices(default_run):
    out, manifest = default_run
    hours = Counter()
    for hour, n in manifest["raw_records"]["ad_impressions"]["by_arrival_hour"].items():
        hours[hour[-2:]] += n
    assert hours["20"] > 3 * hours["03"]  # evening peak against the night
    users_by_day: dict[str, set] = defaultdict(set)
    countries, devices, zones = Counter(), Counter(), Counter()
    for obj in _log_objects(out):
        ts = obj.get("event_ts")
        if isinstance(ts, str) and len(ts) >= 10:
            users_by_day[ts[:10]].add(obj.get("user_id"))
            zones[ts[23:]] += 1
        countries[(obj.get("geo") or {}).get("country")] += 1
        devices[(obj.get("device") or {}).get("type")] += 1
    day1, day2 = users_by_day["2025-01-06"], users_by_day["2025-01-07"]
    assert len(day1 & day2) / len(day2) > 0.3  # people come back
    assert len([c for c, n in countries.items() if n > 50]) >= 6
    assert set(devices) >= {"desktop", "mobile", "tablet", "ctv"}
    assert zones["Z"] > 0 and zones["+01:00"] > 0  # EU ad servers log local time


def test_conversions_come_hours_or_days_after_the_click(faulty_run):
    out, _ = faulty_run
    clicks, conversions = defaultdict(list), []
    for path in sorted((out / "tracking_inbox").glob("*.csv")):
        with path.open(encoding="utf-8", errors="replace") as fo:
            for row in csv.reader(fo):
                if len(row) == 8 and row[0] == "click" and row[2].endswith("Z"):
                    clicks[row[3], row[4]].append(row[2])
                elif len(row) == 8 and row[0] == "conversion" and row[2].endswith("Z"):
                    conversions.append((row[3], row[4], row[2]))
    later_day = [
        c for c in conversions if any(t[:10] < c[2][:10] and t < c[2] for t in clicks[c[0], c[1]])
    ]
    assert later_day, "no conversion crosses a day boundary after its click"


def test_dimension_files(default_run):
    out, _ = default_run
    with (out / "dims" / "campaigns.csv").open() as fo:
        campaigns = list(csv.DictReader(fo))
    with (out / "dims" / "users.csv").open() as fo:
        users = list(csv.DictReader(fo))
    assert len(campaigns) == 12 and len(users) == 3000
    assert {c["pricing_model"] for c in campaigns} <= {"CPM", "CPC", "CPA"}
    for c in campaigns:
        assert date.fromisoformat(c["flight_start"]) <= date.fromisoformat(c["flight_end"])
        assert int(c["budget_micros"]) > 0
    assert {u["age_band"] for u in users} == {"18-24", "25-34", "35-44", "45-54", "55-64", "65+"}
    assert {u["gender"] for u in users} == {"M", "F", "O", "U"}
    campaign_ids = {c["campaign_id"] for c in campaigns}
    user_ids = {u["user_id"] for u in users}
    for obj in _log_objects(out):
        if isinstance(obj.get("campaign_id"), str) and obj["campaign_id"]:
            assert obj["campaign_id"] in campaign_ids
        if isinstance(obj.get("user_id"), str) and obj["user_id"]:
            assert obj["user_id"] in user_ids


def test_bid_request_archive_is_a_standard_avro_container(default_run):
    out, manifest = default_run
    total = 0
    for path in sorted((out / "bid_requests_archive").glob("*.avro")):
        with path.open("rb") as fo:
            reader = fastavro.reader(fo)
            assert reader.writer_schema["name"] == "com.advertisex.openrtb.BidRequest"
            total += sum(1 for _ in reader)
    assert total == sum(e["generated"] for e in manifest["sources"]["bid_requests"].values())


def test_kafka_records_are_sorted_by_arrival_and_keyed(default_run):
    out, _ = default_run
    for topic in (contracts.TOPIC_BID_REQUESTS, contracts.TOPIC_AD_IMPRESSIONS):
        for path in sorted((out / "kafka" / topic).glob("*.avro")):
            with path.open("rb") as fo:
                records = list(fastavro.reader(fo))
            stamps = [r["timestamp_ms"] for r in records]
            assert stamps == sorted(stamps)
            if topic == contracts.TOPIC_BID_REQUESTS:
                assert all(r["key"] for r in records)


@pytest.mark.parametrize("bad", [{"days": 0}, {"users": 0}, {"events_per_day": -1}])
def test_config_is_checked(bad):
    with pytest.raises(ValueError):
        SimConfig(**bad)


def test_output_folder_must_be_new_or_empty(tmp_path):
    (tmp_path / "x").write_text("keep me")
    with pytest.raises(FileExistsError):
        simulate(SimConfig(days=1, events_per_day=10), tmp_path)
