"""The volume baseline and the minutes it learns from (spark_jobs/stream_monitor/baseline.py)."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from spark_jobs.stream_monitor.baseline import WARMUP, MinuteVolumes, VolumeBaseline

T0 = datetime(2026, 3, 2, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def daily_curve(at: datetime) -> float:
    """Records per minute of a topic with a quiet night and a busy evening (peak 18:00)."""
    hours = at.hour + at.minute / 60
    return 1000 * (1 + 0.8 * math.sin(2 * math.pi * (hours - 12) / 24))


def traffic(rng: random.Random, expected: float) -> int:
    """A Poisson-like count around ``expected``."""
    return max(0, round(rng.gauss(expected, math.sqrt(expected))))


def run_days(baseline: VolumeBaseline, days: int, rng: random.Random) -> list[float]:
    scores = []
    for minute in range(days * 24 * 60):
        at = T0 + minute * MINUTE
        scores.append(baseline.observe("t", at, traffic(rng, daily_curve(at))).score)
    return scores


def test_a_daily_curve_is_learnt_and_scores_stay_quiet():
    baseline, rng = VolumeBaseline(), random.Random(7)
    scores = run_days(baseline, 3, rng)
    later = scores[24 * 60 :]
    # Poisson noise alone: |z| >= 3 in about 0.3 % of the minutes, never the 10 in a row
    # that an alert needs.
    assert sum(abs(z) >= 3 for z in later) / len(later) < 0.01
    for hour in (3, 9, 18, 22):
        at = T0 + timedelta(days=3, hours=hour)
        hourly = sum(daily_curve(at + i * MINUTE) for i in range(60)) / 60
        assert baseline.expected("t", at) == pytest.approx(hourly, rel=0.05)


def test_a_drop_scores_far_below_and_is_not_learnt_as_normal():
    baseline, rng = VolumeBaseline(), random.Random(11)
    run_days(baseline, 2, rng)
    outage_start = T0 + timedelta(days=2, hours=14)
    before = baseline.expected("t", outage_start)
    scores = [
        baseline.observe("t", outage_start + i * MINUTE, round(0.1 * daily_curve(outage_start)))
        for i in range(15)
    ]
    # Every minute of a 15-minute outage scores <= -3: the 10-minute alert fires.
    assert all(s.score <= -3 for s in scores), [round(s.score, 1) for s in scores]
    assert baseline.expected("t", outage_start) > 0.9 * before


def test_a_spike_scores_far_above():
    baseline, rng = VolumeBaseline(), random.Random(13)
    run_days(baseline, 2, rng)
    at = T0 + timedelta(days=2, hours=10)
    score = baseline.observe("t", at, 3 * round(daily_curve(at)))
    assert score.score >= 4


def test_no_score_before_warm_up_and_an_unseen_hour_expects_the_hour_before():
    baseline = VolumeBaseline()
    scores = [baseline.observe("t", T0 + i * MINUTE, 100 if i % 2 else 300) for i in range(WARMUP)]
    assert [s.score for s in scores] == [0.0] * WARMUP
    assert baseline.buckets["t"][0].mean == pytest.approx(200)  # a plain average so far
    assert baseline.observe("t", T0 + WARMUP * MINUTE, 5000).score > 4
    one_am = T0 + timedelta(hours=1)
    assert baseline.expected("t", one_am) == baseline.buckets["t"][0].mean
    assert baseline.observe("t", one_am, 5000).score == 0.0


def test_the_state_survives_json():
    baseline, rng = VolumeBaseline(), random.Random(3)
    run_days(baseline, 1, rng)
    restored = VolumeBaseline.from_json(json.loads(json.dumps(baseline.to_json())))
    assert restored.buckets == baseline.buckets
    assert VolumeBaseline.from_json({"version": 999}).buckets == {}


def test_minutes_close_with_zeros_and_never_the_partial_first_one():
    started = T0 + timedelta(seconds=30)
    volumes = MinuteVolumes(("a", "b"), started)
    volumes.add("a", started, 7)  # the minute the monitor started in: not scored
    volumes.add("a", T0 + timedelta(minutes=1, seconds=5), 10)
    volumes.add("a", T0 + timedelta(minutes=1, seconds=50), 5)
    volumes.add("b", T0 + timedelta(minutes=3), 4)
    assert volumes.close(T0 + timedelta(minutes=1, seconds=59), None) == []
    assert volumes.close(T0 + timedelta(minutes=4, seconds=1), None) == [
        ("a", T0 + MINUTE, 15),
        ("b", T0 + MINUTE, 0),
        ("a", T0 + 2 * MINUTE, 0),
        ("b", T0 + 2 * MINUTE, 0),
        ("a", T0 + 3 * MINUTE, 0),
        ("b", T0 + 3 * MINUTE, 4),
    ]


def test_a_minute_stays_open_while_a_batch_of_it_runs():
    volumes = MinuteVolumes(("a",), T0)
    running_since = T0 + timedelta(minutes=1, seconds=55)
    assert volumes.close(T0 + timedelta(minutes=2, seconds=20), running_since) == []
    volumes.add("a", running_since, 9)
    assert volumes.close(T0 + timedelta(minutes=2, seconds=21), None) == [("a", T0 + MINUTE, 9)]
