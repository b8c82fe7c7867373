"""The ground-truth manifest of a run: what was generated, which faults were injected, and
what the pipeline must produce (docs/simulator.md, "The manifest")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adplatform import contracts
from adplatform.simulator import reference
from adplatform.simulator.writers import FAULT_LOG, MANIFEST, Output

MANIFEST_VERSION = 1


def build_manifest(config: Any, out: Output, stats: Any) -> dict[str, Any]:
    """Compute the truth from the files on disk, then write and return ``manifest.json``."""
    truth = reference.compute_truth(out.root, config.rules)
    faults_total: dict[str, dict[str, int]] = {}
    by_source = stats.by_source()
    for source, days in by_source.items():
        totals: dict[str, int] = {}
        for entry in days.values():
            for kind, n in entry["faults"].items():
                totals[kind] = totals.get(kind, 0) + n
        faults_total[source] = dict(sorted(totals.items()))
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "config": config.as_dict(),
        "rules": config.rules.as_dict(),
        "bid_request_schema": {
            "version": contracts.BID_REQUEST_VERSION,
            "wire_schema_id": contracts.local_schema_id(contracts.BID_REQUEST_VERSION),
        },
        "topics": {
            "bid_requests": contracts.TOPIC_BID_REQUESTS,
            "impressions": contracts.TOPIC_AD_IMPRESSIONS,
        },
        "sources": by_source,
        "faults_total": faults_total,
        "fault_log": FAULT_LOG,
        "raw_records": {
            source: {"total": sum(hours.values()), "by_arrival_hour": dict(sorted(hours.items()))}
            for source, hours in sorted(stats.records.items())
        },
        "expected": truth,
        "files": out.file_hashes(),
    }
    out.write_json(MANIFEST, manifest)
    return manifest


def load(out_dir: Path) -> dict[str, Any]:
    return json.loads((Path(out_dir) / MANIFEST).read_text(encoding="utf-8"))
