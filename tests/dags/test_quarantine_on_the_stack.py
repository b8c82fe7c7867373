"""The quarantine the scheduled pipeline wrote (the session's ``daily_pipeline``: two days of
simulator data with faults, run by Airflow on the test stack) holds only sealed payloads,
and ``adplatform quarantine show`` opens them through HiveServer2 with the stack's key."""

from __future__ import annotations

import argparse
import base64
import io
import re

import pytest

from adplatform import keyring, quarantine
from adplatform.stack.airflow import pseudonym_key
from tests.dags.pipeline_fixtures import hive_cursor

pytestmark = [pytest.mark.stack, pytest.mark.slow]

IPV4 = re.compile(rb"\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b")


def test_scheduled_runs_quarantine_only_sealed_payloads_that_show_opens(daily_pipeline):
    settings, days = daily_pipeline.settings, daily_pipeline.days
    # The key the stack generated and gave the jobs through Airflow's environment.
    keyed = settings.with_overrides(pseudonym_key=pseudonym_key(settings))
    ring = keyring.from_settings(keyed)
    window = f"dt BETWEEN DATE '{days[0]}' AND DATE '{days[-1]}'"
    with hive_cursor(settings) as cur:
        cur.execute(
            "SELECT count(*), sum(CASE WHEN hex(substring(raw_payload, 1, 1)) = '01' "
            f"THEN 1 ELSE 0 END) FROM adtech.quarantine WHERE {window}"
        )
        total, version_1 = cur.fetchone()
    assert total > 0 and version_1 == total  # every row names key version 1

    fetch = quarantine.fetch_hiveserver2(keyed)
    rows = [row for day in days for row in fetch(quarantine.Selection(day, limit=None).query())]
    records = quarantine.opened(rows, ring)
    assert len(records) == total
    sealed = [base64.b64decode(row[5]) for row in rows]
    ips = {ip for r in records for ip in IPV4.findall(r.payload or b"")}
    assert ips, "the faults of the simulated days quarantine records that hold IPs"
    assert not any(ip in s for ip in ips for s in sealed)
    assert not any(r.payload and len(r.payload) >= 8 and r.payload in s
                   for r, s in zip(records, sealed, strict=True))  # fmt: skip

    out = io.StringIO()
    args = argparse.Namespace(
        action="show", day=days[0], source=None, reason=None, limit=3, hour=None
    )
    assert quarantine.main(args, keyed, out=out) == 0
    shown = out.getvalue()
    day_rows = sum(1 for r in records if r.dt == days[0].isoformat())
    assert shown.endswith(f"{min(3, day_rows)} quarantined record(s)\n")
    assert shown.count("key_version=1") == min(3, day_rows)
