"""The malformed-log corpus: every bad log refused by the real CLI with a located message.

Each case is one malformed log (files in ``tests/history/bad/``; Excel, Parquet and gzip
files are written here, from the same kind of rows). ``flowsim metrics`` must exit 1 without
a traceback, and the message must name the file, the row and the column where there is one,
and say what is wrong. Row-level problems are then read again with ``--lenient``: exit 0, the
warning listed on stderr, and the header counting rows read / used / skipped and why.

The API-level bad-row cases of ``test_read_csv.py`` (empty ids, DST gaps, duplicate rows in
CSV...) are not repeated here; these are the other formats, shapes and file-level problems.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from flowsim.cli import main

BAD = Path(__file__).parent / "bad"


@dataclass(frozen=True)
class Case:
    """A malformed log, how to run it, and what the user must read."""

    file: str
    message: str
    where: str  # "<file>:<row>: column '<column>'" (or less when there is no row/column)
    args: tuple[str, ...] = ()
    #: with --lenient: "rows read R, used U, skipped S (reason S)", or None if still refused
    lenient: str | None = None


CASES = [
    Case(
        "unparseable-date.tsv",
        "unparseable date '2024-02-30 11:00'",
        "unparseable-date.tsv:4: column 'entered_at'",
        lenient="rows read 4, used 3, skipped 1 (bad-date 1)",
    ),
    Case(
        "missing-column.csv",
        "no column for required field 'stage'",
        "missing-column.csv: ",
    ),
    Case(
        "unknown-stage.csv",
        "stage not in the process 'negotation' (hint: did you mean 'negotiation'?",
        "unknown-stage.csv:4: column 'stage'",
        ("--process", str(BAD / "sales.flow")),
        lenient="rows read 6, used 5, skipped 1 (unknown-stage 1)",
    ),
    Case(
        "event-after-close.csv",
        "enters 'negotiation' after the deal closed ('won' at 2024-02-20 00:00 UTC)",
        "event-after-close.csv:5: column 'entered_at'",
        lenient="rows read 5, used 4, skipped 1 (event-after-close 1)",
    ),
    Case(
        "negative-duration-hubspot.csv",
        "left the stage before entering it (negative duration) '2024-03-01T08:00:00Z'",
        "negative-duration-hubspot.csv:3: column 'hs_v2_date_exited_appointmentscheduled'",
        lenient="rows read 3, used 2, skipped 1 (negative-duration 1)",
    ),
    Case(
        "no-events-wide.csv",
        "deal without any events (no stage and no stage date) 'O2'",
        "no-events-wide.csv:3: column 'opportunity_id'",
        # O3 (Prospecting, undated) is an open deal in an undated stage: a warning, counted
        lenient="rows read 4, used 2, skipped 2 (deal-without-events 2)",
    ),
    Case("empty.csv", "the file is empty", "empty.csv: "),
    Case(
        "header-only.csv",
        "no data rows: only the header (deal_id, stage, entered_at)",
        "header-only.csv: ",
    ),
    Case(
        "wrong-delimiter.csv",
        "the header is one single column 'deal_id;stage;entered_at' (hint: wrong delimiter?",
        "wrong-delimiter.csv:1: ",
        ("--delimiter", ","),
    ),
    Case(
        "bad-encoding-gbk.csv",
        "the file is not valid utf-8 at byte 28",
        "bad-encoding-gbk.csv:2: ",
        ("--encoding", "utf-8"),
    ),
    Case(
        "bad-epoch.csv",
        "unparseable date '17O7130800000' (hint: the column reads as epoch milliseconds",
        "bad-epoch.csv:4: column 'changed_at'",
        lenient="rows read 3, used 2, skipped 1 (bad-date 1)",
    ),
    Case(
        "mixed-timezones.csv",
        "mixed time zones: this time has no UTC offset, most times in the column have one "
        "'2024-02-02 11:00:00'",
        "mixed-timezones.csv:4: column 'entered_at'",
        lenient="rows read 4, used 3, skipped 1 (mixed-timezone 1)",
    ),
    Case(
        "mixed-timezones-hubspot.csv",
        "mixed time zones: some times in the column have a UTC offset, others none",
        "mixed-timezones-hubspot.csv:3: column 'hs_v2_date_entered_closedwon'",
        lenient="rows read 3, used 2, skipped 1 (mixed-timezone 1)",
    ),
    Case(
        "bad-amount-wide.csv",
        "not a number '12k'",
        "bad-amount-wide.csv:4: column 'close_value'",
        lenient="rows read 3, used 2, skipped 1 (bad-amount 1)",
    ),
    Case(
        "close-without-outcome.csv",
        "has a close date but its stage is not an outcome 'Engaging'",
        "close-without-outcome.csv:3: column 'deal_stage'",
        lenient="rows read 2, used 1, skipped 1 (close-without-outcome 1)",
    ),
    Case(
        "malformed.xes",
        "not a readable XES file: mismatched tag: line 5, column 4",
        "malformed.xes:5: ",
    ),
    Case(
        "no-timestamp.xes",
        "no date",
        "no-timestamp.xes:2: column 'time:timestamp'",
        lenient="rows read 2, used 1, skipped 1 (missing-date 1)",
    ),
    Case(
        "bad-date.xes",
        "unparseable date 'yesterday'",
        "bad-date.xes:2: column 'time:timestamp'",
        lenient="rows read 2, used 1, skipped 1 (bad-date 1)",
    ),
    Case("no-events.xes", "no events: the log has no <event> inside a <trace>", "no-events.xes: "),
    Case(
        "deals.csv",
        "the mapping names a column for 'deal' that is not there 'opportunity' "
        "(hint: no similar column)",
        "deals.csv: ",
        ("--map", "deal=opportunity"),
    ),
    Case(
        "deals.csv",
        "unknown field in --map 'dael'",
        "--map: ",
        ("--map", "dael=deal_id"),
    ),
    Case(
        "deals.csv",
        "mapping file is not valid TOML: Invalid value (column 8)",
        "malformed-mapping.toml:2: ",
        ("--map", str(BAD / "malformed-mapping.toml")),
    ),
    Case(
        "salesforce-history.csv",
        # two rows with one problem: one line, the count and the rows as examples
        "stage not in the process: 2 rows, e.g. row 2 'contactt', row 4 'contactt' (hint: did "
        "you mean 'contact'?; it comes from the stage alias 'Prospecting' = 'contactt'",
        "salesforce-history.csv: column 'StageName'",
        ("--process", str(BAD / "sales.flow"), "--map", str(BAD / "alias.toml")),
        lenient="rows read 3, used 1, skipped 2 (unknown-stage 2)",
    ),
    Case(
        "gbk-chinese-date.csv",
        "unparseable date '2024年2月30日'",  # 2024年1月5日 reads; February has no 30th
        "gbk-chinese-date.csv:4: column '进入时间'",
        lenient="rows read 3, used 2, skipped 1 (bad-date 1)",
    ),
    Case(
        "unreadable-dates.csv",
        # one error for the column, not one per row (--lenient skips every row)
        "no value of this column reads as a date (3 values, e.g. '20 Okt. 2024', "
        "'3 Nov. 2024', '5 Dez. 2024') (hint: formats read: ISO 8601;",
        "unreadable-dates.csv: column 'entered_at'",
        lenient="rows read 3, used 0, skipped 3 (bad-date 3)",
    ),
    Case(
        "ambiguous-decimal.csv",
        "the decimal separator of the amounts is ambiguous (e.g. '1,234', '2,500', '12,000': "
        "a thousands separator, or 3 decimals?) and no other value tells (hint: pass "
        "--decimal comma",
        "ambiguous-decimal.csv: column 'amount'",
    ),
    Case(
        "mixed-decimal.csv",
        "written with a decimal point, but the column's amounts have a decimal comma "
        "(1.234,56) '1,234.56'",
        "mixed-decimal.csv:4: column 'amount'",
        lenient="rows read 3, used 2, skipped 1 (bad-amount 1)",
    ),
    Case("ragged-row.csv", "the row has 5 fields, the header 3", "ragged-row.csv:3: "),
    Case(
        "repeated-header.csv",
        "the header names this column twice (column 4 repeats column 2)",
        "repeated-header.csv:1: column 'stage'",
    ),
    Case(
        "pipedrive-won-without-time.csv",
        "won or lost deal without its won/lost time 'Won'",
        "pipedrive-won-without-time.csv:3: column 'Deal - Status'",
        lenient="rows read 2, used 1, skipped 1 (missing-date 1)",
    ),
    Case(
        "pipedrive-stage-after-won.csv",
        "the stage changed after the deal closed '2024-01-25 11:00:00'",
        "pipedrive-stage-after-won.csv:2: column 'Deal - Last stage change'",
        lenient="rows read 2, used 1, skipped 1 (event-after-close 1)",
    ),
    Case(
        "leads.csv",
        "the key is on an earlier row too; a joined table has one row per key 'm1'",
        "closed-deals-repeated.csv:4: column 'mql_id'",
        ("--map", str(BAD / "join-repeated-key.toml")),
    ),
    # written by the fixture below: binary formats
    Case(
        "cover-sheet.xlsx",
        "no data rows: only the header (Deals export) (hint: is the log on another sheet? "
        "choose it with --sheet NAME)",
        "cover-sheet.xlsx: ",
    ),
    Case(
        "bad-cell.xlsx",
        "unparseable date 'next week'",
        "bad-cell.xlsx:3: column 'entered_at'",
        lenient="rows read 3, used 2, skipped 1 (bad-date 1)",
    ),
    Case(
        "duplicate-event.parquet",
        "duplicate event (same deal, stage and time as an earlier row) '2024-02-05 10:30:00+00:00'",
        "duplicate-event.parquet:3: column 'entered_at'",
        lenient="rows read 3, used 2, skipped 1 (duplicate-event 1)",
    ),
    Case(
        "not-gzip.xes.gz",
        "not valid gzip data (Error -3 while decompressing data: invalid code lengths set)",
        "not-gzip.xes.gz: ",
    ),
    Case(
        "truncated.xes.gz",
        "the compressed file is cut short (an incomplete download or copy?)",
        "truncated.xes.gz: ",
    ),
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The text corpus plus the binary files, written from rows like the text ones."""
    from openpyxl import Workbook

    out = tmp_path_factory.mktemp("bad")
    for path in BAD.iterdir():
        (out / path.name).write_bytes(path.read_bytes())
    book = Workbook()
    cover = book.active
    assert cover is not None
    cover.title = "Cover"
    cover.append(["Deals export"])
    deals = book.create_sheet("Deals")
    deals.append(["deal_id", "stage", "entered_at"])
    book.save(out / "cover-sheet.xlsx")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Deals"
    for row in (
        ["deal_id", "stage", "entered_at"],
        ["D1", "contact", "2024-02-01"],
        ["D1", "proposal", "next week"],
        ["D2", "contact", "2024-02-03"],
    ):
        sheet.append(row)
    book.save(out / "bad-cell.xlsx")
    pl.DataFrame(
        {
            "deal_id": ["D1", "D1", "D1"],
            "stage": ["contact", "proposal", "proposal"],
            "entered_at": ["2024-02-01 09:00", "2024-02-05 10:30", "2024-02-05 10:30"],
        }
    ).write_parquet(out / "duplicate-event.parquet")
    xes = (BAD / "no-timestamp.xes").read_bytes()
    (out / "not-gzip.xes.gz").write_bytes(b"\x1f\x8b\x08\x00garbage, not deflate data")
    (out / "truncated.xes.gz").write_bytes(gzip.compress(xes)[:60])
    return out


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_corpus_is_large_and_distinct() -> None:
    logs = {(c.file, c.args) for c in CASES}
    assert len(logs) == len(CASES) >= 25
    assert len({c.message for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.file}{' '.join(c.args)[:20]}" for c in CASES])
def test_refused_with_a_located_message(corpus: Path, case: Case) -> None:
    code, out, err = run("metrics", str(corpus / case.file), *case.args)
    assert code == 1, (out, err)
    assert "Traceback" not in err and "internal error" not in err
    assert f"flowsim: {case.where}" in err, err
    line = next(x for x in err.splitlines() if case.where in x)
    assert case.message in line, line
    assert "(hint: " in line, "every problem says how to fix it"
    lenient = " (use --lenient to skip bad rows)" in err
    assert lenient is (case.lenient is not None), "the last line says whether --lenient helps"


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.lenient], ids=[c.file for c in CASES if c.lenient]
)
def test_lenient_counts_and_lists_skipped_rows(corpus: Path, case: Case) -> None:
    code, out, err = run("metrics", str(corpus / case.file), *case.args, "--lenient")
    assert code == 0, err
    assert case.lenient in out.splitlines()[1]
    warned = [x for x in err.splitlines() if x.startswith("flowsim: warning: ")]
    assert any(case.where in x and case.message.split(" (hint")[0] in x for x in warned), err
