"""Consumer lag from the offsets in Spark's progress reports (stream_monitor/monitor.py)."""

from __future__ import annotations

from spark_jobs.stream_monitor.monitor import offsets_behind


def test_the_partition_furthest_behind_counts_per_topic():
    latest = '{"bid_requests":{"0":120,"1":90},"ad_impressions":{"0":40,"1":41}}'
    end = '{"bid_requests":{"0":100,"1":90},"ad_impressions":{"0":40,"1":41}}'
    assert offsets_behind(latest, end) == {"bid_requests": 20, "ad_impressions": 0}


def test_a_partition_not_read_yet_is_behind_by_all_it_holds_and_no_report_means_no_numbers():
    # A partition that appeared after the batch was planned is read from its start next time.
    latest = '{"bid_requests":{"0":5,"2":7}}'
    end = '{"bid_requests":{"0":5}}'
    assert offsets_behind(latest, end) == {"bid_requests": 7}
    assert offsets_behind(None, end) == {}
