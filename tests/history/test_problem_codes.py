"""Deal-log problems are diagnostics, like the language's, with stable ``H`` codes.

A problem found in a deal log is a :class:`flowsim.Diagnostic`: the language's type, located at
a :class:`flowsim.LogPosition` (file, row, column) instead of a ``.flow`` span. Its ``code``
(``H202``) is stable and listed in docs/history.md, as the language's ``E``/``W`` codes are in
docs/language.md; its ``name`` (``bad-date``) is the skip reason the output header counts.
Its text is the one deal-log messages always had.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

import flowsim
from flowsim.diagnostics import Diagnostic, LogPosition, Severity, Span, format_diagnostic
from flowsim.history import problems as p
from tests.data import DATA

ROOT = Path(__file__).resolve().parents[2]
BAD = Path(__file__).parent / "bad"
#: a row of the codes table of docs/history.md: | `H202` | `bad-date` | meaning |
ROW = re.compile(r"^\| `(H\d{3})` \| `([a-z-]+)` \| .+ \|$", re.M)


def test_every_kind_has_one_code_in_its_hundred() -> None:
    kinds = {v for k, v in vars(p).items() if k.isupper() and isinstance(v, str)}
    assert set(p.CODES) == kinds
    assert len(set(p.CODES.values())) == len(p.CODES)  # no code given twice
    assert all(re.fullmatch(r"H[0-5]\d\d", code) for code in p.CODES.values())
    assert p.CODES[p.BAD_DATE] == "H202" and p.NAMES["H202"] == "bad-date"
    assert p.CODES[p.UNKNOWN_FORMAT] == "H001" and p.CODES[p.UNKNOWN_STAGE] == "H406"


def test_the_docs_list_every_code_with_its_name() -> None:
    table = ROW.findall((ROOT / "docs" / "history.md").read_text(encoding="utf-8"))
    assert dict((name, code) for code, name in table) == p.CODES
    assert [code for code, _ in table] == sorted(p.CODES.values())


def test_a_bad_date_is_a_located_diagnostic() -> None:
    with pytest.raises(flowsim.LogError) as caught:
        flowsim.read_log(BAD / "unparseable-date.tsv")
    (q,) = caught.value.problems
    assert isinstance(q, flowsim.Diagnostic)
    assert (q.code, q.name, q.severity) == ("H202", "bad-date", Severity.ERROR)
    assert q.position == LogPosition(file="unparseable-date.tsv", row=4, column="entered_at")
    assert (q.source, q.row, q.column, q.value) == (
        "unparseable-date.tsv",
        4,
        "entered_at",
        "2024-02-30 11:00",
    )
    assert q.span is None and q.is_error
    assert str(q).startswith(
        "unparseable-date.tsv:4: column 'entered_at': unparseable date '2024-02-30 11:00' (hint: "
    )


def test_file_level_problems_are_known_by_code() -> None:
    with pytest.raises(flowsim.LogError) as caught:
        flowsim.read_log(BAD / "missing-column.csv")
    codes = {q.code for q in caught.value.problems}
    assert codes == {"H101"} and codes <= p.FILE_LEVEL
    assert p.CODES[p.BAD_DATE] not in p.FILE_LEVEL  # --lenient can skip a bad date's row


def test_a_warning_and_a_note_keep_their_severity() -> None:
    warn = p.problem(kind=p.OWNER_WITHOUT_ROLE, message="m", severity="warning")
    note = p.problem(kind=p.JOINED, message="m", severity="info")
    assert (warn.severity, note.severity) == (Severity.WARNING, Severity.INFO)
    assert warn.severity == "warning" and not warn.is_error  # a member equals its text


def test_a_flow_diagnostic_reads_and_dumps_as_before() -> None:
    span = Span(file="sales.flow", line=12, column=9, end_line=12, end_column=13)
    d = Diagnostic(code="E104", severity=Severity.ERROR, message="unknown role 'reps'", span=span)
    assert str(d) == "sales.flow:12:9: error[E104]: unknown role 'reps'"
    assert (d.source, d.row, d.column) == ("sales.flow", None, None)
    # `flowsim check --format json` lists the same keys as before: no empty deal-log fields
    assert list(json.loads(d.model_dump_json())) == ["code", "severity", "message", "span", "hint"]


def test_a_log_diagnostic_dumps_its_position() -> None:
    q = p.problem(kind=p.BAD_DATE, message="unparseable date", source="d.csv", row=3, value="x")
    data = q.model_dump(mode="json")
    assert data["code"] == "H202" and data["name"] == "bad-date" and data["value"] == "x"
    assert data["position"] == {"file": "d.csv", "row": 3, "column": None}


def test_a_diagnostic_is_in_a_flow_file_or_a_log_not_both() -> None:
    span = Span(file="a.flow", line=1, column=1, end_line=1, end_column=2)
    with pytest.raises(flowsim.ModelError, match="not both"):
        Diagnostic(
            code="H202", severity="error", message="m", span=span, position=LogPosition(row=2)
        )


MAVEN = DATA / "maven-crm-sales-opportunities" / "sales_pipeline.csv"


@pytest.mark.skipif(not MAVEN.exists(), reason="shared data not available")
def test_maven_crm_undated_deals_are_counted_by_code_and_name() -> None:
    """Maven's 500 Prospecting deals have no dated stage: 200 listed (the cap per code) plus
    300 omitted, all ``H401 deal-without-events``; polars counts the same rows directly."""
    undated = pl.read_csv(MAVEN).filter(pl.col("engage_date").is_null()).height
    report = flowsim.read_log(MAVEN).report
    listed = [q for q in report.problems if q.code == "H401"]
    assert undated == 500
    assert len(listed) + report.omitted_by_code["H401"] == undated
    assert {(q.name, q.severity) for q in listed} == {("deal-without-events", Severity.WARNING)}
    assert report.skipped_by_reason == {"deal-without-events": undated}  # reasons are names


def test_a_log_diagnostic_formats_as_its_one_line() -> None:
    q = p.problem(kind=p.BAD_DATE, message="unparseable date", source="d.csv", row=3, hint="h")
    assert format_diagnostic(q) == str(q) == "d.csv:3: unparseable date (hint: h)"
