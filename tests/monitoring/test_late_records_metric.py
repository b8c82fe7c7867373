"""adtech_landing_late_records against a real Pushgateway: pushed by a landing run (0 too, so
the gauge says the latest run had none), with run_id and source, never by other jobs."""

from __future__ import annotations

from adplatform.metrics import BatchRun

from .test_metrics_helper import Clock, adtech_samples, run_labels, sample


def test_a_landing_run_pushes_its_late_records_with_run_id_and_source(pushgateway: str) -> None:
    with BatchRun("land_kafka", "bid_requests", "r1", gateway=pushgateway, clock=Clock(5.0)) as r:
        r.late_records(0)
        r.late_records(12)
    with BatchRun("land_kafka", "ad_impressions", "r1", gateway=pushgateway, clock=Clock(5.0)) as r:
        r.late_records(0)
    with BatchRun("clean_impressions", "impressions", "d1", gateway=pushgateway) as r:
        r.rows_read(3)

    late = {s for s in adtech_samples(pushgateway) if s[0] == "adtech_landing_late_records"}
    assert late == {
        sample("adtech_landing_late_records", 12, **run_labels("land_kafka", "bid_requests", "r1")),
        sample(
            "adtech_landing_late_records", 0, **run_labels("land_kafka", "ad_impressions", "r1")
        ),
    }
