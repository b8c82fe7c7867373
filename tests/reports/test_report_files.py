"""Every report file follows the SQL rules of STYLE.md and runs as beeline reads it: a
header that says what it answers, its grain, its parameters one a line and the exact
beeline command; one statement; parameters that are exactly the variables it reads."""

from __future__ import annotations

import re

import pytest

from adplatform.reports.queries import REPORTS, REPORTS_DIR

VARIABLE_DOCS = {
    "from_date": "first UTC",
    "to_date": "last UTC",
    "campaign_id": "one campaign id, or empty or unset for every campaign",
    "top_n": "(optional, default 10)",
}


def header(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line[2:].strip())
    return lines


def section(lines: list[str], name: str) -> list[str]:
    """The lines under ``name:`` up to the next ``Word:`` heading or the end."""
    start = lines.index(f"{name}:") + 1
    out = []
    for line in lines[start:]:
        if re.fullmatch(r"[A-Z]\w*:.*", line):
            break
        out.append(line)
    return out


def test_every_file_is_a_known_report():
    assert sorted(p.stem for p in REPORTS_DIR.glob("*.sql")) == sorted(r.name for r in REPORTS)


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: r.name)
def test_header(report):
    text = report.path.read_text()
    lines = header(text)
    question = " ".join(lines[: lines.index("")])
    assert question.endswith("?"), "the header opens with the question the report answers"
    assert any(line.startswith("Answers:") for line in lines)
    assert any(line.startswith("Grain: one row per") for line in lines)
    parameters = section(lines, "Parameters")
    names = [line.split()[0] for line in parameters]
    assert sorted(names) == sorted(report.variables()), "one documented line per variable"
    for line in parameters:
        assert VARIABLE_DOCS[line.split()[0]] in line
    usage = section(lines, "Usage")
    assert len(usage) == 1
    command = usage[0]
    assert command.startswith("beeline -u jdbc:hive2://127.0.0.1:10000/default ")
    assert command.endswith(f" -f hive/reports/{report.name}.sql")
    for name in report.variables():
        assert f"--hivevar {name}=" in command


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: r.name)
def test_one_statement_that_beeline_splits_right(report):
    text = report.path.read_text()
    # beeline cuts statements at every ';' outside quotes, comments included.
    assert text.count(";") == 1 and text.rstrip().endswith(";")
    assert ";" not in report.sql()


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: r.name)
def test_keywords_are_upper_case_and_tables_qualified(report):
    body = "\n".join(
        line.split("--")[0] for line in report.sql().splitlines() if not line.startswith("--")
    )
    for keyword in ("select", "from", "where", "group by", "order by", "join", "with"):
        assert not re.search(rf"\b{keyword}\b", body), keyword
    for table in re.findall(r"\b(?:FROM|JOIN)\s+([\w.]+)", body):
        assert table.startswith("adtech.") or "." not in table, table
