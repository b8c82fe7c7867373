"""Consumer lag: Kafka's newest offsets against what the query read (stream_monitor/monitor.py)."""

from __future__ import annotations

from spark_jobs.stream_monitor.monitor import offsets_behind, parse_offsets


def test_the_partition_furthest_behind_counts_per_topic():
    latest = {"bid_requests": {"0": 120, "1": 90}, "ad_impressions": {"0": 40, "1": 41}}
    read = parse_offsets('{"bid_requests":{"0":100,"1":90},"ad_impressions":{"0":40,"1":41}}')
    assert offsets_behind(latest, read) == {"bid_requests": 20, "ad_impressions": 0}


def test_a_partition_not_read_yet_is_behind_by_all_it_holds():
    # A partition that appeared after the batch was planned is read from its start next time.
    latest = {"bid_requests": {"0": 5, "2": 7}}
    assert offsets_behind(latest, {"bid_requests": {"0": 5}}) == {"bid_requests": 7}
    assert offsets_behind(latest, {}) == {"bid_requests": 7}
    assert parse_offsets(None) == {}
