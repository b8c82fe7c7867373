"""Builds the Grafana dashboards in monitoring/grafana/dashboards/ from code.

The queries take their metric names from adplatform/metrics.py, so a renamed metric breaks
here instead of silently in a panel. The JSON files are committed (Grafana's file provisioner
reads them as they are); a test fails when they differ from what this script writes.

    .venv/bin/python monitoring/grafana/build_dashboards.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from adplatform import metrics as m

DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"
# Grafana 11's dashboard JSON model; the provisioner migrates older ones, never newer ones.
SCHEMA_VERSION = 39
# uid of the datasource in provisioning/datasources/prometheus.yml, the variable's default.
DATASOURCE_UID = "adtech-prometheus"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
FULL_WIDTH = 24


def datasource_variable() -> dict:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {"text": "Prometheus", "value": DATASOURCE_UID},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "refresh": 1,
        "regex": "",
    }


def query_variable(name: str, label: str, query: str) -> dict:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {
            "qryType": 1,
            "query": query,
            "refId": "PrometheusVariableQueryEditor-VariableQuery",
        },
        "current": {"text": "All", "value": "$__all"},
        "hide": 0,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "options": [],
        "refresh": 2,
        "regex": "",
        "sort": 1,
    }


def custom_variable(name: str, label: str, values: tuple[str, ...]) -> dict:
    return {
        "name": name,
        "label": label,
        "type": "custom",
        "query": ",".join(values),
        "current": {"text": "All", "value": "$__all"},
        "hide": 0,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "options": [],
    }


def target(expr: str, legend: str = "", ref: str = "A", table: bool = False) -> dict:
    t = {"refId": ref, "datasource": DATASOURCE, "expr": expr, "editorMode": "code"}
    if table:
        t.update({"format": "table", "instant": True, "range": False})
    else:
        t.update({"legendFormat": legend or "__auto", "range": True, "instant": False})
    return t


def thresholds(*steps: tuple[float | None, str]) -> dict:
    return {
        "mode": "absolute",
        "steps": [{"color": color, "value": value} for value, color in steps],
    }


GREEN_ONLY = thresholds((None, "green"))


def timeseries(
    title: str, description: str, targets: list[dict], unit: str, *, steps: dict = GREEN_ONLY
) -> dict:
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": targets,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "min": None if unit in {"none", "short"} else 0,
                "thresholds": steps,
                "custom": {
                    "drawStyle": "line",
                    "lineWidth": 1,
                    "fillOpacity": 10,
                    "showPoints": "never",
                    "spanNulls": False,
                    "thresholdsStyle": {"mode": "off" if steps is GREEN_ONLY else "line"},
                },
            },
            "overrides": [],
        },
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }


def stat(title: str, description: str, expr: str, unit: str, steps: dict) -> dict:
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": [target(expr, legend=title)],
        "fieldConfig": {"defaults": {"unit": unit, "thresholds": steps}, "overrides": []},
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "auto",
        },
    }


def bargauge(title: str, description: str, expr: str, legend: str, unit: str, steps: dict) -> dict:
    return {
        "type": "bargauge",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": [target(expr, legend=legend)],
        "fieldConfig": {"defaults": {"unit": unit, "min": 0, "thresholds": steps}, "overrides": []},
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "displayMode": "basic",
            "orientation": "horizontal",
            "showUnfilled": True,
        },
    }


def table(
    title: str,
    description: str,
    columns: list[tuple[str, str]],
    rename: dict,
    units: dict | None = None,
) -> dict:
    """An instant table: one query per (column name, expr), merged on their labels."""
    targets = [
        target(expr, ref=chr(ord("A") + i), table=True) for i, (_, expr) in enumerate(columns)
    ]
    value_names = {
        (f"Value #{chr(ord('A') + i)}" if len(columns) > 1 else "Value"): name
        for i, (name, _) in enumerate(columns)
    }
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": targets,
        "fieldConfig": {
            "defaults": {"thresholds": GREEN_ONLY},
            "overrides": [
                {
                    "matcher": {"id": "byName", "options": column},
                    "properties": [{"id": "unit", "value": unit}],
                }
                for column, unit in (units or {}).items()
            ],
        },
        "options": {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}},
        "transformations": [
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True, "__name__": True, "instance": True},
                    "renameByName": {**rename, **value_names},
                },
            },
        ],
    }


def row(title: str) -> dict:
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


def layout(items: list[tuple[dict, int, int]]) -> list[dict]:
    """Give each (panel, width, height) an id and a place, filling rows left to right."""
    panels, x, y, row_height = [], 0, 0, 0
    for number, (panel, width, height) in enumerate(items, start=1):
        if panel["type"] == "row" or x + width > FULL_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        placed = {"id": number, "gridPos": {"h": height, "w": width, "x": x, "y": y}, **panel}
        panels.append(placed)
        x, row_height = x + width, max(row_height, height)
        if panel["type"] == "row":
            x, y, row_height = 0, y + height, 0
    return panels


def dashboard(uid: str, title: str, description: str, variables: list[dict], items) -> dict:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["adtech"],
        "timezone": "utc",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "links": [],
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "templating": {"list": [datasource_variable(), *variables]},
        "panels": layout(items),
    }


# ---------------------------------------------------------------------------------------------


def ingestion() -> dict:
    t = '{topic=~"$topic"}'
    rate = "$__rate_interval"
    return dashboard(
        "adtech-ingestion",
        "AdTech / Ingestion",
        "What arrives in Kafka, per topic, from the stream monitor; and landing to HDFS.",
        [query_variable("topic", "Topic", f"label_values({m.STREAM_RECORDS_TOTAL}, topic)")],
        [
            (row("Volume"), FULL_WIDTH, 1),
            (
                timeseries(
                    "Records per second",
                    "Records read from each topic, good or bad.",
                    [
                        target(
                            f"sum by (topic) (rate({m.STREAM_RECORDS_TOTAL}{t}[{rate}]))",
                            "{{topic}}",
                        )
                    ],
                    "cps",
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Bytes per second",
                    "Bytes of record values read from each topic.",
                    [
                        target(
                            f"sum by (topic) (rate({m.STREAM_BYTES_TOTAL}{t}[{rate}]))", "{{topic}}"
                        )
                    ],
                    "Bps",
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Records per minute against the baseline",
                    "Actual volume and the moving baseline's expectation for this time of day.",
                    [
                        target(
                            f"sum by (topic) (rate({m.STREAM_RECORDS_TOTAL}{t}[5m])) * 60",
                            "{{topic}} actual",
                        ),
                        target(
                            f"max by (topic) ({m.STREAM_VOLUME_EXPECTED_RECORDS}{t})",
                            "{{topic}} expected",
                            ref="B",
                        ),
                    ],
                    "short",
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Volume anomaly score",
                    "Standard deviations from the baseline. Alerts: below -3 "
                    "(IngestionVolumeDrop), above 4 (IngestionVolumeSpike).",
                    [target(f"max by (topic) ({m.STREAM_VOLUME_ANOMALY_SCORE}{t})", "{{topic}}")],
                    "none",
                    steps=thresholds((None, "red"), (-3, "green"), (4, "orange")),
                ),
                12,
                8,
            ),
            (row("Bad records"), FULL_WIDTH, 1),
            (
                timeseries(
                    "Parse error ratio",
                    "Share of records that could not be decoded. Alert: ParseErrorRateHigh "
                    "(1% warning, 10% critical).",
                    [
                        target(
                            f"sum by (topic) (rate({m.STREAM_PARSE_ERRORS_TOTAL}{t}[{rate}])) / "
                            f"sum by (topic) (rate({m.STREAM_RECORDS_TOTAL}{t}[{rate}]))",
                            "{{topic}}",
                        )
                    ],
                    "percentunit",
                    steps=thresholds((None, "green"), (0.01, "orange"), (0.1, "red")),
                ),
                8,
                8,
            ),
            (
                timeseries(
                    "Schema violation ratio",
                    "Share of decoded records that break the schema. Alert: "
                    "SchemaViolationRateHigh (1%).",
                    [
                        target(
                            f"sum by (topic) "
                            f"(rate({m.STREAM_SCHEMA_VIOLATIONS_TOTAL}{t}[{rate}])) / "
                            f"sum by (topic) (rate({m.STREAM_RECORDS_TOTAL}{t}[{rate}]))",
                            "{{topic}}",
                        )
                    ],
                    "percentunit",
                    steps=thresholds((None, "green"), (0.01, "orange")),
                ),
                8,
                8,
            ),
            (
                timeseries(
                    "Duplicates per second",
                    "Records whose id the monitor already saw within its window.",
                    [
                        target(
                            f"sum by (topic) (rate({m.STREAM_DUPLICATES_TOTAL}{t}[{rate}]))",
                            "{{topic}}",
                        )
                    ],
                    "cps",
                ),
                8,
                8,
            ),
            (row("Latency"), FULL_WIDTH, 1),
            (
                timeseries(
                    "Event-time lag",
                    "Processing time minus event time over the last processed minute. Alert: "
                    "EventLagHigh on p95 (10 min warning, 1 h critical).",
                    [
                        target(
                            f"max by (topic, quantile) ({m.STREAM_EVENT_LAG_SECONDS}{t})",
                            "{{topic}} p{{quantile}}",
                        ),
                        target(
                            f"max by (topic) ({m.STREAM_EVENT_LAG_MEAN_SECONDS}{t})",
                            "{{topic}} mean",
                            ref="B",
                        ),
                    ],
                    "s",
                    steps=thresholds((None, "green"), (600, "orange"), (3600, "red")),
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Monitor consumer lag",
                    "Offsets the monitor is behind the newest offset. Alert: "
                    "StreamConsumerLagHigh (100k).",
                    [target(f"max by (topic) ({m.STREAM_CONSUMER_LAG_RECORDS}{t})", "{{topic}}")],
                    "short",
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Seconds since the monitor's last micro-batch",
                    "Grows while no data arrives (Spark runs no empty batch); a fault only "
                    "with records waiting (StreamMonitorStalled).",
                    [
                        target(
                            f"time() - max by (topic) ({m.STREAM_LAST_BATCH_TIMESTAMP}{t})",
                            "{{topic}}",
                        )
                    ],
                    "s",
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Landing: age of the newest closed hour",
                    "Time since the end of the newest arrival hour landing closed with a done "
                    "marker; the daily DAG waits on these. Alert: LandingLagHigh (3 h, 6 h).",
                    [
                        target(
                            f"time() - max by (source) ({m.LANDING_CLOSED_HOUR_TIMESTAMP})",
                            "{{source}}",
                        )
                    ],
                    "s",
                    steps=thresholds((None, "green"), (3 * 3600, "orange"), (6 * 3600, "red")),
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Landing: records in hours already closed",
                    "Records (tracking: CSV rows) the latest landing run put into arrival hours "
                    "that were closed; the days that read them are restated. Alert: "
                    "LandingLateRecords (> 0).",
                    [target(f"max by (source) ({m.LANDING_LATE_RECORDS})", "{{source}}")],
                    "short",
                    steps=thresholds((None, "green"), (1, "orange")),
                ),
                12,
                8,
            ),
        ],
    )


def batch() -> dict:
    sel = '{job=~"$job", source=~"$source"}'
    by = "max by (job, source)"
    return dashboard(
        "adtech-batch",
        "AdTech / Batch pipeline",
        "The latest run of every batch job and table, pushed by BatchRun to the Pushgateway.",
        [
            query_variable("job", "Job", f"label_values({m.BATCH_RUN_SUCCESS}, job)"),
            query_variable(
                "source",
                "Source table",
                f'label_values({m.BATCH_RUN_SUCCESS}{{job=~"$job"}}, source)',
            ),
        ],
        [
            (row("Status"), FULL_WIDTH, 1),
            (
                stat(
                    "Jobs whose latest run failed",
                    "Count of job/table pairs whose latest run failed (BatchJobFailed).",
                    f"count({m.BATCH_RUN_SUCCESS}{sel} == 0) or vector(0)",
                    "none",
                    thresholds((None, "green"), (1, "red")),
                ),
                6,
                6,
            ),
            (
                bargauge(
                    "Time since last success",
                    "Age of each job's last successful run.",
                    f"time() - {by} ({m.BATCH_LAST_SUCCESS_TIMESTAMP}{sel})",
                    "{{job}} / {{source}}",
                    "s",
                    GREEN_ONLY,
                ),
                9,
                6,
            ),
            (
                bargauge(
                    "Schedule: intervals since last success",
                    "Time since the last success divided by the job's interval. Alert: "
                    "BatchJobMissedSchedule at 1.5 (warning) and 3 (critical).",
                    f"(time() - {by} ({m.BATCH_LAST_SUCCESS_TIMESTAMP}{sel})) / "
                    f"{by} ({m.BATCH_EXPECTED_INTERVAL_SECONDS}{sel})",
                    "{{job}} / {{source}}",
                    "none",
                    thresholds((None, "green"), (1.5, "orange"), (3, "red")),
                ),
                9,
                6,
            ),
            (
                table(
                    "Latest run of each job",
                    "One row per job and source table; run_id leads to the Airflow run.",
                    [
                        ("succeeded", f"{m.BATCH_RUN_SUCCESS}{sel}"),
                        ("rows read", f"{m.BATCH_ROWS_READ}{sel}"),
                        ("rows written", f"{m.BATCH_ROWS_WRITTEN}{sel}"),
                        ("quarantined", f"{m.BATCH_ROWS_QUARANTINED}{sel}"),
                        ("duplicates", f"{m.BATCH_ROWS_DEDUPLICATED}{sel}"),
                        ("duration (s)", f"{m.BATCH_DURATION_SECONDS}{sel}"),
                    ],
                    {"job": "job", "source": "source", "run_id": "run id"},
                ),
                FULL_WIDTH,
                8,
            ),
            (row("Rows"), FULL_WIDTH, 1),
            (
                timeseries(
                    "Rows read and written",
                    "Per job and table, as of each latest run.",
                    [
                        target(f"{by} ({m.BATCH_ROWS_READ}{sel})", "{{job}} / {{source}} read"),
                        target(
                            f"{by} ({m.BATCH_ROWS_WRITTEN}{sel})",
                            "{{job}} / {{source}} written",
                            ref="B",
                        ),
                    ],
                    "short",
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Quarantined share of rows read",
                    "Alert: QuarantineRateHigh (5% warning, 20% critical).",
                    [
                        target(
                            f"{by} ({m.BATCH_ROWS_QUARANTINED}{sel}) / "
                            f"{by} ({m.BATCH_ROWS_READ}{sel} > 0)",
                            "{{job}} / {{source}}",
                        )
                    ],
                    "percentunit",
                    steps=thresholds((None, "green"), (0.05, "orange"), (0.2, "red")),
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Duplicates dropped",
                    "Duplicates each latest run counted and dropped.",
                    [target(f"{by} ({m.BATCH_ROWS_DEDUPLICATED}{sel})", "{{job}} / {{source}}")],
                    "short",
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Run duration",
                    "Wall time of each latest run, failed or not.",
                    [target(f"{by} ({m.BATCH_DURATION_SECONDS}{sel})", "{{job}} / {{source}}")],
                    "s",
                ),
                12,
                8,
            ),
            (row("Freshness and failures"), FULL_WIDTH, 1),
            (
                timeseries(
                    "Age of the newest published event",
                    "Event time of the newest record each job published. Alert: "
                    "DataFreshnessStale (two intervals).",
                    [
                        target(
                            f"time() - {by} ({m.BATCH_NEWEST_EVENT_TIMESTAMP}{sel})",
                            "{{job}} / {{source}}",
                        )
                    ],
                    "s",
                ),
                12,
                8,
            ),
            (
                table(
                    "Last failure of each job",
                    "When each job last failed and in which run (from BatchRun or the Airflow "
                    "failure callback).",
                    [
                        (
                            "failed at",
                            f"max by (job, source, run_id) "
                            f'({m.BATCH_LAST_FAILURE_TIMESTAMP}{{job=~"$job"}}) * 1000',
                        )
                    ],
                    {"run_id": "run id"},
                    units={"failed at": "dateTimeAsIso"},
                ),
                12,
                8,
            ),
        ],
    )


def data_quality() -> dict:
    sel = '{suite=~"$suite", severity=~"$severity"}'
    success = m.DQ_EXPECTATION_SUCCESS
    return dashboard(
        "adtech-data-quality",
        "AdTech / Data quality",
        "Great Expectations results of the latest validation of every suite.",
        [
            query_variable("suite", "Suite", f"label_values({success}, suite)"),
            custom_variable("severity", "Severity", m.DQ_SEVERITIES),
        ],
        [
            (
                stat(
                    "Failing critical expectations",
                    "They stopped their DAG run before publishing (DataQualityCriticalFailure).",
                    f'count({success}{{suite=~"$suite", severity="critical"}} == 0) or vector(0)',
                    "none",
                    thresholds((None, "green"), (1, "red")),
                ),
                6,
                5,
            ),
            (
                stat(
                    "Failing warning expectations",
                    "Recorded, published anyway (DataQualityWarning).",
                    f'count({success}{{suite=~"$suite", severity="warning"}} == 0) or vector(0)',
                    "none",
                    thresholds((None, "green"), (1, "orange")),
                ),
                6,
                5,
            ),
            (
                stat(
                    "Expectations passing",
                    "Share of the selected expectations that held in their latest validation.",
                    f"sum({success}{sel}) / count({success}{sel})",
                    "percentunit",
                    thresholds((None, "red"), (0.99, "orange"), (1, "green")),
                ),
                6,
                5,
            ),
            (
                stat(
                    "Oldest validation",
                    "Age of the least recently validated suite.",
                    f'time() - min({m.DQ_VALIDATION_TIMESTAMP}{{suite=~"$suite"}})',
                    "s",
                    GREEN_ONLY,
                ),
                6,
                5,
            ),
            (
                table(
                    "Failing expectations",
                    "Expectations that failed in the latest validation of their suite, with the "
                    "run that validated it.",
                    [
                        ("held", f"{success}{sel} == 0"),
                        (
                            "unexpected rows",
                            f"{m.DQ_UNEXPECTED_COUNT}{sel} and on (job, source, suite, "
                            f"expectation, severity, run_id) ({success}{sel} == 0)",
                        ),
                    ],
                    {"run_id": "run id"},
                ),
                FULL_WIDTH,
                8,
            ),
            (
                bargauge(
                    "Passing share per suite",
                    "Share of each suite's expectations that held.",
                    f"avg by (suite) ({success}{sel})",
                    "{{suite}}",
                    "percentunit",
                    thresholds((None, "red"), (0.99, "orange"), (1, "green")),
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Unexpected rows per expectation",
                    "Rows that broke each expectation, as of each latest validation.",
                    [
                        target(
                            f"max by (suite, expectation) ({m.DQ_UNEXPECTED_COUNT}{sel})",
                            "{{suite}}: {{expectation}}",
                        )
                    ],
                    "short",
                ),
                12,
                8,
            ),
            (
                timeseries(
                    "Time since each suite was validated",
                    "A suite whose DAG stopped running stops being validated.",
                    [
                        target(
                            f"time() - max by (suite) "
                            f'({m.DQ_VALIDATION_TIMESTAMP}{{suite=~"$suite"}})',
                            "{{suite}}",
                        )
                    ],
                    "s",
                ),
                FULL_WIDTH,
                8,
            ),
        ],
    )


BUILDERS = {
    "ingestion.json": ingestion,
    "batch_pipeline.json": batch,
    "data_quality.json": data_quality,
}


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {name: json.dumps(build(), indent=2) + "\n" for name, build in BUILDERS.items()}


def main() -> None:
    DASHBOARDS_DIR.mkdir(exist_ok=True)
    for name, text in render().items():
        (DASHBOARDS_DIR / name).write_text(text)
        print(f"wrote {DASHBOARDS_DIR / name}")


if __name__ == "__main__":
    main()
