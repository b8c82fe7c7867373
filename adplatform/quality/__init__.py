"""Data quality: Great Expectations suites that stop bad data before it is published.

    from adplatform.quality import write_audit_publish, validate, DataQualityError

Great Expectations is imported only when a suite runs, so importing this package is cheap.
docs/data-quality.md describes the suites, the severities, where results and Data Docs go
and how the jobs call this.
"""

from adplatform.quality.publish import AuditedRows, stage_and_audit, write_audit_publish
from adplatform.quality.validation import (
    DataQualityError,
    ExpectationOutcome,
    ValidationReport,
    validate,
)

__all__ = [
    "AuditedRows",
    "DataQualityError",
    "ExpectationOutcome",
    "ValidationReport",
    "stage_and_audit",
    "validate",
    "write_audit_publish",
]
