"""Validate a Spark DataFrame against a suite: the audit step of write-audit-publish.

``validate`` runs one suite with Great Expectations on the Spark DataFrame itself (GX's
Spark execution engine: every check is a Spark aggregation, nothing is copied to pandas),
with the run's parameters and reference views, then

1. writes the GX result (``validation_result.json``), a short ``summary.json`` and the
   rendered Data Docs into the run's results folder (``locations.results_dir``) and logs
   where they are;
2. records one data-quality result per expectation in the job's ``BatchRun``
   (``adtech_dq_expectation_success`` / ``adtech_dq_unexpected_count``, pushed with the
   run id when the ``BatchRun`` block ends, also when it ends with an error);
3. logs every failed warning expectation and goes on;
4. raises ``DataQualityError`` when a critical expectation failed, naming the suite, each
   failed expectation, its column and a sample of the offending values or rows.
"""

from __future__ import annotations

import importlib
import json
import logging
import shutil
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adplatform import settings as settings_module
from adplatform.contracts import Rules
from adplatform.metrics import BatchRun
from adplatform.quality.locations import results_dir
from adplatform.quality.parameters import run_parameters
from adplatform.quality.suites import (
    CRITICAL,
    REFERENCE_VIEW_PREFIX,
    SQL_EXPECTATION,
    WARNING,
    Suite,
    columns,
    expectation_label,
    load_suite,
    severity,
)

if TYPE_CHECKING:
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)

# SUMMARY: counts plus up to 20 unexpected values per expectation, enough for the Data Docs
# tables; never COMPLETE, which collects every unexpected value to the driver.
RESULT_FORMAT = "SUMMARY"
# The first pass of every validation: the counts without the unexpected values. GX runs one
# Spark job per expectation to collect those values, even when it passed; with a limit of 0
# Spark plans no job. Only the expectations that failed are validated again, with
# RESULT_FORMAT.
COUNTS_ONLY = {"result_format": "SUMMARY", "partial_unexpected_count": 0}
SAMPLE_SIZE = 5
DOCS_SITE = "run"
RESULT_FILE = "validation_result.json"
SUMMARY_FILE = "summary.json"
DOCS_DIR = "data_docs"


def import_gx_in_background() -> None:
    """Starts importing Great Expectations on a daemon thread.

    The import takes about 4 s of one core. A job that audits its output needs it only at
    the audit, and until then its Python thread mostly waits for the JVM (the session, the
    reads, the staging write), so a job that starts the import with its session finds it
    done instead of paying for it on its critical path. Python's import lock makes an
    import of the same module in the main thread wait for this one, never run twice.
    """
    threading.Thread(
        target=importlib.import_module,
        args=("great_expectations",),
        name="import-great-expectations",
        daemon=True,
    ).start()


