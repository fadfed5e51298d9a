"""Repeated import problems are folded into one line per kind, and ``-q`` silences warnings.

A kind of problem is one code, message, column and hint: its line says the message, how
many rows it concerns (listed in the report or not) and the first rows as examples. The
counts on these lines, and the skip counts of the output header, are the same numbers.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from flowsim.cli import main
from flowsim.diagnostics import Diagnostic
from flowsim.history import DealLog, read_log
from flowsim.history.problems import BAD_DATE, LogError, fold
from flowsim.history.problems import problem as log_problem
from tests.data import DATA

MAVEN = DATA / "maven-crm-sales-opportunities" / "sales_pipeline.csv"
BPIC = DATA / "bpic2012" / "bpic2012.xes.gz"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def problem(row: int | None, value: str = "x", message: str = "unparseable date") -> Diagnostic:
    return log_problem(
        kind=BAD_DATE, message=message, source="d.csv", row=row, column="entered_at", value=value
    )


def test_one_problem_reads_as_before() -> None:
    assert fold([problem(4, "soon")]) == ["d.csv:4: column 'entered_at': unparseable date 'soon'"]


def test_a_kind_is_one_line_with_its_count_and_first_rows() -> None:
    lines = fold([problem(r, f"v{r}") for r in (2, 3, 5, 8)])
    assert lines == [
        "d.csv: column 'entered_at': unparseable date: 4 rows, e.g. row 2 'v2', row 3 'v3', "
        "row 5 'v5'"
    ]


def test_problems_not_listed_are_counted_on_their_kind() -> None:
    lines = fold([problem(2), problem(3)], {"H202": 998})
    assert lines[0].startswith("d.csv: column 'entered_at': unparseable date: 1,000 rows")


def test_kinds_stay_apart_and_unattributable_omissions_are_said() -> None:
    other = problem(9, message="no date")
    lines = fold([problem(2), other, problem(3)], {"H202": 5})
    assert len(lines) == 3
    assert "unparseable date: 2 rows" in lines[0]
    assert lines[1] == "d.csv:9: column 'entered_at': no date 'x'"
    assert lines[2] == "... and 5 more 'bad-date' problem(s), not listed"


def test_problems_without_a_row_are_never_folded() -> None:
    assert len(fold([problem(None), problem(None)])) == 2


def test_a_strict_error_counts_what_it_does_not_list(tmp_path: Path) -> None:
    """RowChecks lists 200 problems per code; the error still counts all 450."""
    rows = "\n".join(f"d{i},contact,someday" for i in range(450))
    log = tmp_path / "d.csv"
    good = "d,contact,2024-01-02\n"  # one date reads: a bad date per row, not a bad column
    log.write_text("deal_id,stage,entered_at\n" + good + rows + "\n", encoding="utf-8")
    with pytest.raises(LogError) as caught:
        read_log(log)
    assert len(caught.value.problems) + sum(caught.value.omitted.values()) == 450
    assert str(caught.value).endswith("... and 430 more problem(s)")  # 20 spelled out


@pytest.mark.skipif(not MAVEN.exists(), reason="needs the Maven CRM data")
def test_maven_prints_one_line_per_kind_and_agrees_with_the_header() -> None:
    code, out, err = run("metrics", str(MAVEN))
    assert code == 0, err
    # independently: open deals in Prospecting have no date at all
    raw = pl.read_csv(MAVEN, infer_schema=False)
    undated = raw.filter(pl.col("engage_date").is_null() & (pl.col("deal_stage") == "Prospecting"))
    n = undated.height
    assert n == 500
    warnings = [x for x in err.splitlines() if x.startswith("flowsim: warning: ")]
    assert warnings == [
        "flowsim: warning: sales_pipeline.csv: column 'deal_stage': deal without any dated "
        f"stage (open in an undated stage), skipped: {n} rows, e.g. row 8302 'Prospecting', "
        "row 8303 'Prospecting', row 8304 'Prospecting' (hint: its stage has no date column; "
        "it cannot enter the timeline)"
    ]
    assert f"skipped {n} (deal-without-events {n})" in out.splitlines()[1]
    assert "more (all counted" not in err


@pytest.mark.skipif(not MAVEN.exists(), reason="needs the Maven CRM data")
@pytest.mark.parametrize("command", [["metrics"], ["discover"]])
def test_quiet_silences_warnings_and_notes(command: list[str]) -> None:
    code, out, err = run(*command, str(MAVEN), "-q")
    assert code == 0 and out
    assert err == ""


def test_quiet_never_silences_errors(tmp_path: Path) -> None:
    log = tmp_path / "d.csv"
    log.write_text("deal_id,stage,entered_at\nd1,contact,someday\n", encoding="utf-8")
    code, _, err = run("metrics", str(log), "-q")
    assert code == 1
    assert "d.csv:2: column 'entered_at'" in err


@pytest.mark.skipif(not BPIC.exists(), reason="needs the BPIC 2012 log")
def test_bpic_warnings_count_every_event_and_say_they_were_kept(bpic_log: DealLog) -> None:
    """Unpaired lifecycle events are kept, not skipped: the header's 0 skipped is true."""
    code, out, err = run("metrics", str(BPIC))
    assert code == 0, err
    assert "rows read 262,200, used 262,200, skipped 0 (none)" in out
    warnings = [x for x in err.splitlines() if x.startswith("flowsim: warning: ")]
    kept = [re.search(r"; kept [^:]*: ([\d,]+) rows", x) for x in warnings]
    counts = [int(m.group(1).replace(",", "")) for m in kept if m]
    assert len(counts) == len(warnings) == 3
    report = bpic_log.report
    assert sum(counts) == len(report.problems) + report.problems_omitted == 1105
    assert sum(report.omitted_by_code.values()) == report.problems_omitted
    assert "all counted in the output header" not in err
