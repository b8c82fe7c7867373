"""Copies of a simulated day: ids apart per copy, so the day's truth is copies times the base's."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import pytest

from adplatform.contracts import Rules
from adplatform.simulator import faults
from adplatform.simulator.generate import SimConfig, simulate
from bench import pipeline, replicate
from bench.peer import JOBS, PeerJob

DAY = date(2025, 3, 3)
COPIES = 3
PEER_JOBS = tuple(job for job in JOBS if job != "report")


def test_every_copy_rewrites_an_id_its_own_way():
    body = b"0123456789abcdef"
    ids = [replicate.rewrite_id(body, c) for c in range(8)]
    assert ids[0] == body
    assert ids[1] == b"g123456789abcdef"
    assert ids[2] == b"0h23456789abcdef"
    assert ids[3] == b"gh23456789abcdef"
    assert len(set(ids)) == 8 and {len(i) for i in ids} == {16}


def test_ids_are_rewritten_in_json_csv_and_avro_but_nothing_else():
    line = (
        b'{"impression_id":"imp-e4b5b5d5d3aa60ac","request_id":"4d801ce291fa0c66b032",'
        b'"user_id":"u-c8b35074b6fa","campaign_id":"cmp-0005","creative_id":"cr-0005-3"}'
    )
    assert replicate.rewrite_ids(line, 1) == (
        b'{"impression_id":"imp-u4b5b5d5d3aa60ac","request_id":"kd801ce291fa0c66b032",'
        b'"user_id":"u-s8b35074b6fa","campaign_id":"cmp-0005","creative_id":"cr-0005-3"}'
    )
    row = b"click,clk-71efa1c72aa0eb5a,2025-03-03T10:45:45Z,u-cc714790200c,cmp-0009,imp-0f\n"
    assert replicate.rewrite_ids(row, 2) == (
        b"click,clk-7hefa1c72aa0eb5a,2025-03-03T10:45:45Z,u-cs714790200c,cmp-0009,imp-0f\n"
    )
    avro = b"\x00\xff\xff\xff\xfe(549b6dca7c57cb3f79a9\xc8\xa1\x1cu-647dd2100036\x02"
    assert replicate.rewrite_bid_request(avro, 1) == (
        b"\x00\xff\xff\xff\xfe(l49b6dca7c57cb3f79a9\xc8\xa1\x1cu-m47dd2100036\x02"
    )
    assert replicate.rewrite_key(b"549b6dca7c57cb3f79a9", 1) == b"l49b6dca7c57cb3f79a9"


def test_a_csv_keeps_one_header():
    text = b"user_id,country\nu-000018fff272,FR\n"
    assert replicate.csv_copies(text, 2) == (
        b"user_id,country\nu-000018fff272,FR\nu-g00018fff272,FR\n"
    )


def test_the_manifest_counts_scale_and_ratios_do_not(tmp_path):
    manifest = {
        "config": {"events_per_day": 10, "users": 4, "campaigns": 2},
        "sources": {"impressions": {"2025-03-03": {"generated": 10}}},
        "faults_total": {"impressions": {"duplicate": 1}},
        "raw_records": {"ad_impressions": {"total": 11}},
        "files": {"a": "hash"},
        "fault_log": "faults.jsonl",
        "expected": {
            "campaign_daily": [{"dt": "2025-03-03", "campaign_id": "cmp-0001", "clicks": 2}],
            "win_rate": {"2025-03-03": {"bid_imps": 30, "won_imps": 10}},
            "outcomes": {"impressions": {"2025-03-03": {"in": 11, "quarantined": {"x": 1}}}},
            "attributions": [{"conversion": "cnv-00000000000000aa", "touch_id": None}],
        },
    }
    scaled = replicate.scaled_manifest(manifest, 2)
    assert scaled["config"] == {"events_per_day": 20, "users": 8, "campaigns": 2}
    assert scaled["expected"]["campaign_daily"][0]["clicks"] == 4
    assert scaled["expected"]["win_rate"]["2025-03-03"] == {"bid_imps": 60, "won_imps": 20}
    assert scaled["expected"]["outcomes"]["impressions"]["2025-03-03"]["quarantined"]["x"] == 2
    assert [a["conversion"] for a in scaled["expected"]["attributions"]] == [
        "cnv-00000000000000aa",
        "cnv-g0000000000000aa",
    ]
    assert manifest["config"]["users"] == 4  # the base manifest is left alone


def test_a_volume_too_large_to_generate_is_planned_as_copies(monkeypatch, tmp_path):
    monkeypatch.setattr(pipeline, "DATA", tmp_path)
    assert pipeline.plan_day(20_000_000, 0.002, available_mb=21_000) == (5_000_000, 4)
    assert pipeline.plan_day(5_000_000, 0.002, available_mb=21_000) == (5_000_000, 1)
    base = pipeline.simulation_folder(2_000_000, 0.002)
    base.mkdir()
    (base / "manifest.json").write_text("{}")
    pipeline.generation_record(base).write_text("{}")
    assert pipeline.plan_day(20_000_000, 0.002, available_mb=21_000) == (2_000_000, 10)
    assert pipeline.plan_day(10**12, 0.002, available_mb=21_000) is None


def _quarantine(peer_root: Path) -> Counter:
    glob = peer_root / "tables" / "quarantine" / "**" / "*.parquet"
    rows = duckdb.connect().execute(
        f"SELECT source, reason, count(*) FROM read_parquet('{glob}') GROUP BY ALL"
    )
    return Counter({(s, r): n for s, r, n in rows.fetchall()})


@pytest.fixture(scope="module")
def days(tmp_path_factory):
    """One simulated day with faults, run through the peer whole and as three copies."""
    root = tmp_path_factory.mktemp("copies")
    config = SimConfig(start_date=DAY, days=1, events_per_day=1500, campaigns=6, users=900,
                       fault_rates=faults.rates(0.01, {}))  # fmt: skip
    manifest = simulate(config, root / "sim")
    out = {}
    for copies in (1, COPIES):
        lake, peer = root / f"lake-{copies}", root / f"peer-{copies}"
        landed = pipeline.land(root / "sim", pipeline.bench_settings(lake), copies)
        job = PeerJob(lake, peer, DAY, pipeline.BENCH_KEY, Rules())
        for name in PEER_JOBS:
            job.run(name)
        out[copies] = {
            "landed": landed,
            "daily": pipeline._rows(
                str(peer / "tables" / "campaign_daily" / f"dt={DAY}" / "*.parquet")
            ),
            "peer": peer,
        }
    return manifest, out


def test_copies_land_every_record_copies_times(days):
    _, out = days
    base, copied = out[1]["landed"], out[COPIES]["landed"]
    for topic in ("ad_impressions", "bid_requests"):
        assert copied[topic] == COPIES * base[topic]
    assert copied["tracking_files"] == base["tracking_files"]


def test_copies_equal_the_scaled_ground_truth_campaign_by_campaign(days):
    manifest, out = days
    truth = replicate.scaled_manifest(manifest, COPIES)["expected"]
    want = {r["campaign_id"]: r for r in truth["campaign_daily"] if r["dt"] == DAY.isoformat()}
    got = out[COPIES]["daily"]
    assert sorted(got) == sorted(want)
    for campaign, row in want.items():
        counted = {c: got[campaign][c] for c in pipeline.COUNTED}
        assert counted == {c: row[c] for c in pipeline.COUNTED}, campaign
        assert got[campaign]["bid_imps"] == truth["win_rate"][DAY.isoformat()]["bid_imps"]
    base = out[1]["daily"]
    for campaign in want:
        assert got[campaign]["impressions"] == COPIES * base[campaign]["impressions"]
        for ratio in pipeline.RATIOS:
            assert pipeline._same(got[campaign][ratio], base[campaign][ratio]) or (
                got[campaign][ratio] is base[campaign][ratio] is None
            ), (campaign, ratio)


def test_copies_quarantine_every_bad_record_copies_times(days):
    _, out = days
    base, copied = _quarantine(out[1]["peer"]), _quarantine(out[COPIES]["peer"])
    assert sum(base.values()) > 0
    assert copied == Counter({key: COPIES * n for key, n in base.items()})


def test_a_landing_is_reused_only_for_the_same_day_and_copies(tmp_path):
    lake = tmp_path / "lake"
    for folder in ("landing/ad_impressions", "dims", "warehouse/adtech.db"):
        (lake / folder).mkdir(parents=True)
    landing = {"seconds": 12.5, "ad_impressions": 10, "bid_requests": 40, "tracking_files": 2}
    record = {"sim": "sim-5-f0.002", "copies": 2, "landing": landing}
    (lake / pipeline.LANDING_RECORD).write_text(json.dumps(record))
    assert pipeline.reused_landing(lake, Path("sim-5-f0.002"), 3) is None
    assert pipeline.reused_landing(lake, Path("sim-6-f0.002"), 2) is None
    assert (lake / "warehouse").exists()
    assert pipeline.reused_landing(lake, Path("sim-5-f0.002"), 2) == {**landing, "reused": True}
    assert sorted(p.name for p in lake.iterdir()) == ["dims", "landing", "landing.json"]