@dataclass(frozen=True)
class ExpectationOutcome:
    """How one expectation of a suite fared."""

    label: str
    expectation_type: str
    columns: tuple[str, ...]
    severity: str
    success: bool
    unexpected_count: int
    element_count: int | None
    sample: tuple[str, ...]
    observed: str | None
    error: str | None

    def describe(self) -> str:
        """One line: label, severity, column(s), how many rows broke it and examples."""
        if len(self.columns) == 1:
            where = f"column {self.columns[0]}"
        elif self.columns:
            where = f"columns {', '.join(self.columns)}"
        else:
            where = "the table"
        details = []
        if self.error:
            details.append(f"raised {self.error}")
        elif self.element_count is not None:
            details.append(f"{self.unexpected_count} of {self.element_count} rows unexpected")
        elif self.unexpected_count:
            rows = "row" if self.unexpected_count == 1 else "rows"
            details.append(f"{self.unexpected_count} {rows} unexpected")
        if self.observed is not None:
            details.append(f"observed {self.observed}")
        if self.sample:
            details.append(f"e.g. {'; '.join(self.sample)}")
        text = f"{self.label} [{self.severity}] on {where}"
        return f"{text}: {', '.join(details)}" if details else text


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of one suite on one DataFrame in one run, and where its files are."""

    suite: str
    run_id: str
    ds: date
    outcomes: tuple[ExpectationOutcome, ...]
    results_dir: Path
    data_docs_page: Path | None

    @property
    def result_file(self) -> Path:
        return self.results_dir / RESULT_FILE

    @property
    def summary_file(self) -> Path:
        return self.results_dir / SUMMARY_FILE

    @property
    def data_docs(self) -> Path:
        """The Data Docs index of this validation (it links the validation page)."""
        return self.results_dir / DOCS_DIR / "index.html"

    @property
    def critical_failures(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.success and o.severity == CRITICAL)

    @property
    def warning_failures(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.success and o.severity == WARNING)

    @property
    def success(self) -> bool:
        """True when no critical expectation failed (failed warnings let the data through)."""
        return not self.critical_failures

    def where(self) -> str:
        page = self.data_docs_page or self.data_docs
        return f"validation results: {self.result_file}\nData Docs: {page}"

    def failure_message(self) -> str:
        failures = self.critical_failures
        lines = [
            f"data quality: suite {self.suite} failed {len(failures)} critical "
            f"expectation{'s' if len(failures) != 1 else ''} in run {self.run_id} "
            f"(ds {self.ds}); the data must not be published"
        ]
        lines += [f"  - {o.describe()}" for o in failures]
        lines.append(self.where())
        return "\n".join(lines)


class DataQualityError(RuntimeError):
    """A critical expectation failed; ``report`` has every outcome and the files."""

    def __init__(self, report: ValidationReport) -> None:
        super().__init__(report.failure_message())
        self.report = report


def validate(
    df: DataFrame,
    suite: str,
    *,
    run: BatchRun,
    ds: date,
    references: Mapping[str, DataFrame] | None = None,
    days: tuple[date, date] | None = None,
    settings: settings_module.Settings | None = None,
    raise_on_critical: bool = True,
) -> ValidationReport:
    """Validate ``df`` against ``expectations/<suite>.json`` for the run of ``ds``.

    ``references`` are the other tables the suite's SQL checks read (its ``meta.references``),
    ``days`` the (first, last) event days ``df`` covers when that is not just ``ds``. Raises
    ``DataQualityError`` when a critical expectation fails (unless ``raise_on_critical`` is
    False); the results are written and the metrics recorded either way.
    """
    settings = settings or settings_module.load()
    definition = load_suite(suite)
    references = dict(references or {})
    _check_references(definition, references)
    dim_campaign_ids = (
        _campaign_ids(references["dim_campaign"]) if "dim_campaign" in references else None
    )
    parameters = run_parameters(
        ds, Rules.from_settings(settings), days=days, dim_campaign_ids=dim_campaign_ids
    )
    out_dir = results_dir(settings, suite, run.run_id)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)

    spark = df.sparkSession
    views = {f"{REFERENCE_VIEW_PREFIX}{name}": frame for name, frame in references.items()}
    batch_view = f"dq_batch_{suite}"
    cache_here = not df.is_cached
    if cache_here:
        # GX runs one Spark job or more per expectation: read the input once.
        df.persist()
    try:
        for name, frame in views.items():
            frame.createOrReplaceTempView(name)
        df.createOrReplaceTempView(batch_view)
        counted = _run_gx(
            df, definition, parameters, run.run_id, COUNTS_ONLY, docs_dir=out_dir / DOCS_DIR
        )
        result = counted.result
        if not result.success:
            # The failed expectations again, with their unexpected values for the log, the
            # results file and the Data Docs; the passed ones keep their counts.
            failed = definition.only({_label(r) for r in result.results if not r.success})
            sampled = _run_gx(df, failed, parameters, run.run_id, RESULT_FORMAT)
            result = _with_samples(result, sampled.result)
        _build_data_docs(counted, result)
        outcomes = tuple(
            _outcome(r, lambda query: _sample_rows(spark, query, batch_view))
            for r in result.results
        )
    finally:
        for name in (*views, batch_view):
            spark.catalog.dropTempView(name)
        if cache_here:
            df.unpersist()

    pages = sorted((out_dir / DOCS_DIR / "validations").rglob("*.html"))
    report = ValidationReport(
        suite=suite,
        run_id=run.run_id,
        ds=ds,
        outcomes=_in_suite_order(definition, outcomes),
        results_dir=out_dir,
        data_docs_page=pages[0] if pages else None,
    )
    _write_files(report, result, parameters)
    for o in report.outcomes:
        run.expectation(
            suite,
            o.label,
            success=o.success,
            unexpected_count=o.unexpected_count,
            severity=o.severity,
        )
    _log(report)
    if raise_on_critical and not report.success:
        raise DataQualityError(report)
    return report


def _check_references(definition: Suite, references: Mapping[str, DataFrame]) -> None:
    missing = [name for name in definition.references if name not in references]
    if missing:
        needs = "; ".join(f"{name}: {definition.references[name]}" for name in missing)
        raise ValueError(
            f"suite {definition.name} needs references={{...}} with {', '.join(missing)} ({needs})"
        )
    unknown = sorted(set(references) - set(definition.references))
    if unknown:
        raise ValueError(f"suite {definition.name} reads no reference {', '.join(unknown)}")


def _campaign_ids(dim_campaign: DataFrame) -> list[str]:
    # adtech.dim_campaign is a few thousand rows at most (it is broadcast in every join).
    return [r[0] for r in dim_campaign.select("campaign_id").distinct().collect() if r[0]]


@dataclass(frozen=True)
class _GxRun:
    """A validation's result and the in-memory GX context that holds it under ``key``."""

    context: Any
    key: Any
    result: ExpectationSuiteValidationResult


def _run_gx(
    df: DataFrame,
    definition: Suite,
    parameters: Mapping[str, Any],
    run_id: str,
    result_format: str | Mapping[str, Any],
    docs_dir: Path | None = None,
) -> _GxRun:
    """One validation in a fresh in-memory GX context; its only Data Docs site is docs_dir.

    A fresh context per validation keeps each run's Data Docs to that run's result (a
    shared context would list every earlier validation of the process in its index).
    """
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    if docs_dir is not None:
        context.add_data_docs_site(
            DOCS_SITE,
            {
                "class_name": "SiteBuilder",
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
            },
        )
    # persist=False: GX would cache the DataFrame and never release it; validate() does it.
    batch_definition = (
        context.data_sources.add_spark("spark", persist=False)
        .add_dataframe_asset(definition.name)
        .add_batch_definition_whole_dataframe("staged")
    )
    suite = context.suites.add(definition.to_gx())
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=definition.name, data=batch_definition, suite=suite)
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=definition.name,
            validation_definitions=[validation],
            result_format=result_format,
        )
    )
    result = checkpoint.run(
        batch_parameters={"dataframe": df},
        expectation_parameters=dict(parameters),
        run_id=RunIdentifier(run_name=run_id),
    )
    ((key, validation_result),) = result.run_results.items()
    return _GxRun(context, key, validation_result)


def _with_samples(
    counts: ExpectationSuiteValidationResult, samples: ExpectationSuiteValidationResult
) -> ExpectationSuiteValidationResult:
    """``counts`` with each expectation that ``samples`` validated again replaced by that."""
    again = {_label(r): r for r in samples.results}
    counts.results = [again.get(_label(r), r) for r in counts.results]
    return counts


def _build_data_docs(run: _GxRun, result: ExpectationSuiteValidationResult) -> None:
    """Renders ``result`` into the Data Docs site of the context ``run`` validated in."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    run.context.validation_results_store.set(run.key, result)
    run.context.build_data_docs(
        site_names=[DOCS_SITE],
        resource_identifiers=[run.key, ExpectationSuiteIdentifier(name=result.suite_name)],
    )


def _label(result: ExpectationValidationResult) -> str:
    config = result.expectation_config
    return expectation_label({"type": config.type, "kwargs": config.kwargs, "meta": config.meta})


def _text(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _exception(result: ExpectationValidationResult) -> str | None:
    info = result.exception_info or {}
    candidates = [info] if "raised_exception" in info else list(info.values())
    for candidate in candidates:
        if isinstance(candidate, Mapping) and candidate.get("raised_exception"):
            return str(candidate.get("exception_message") or "an exception").splitlines()[0]
    return None


def _sample_rows(spark: Any, query: str, batch_view: str) -> tuple[str, ...]:
    rows = spark.sql(query.format(batch=batch_view)).limit(SAMPLE_SIZE).collect()
    return tuple(
        "{" + ", ".join(f"{k}={_text(v)}" for k, v in row.asDict().items()) + "}" for row in rows
    )


def _outcome(result: ExpectationValidationResult, sample_rows: Any) -> ExpectationOutcome:
    config = result.expectation_config
    expectation = {"type": config.type, "kwargs": config.kwargs, "meta": config.meta or {}}
    details = result.result or {}
    success = bool(result.success)
    error = _exception(result)
    cols = columns(expectation)
    observed = details.get("observed_value")
    sample: tuple[str, ...] = ()
    element_count = details.get("element_count")
    if config.type == SQL_EXPECTATION:
        unexpected = int(observed or 0)
        observed = None
        if not success and not error:
            sample = sample_rows(config.kwargs["unexpected_rows_query"])
    else:
        unexpected = int(details.get("unexpected_count") or 0)
        sample = tuple(
            _text(v) for v in (details.get("partial_unexpected_list") or [])[:SAMPLE_SIZE]
        )
    mismatched = (details.get("details") or {}).get("mismatched")
    if mismatched:
        # A schema mismatch names the columns that are missing or unexpected.
        cols = tuple([*mismatched.get("missing", []), *mismatched.get("unexpected", [])])
        observed = "; ".join(
            f"{kind} {', '.join(names)}" for kind, names in mismatched.items() if names
        )
    elif observed is not None:
        observed = _text(observed)
    return ExpectationOutcome(
        label=expectation_label(expectation),
        expectation_type=config.type,
        columns=cols,
        severity=severity(expectation),
        success=success,
        unexpected_count=unexpected,
        element_count=int(element_count) if element_count is not None else None,
        sample=sample,
        observed=observed if not success else None,
        error=error,
    )


def _in_suite_order(
    definition: Suite, outcomes: tuple[ExpectationOutcome, ...]
) -> tuple[ExpectationOutcome, ...]:
    position = {label: i for i, label in enumerate(definition.labels)}
    return tuple(sorted(outcomes, key=lambda o: position.get(o.label, len(position))))


def _write_files(
    report: ValidationReport,
    result: ExpectationSuiteValidationResult,
    parameters: Mapping[str, Any],
) -> None:
    report.result_file.write_text(json.dumps(result.to_json_dict(), indent=2, default=str))
    summary = {
        "suite": report.suite,
        "run_id": report.run_id,
        "ds": report.ds.isoformat(),
        "validated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "success": report.success,
        "critical_failures": [o.label for o in report.critical_failures],
        "warning_failures": [o.label for o in report.warning_failures],
        "data_docs": str(report.data_docs_page or report.data_docs),
        "parameters": {
            k: _text(v) if not isinstance(v, list) else v for k, v in parameters.items()
        },
        "expectations": [asdict(o) for o in report.outcomes],
    }
    report.summary_file.write_text(json.dumps(summary, indent=2, default=str))


def _log(report: ValidationReport) -> None:
    for outcome in report.warning_failures:
        log.warning("data quality warning, suite %s: %s", report.suite, outcome.describe())
    if report.success:
        log.info(
            "data quality: suite %s passed in run %s (%d expectations, %d warnings)\n%s",
            report.suite,
            report.run_id,
            len(report.outcomes),
            len(report.warning_failures),
            report.where(),
        )
    else:
        log.error("%s", report.failure_message())
