"""read_csv on the bundled real logs, encodings, delimiters and a malformed-file corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from flowsim.history import LogError, Mapping, read_csv, read_log
from flowsim.history.log import SCHEMA, DealLog

DATA = Path("/work/shared/data")
PM4PY = DATA / "pm4py-logs"
needs_data = pytest.mark.skipif(not PM4PY.exists(), reason="shared data not available")


def accounted(log: DealLog) -> None:
    r = log.report
    assert r.rows_read == r.rows_used + r.rows_skipped
    assert sum(r.skipped_by_reason.values()) == r.rows_skipped
    assert r.records == log.frame.height
    assert dict(log.frame.schema) == SCHEMA


def write(tmp_path: Path, text: str, name: str = "deals.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@needs_data
def test_running_example_csv() -> None:
    log = read_csv(PM4PY / "running-example.csv")
    accounted(log)
    assert log.deals == 6
    assert len(log) == 42
    assert log.report.rows_skipped == 0
    assert log.report.layout == "pm4py/XES keys"
    assert log.report.mapping["deal"] == "case:concept:name"
    assert log.report.mapping["owner"] == "org:resource"
    stages = dict(log.frame.group_by("stage").len().iter_rows())
    assert stages["check ticket"] == 9
    assert stages["register request"] == 6
    first = log.frame.row(0, named=True)
    assert str(first["entered_at"]) == "2010-12-30 10:02:00+00:00"  # 11:02+01:00
    frame = log.frame
    assert frame.equals(frame.sort(["deal", "entered_at", "source_row"]))


@needs_data
def test_interval_log_start_timestamps() -> None:
    log = read_csv(PM4PY / "interval_event_log.csv")
    accounted(log)
    assert log.report.layout == "pm4py interval log"
    assert log.report.mapping["start"] == "start_timestamp"
    assert log.report.mapping["end"] == "time:timestamp"
    f = log.frame
    assert (log.deals, len(log)) == (1266, 8109)
    assert f["started_at"].null_count() == 0
    assert f["left_at"].null_count() == 0
    assert (f["entered_at"] == f["started_at"]).all()
    seconds = (f["left_at"] - f["started_at"]).dt.total_seconds()
    assert seconds.min() == 120
    assert seconds.max() == 27162


@needs_data
def test_receipt_and_read_log_dispatch() -> None:
    log = read_log(PM4PY / "receipt.csv")
    accounted(log)
    assert (log.deals, len(log)) == (1434, 8577)


SAMPLE_ZH = (
    "商机编号,阶段,进入时间,负责人,金额\n"
    "D001,初步接触,2024-03-01 09:00,张伟,120000\n"
    "D001,需求分析,2024-03-05 14:30,张伟,120000\n"
    "D002,初步接触,2024-03-02 10:00,李娜,80000\n"
)
ZH_MAP = Mapping.parse("deal=商机编号,stage=阶段,timestamp=进入时间,owner=负责人,amount=金额")


@pytest.mark.parametrize(("encoding", "expected"), [("gbk", "gb18030"), ("utf-8-sig", "utf-8-sig")])
def test_chinese_encodings_detected(tmp_path: Path, encoding: str, expected: str) -> None:
    path = write(tmp_path, SAMPLE_ZH, encoding=encoding)
    log = read_csv(path, mapping=ZH_MAP, tz="Asia/Shanghai")
    accounted(log)
    assert log.report.encoding == expected
    assert log.frame["stage"].to_list() == ["初步接触", "需求分析", "初步接触"]
    assert log.frame["owner"][0] == "张伟"
    assert log.frame["amount"].to_list() == [120000.0, 120000.0, 80000.0]
    assert str(log.frame["entered_at"][0]) == "2024-03-01 01:00:00+00:00"


def test_forced_encoding(tmp_path: Path) -> None:
    path = write(tmp_path, SAMPLE_ZH, encoding="gbk")
    log = read_csv(path, mapping=ZH_MAP, encoding="gbk")
    assert log.report.encoding == "gbk"
    with pytest.raises(LogError) as exc:
        read_csv(path, mapping=ZH_MAP, encoding="utf-8")
    assert exc.value.problems[0].name == "bad-encoding"


@pytest.mark.parametrize("sep", [";", "\t", "|", ","])
def test_delimiters_sniffed(tmp_path: Path, sep: str) -> None:
    rows = [["deal_id", "stage", "entered_at"], ["a", "contact", "2024-01-02"]]
    rows += [["a", "needs", "2024-01-09"], ["b", "contact", "2024-01-03"]]
    path = write(tmp_path, "\n".join(sep.join(r) for r in rows) + "\n")
    log = read_csv(path)
    assert log.report.delimiter == sep
    assert (log.deals, len(log)) == (2, 3)


SALESFORCE = """Id,OpportunityId,CreatedDate,StageName,Amount,Probability,CloseDate
h1,006A,2023-01-02T10:00:00.000+0000,Prospecting,1000,10,2023-03-01
h2,006A,2023-01-03T10:00:00.000+0000,Prospecting,1500,10,2023-03-01
h3,006A,2023-01-09T10:00:00.000+0000,Qualification,1500,20,2023-03-01
h4,006A,2023-01-10T10:00:00.000+0000,Qualification,1500,20,2023-04-01
h5,006A,2023-02-01T10:00:00.000+0000,Closed Won,1500,100,2023-02-01
h6,006B,2023-01-05T08:00:00.000+0000,Prospecting,500,10,2023-03-01
h7,006B,2023-01-20T08:00:00.000+0000,Closed Lost,500,0,2023-01-20
h8,006C,2023-01-05T08:00:00.000+0000,Prospecting,700,10,2023-03-01
h9,006C,2023-01-06T08:00:00.000+0000,Qualification,700,10,2023-03-01
h10,006C,2023-01-07T08:00:00.000+0000,Prospecting,700,10,2023-03-01
"""


def test_salesforce_opportunity_history_collapses_saves(tmp_path: Path) -> None:
    log = read_csv(write(tmp_path, SALESFORCE))
    accounted(log)
    r = log.report
    assert r.layout == "Salesforce OpportunityHistory"
    assert r.mapping["deal"] == "OpportunityId"
    assert r.mapping["stage"] == "StageName"
    assert r.mapping["timestamp"] == "CreatedDate"
    assert r.rows_read == 10
    assert r.skipped_by_reason == {"unchanged-stage": 2}
    a = log.frame.filter(pl.col("deal") == "006A")
    assert a["stage"].to_list() == ["Prospecting", "Qualification", "Closed Won"]
    assert a["source_row"].to_list() == [2, 4, 6]
    # a return to an earlier stage is a real change, not a repeated save
    c = log.frame.filter(pl.col("deal") == "006C")
    assert c["stage"].to_list() == ["Prospecting", "Qualification", "Prospecting"]
    assert {q.name for q in r.problems} == {"unchanged-stage"}


def test_stage_aliases_and_toml_mapping(tmp_path: Path) -> None:
    toml = tmp_path / "map.toml"
    toml.write_text(
        '[columns]\ndeal = "OpportunityId"\n\n[stages]\n"Prospecting" = "contact"\n'
        '"Closed Won" = "won"\n',
        encoding="utf-8",
    )
    log = read_csv(write(tmp_path, SALESFORCE), mapping=Mapping.load(toml))
    a = log.frame.filter(pl.col("deal") == "006A")
    assert a["stage"].to_list() == ["contact", "Qualification", "won"]


def test_event_log_keeps_repeated_activities(tmp_path: Path) -> None:
    text = "case_id,activity,timestamp\n1,check,2024-01-01 10:00\n1,check,2024-01-01 11:00\n"
    log = read_csv(write(tmp_path, text))
    assert len(log) == 2
    assert log.report.rows_skipped == 0


# ---- malformed corpus: (csv text, code, row, column, read_csv options) -----------------------

H = "deal_id,stage,entered_at,left_at,amount\n"
OK = "d0,contact,2024-01-01 09:00,2024-01-02 09:00,100\n"
BAD_ROWS = [
    pytest.param(H + OK + "d1,contact,2017-13-45,,\n", "bad-date", 3, "entered_at", {}, id="date"),
    pytest.param(H + OK + ",contact,2024-01-01,,\n", "empty-deal", 3, "deal_id", {}, id="deal"),
    pytest.param(H + OK + "   ,contact,2024-01-01,,\n", "empty-deal", 3, "deal_id", {}, id="blank"),
    pytest.param(H + OK + "d1,,2024-01-01,,\n", "empty-stage", 3, "stage", {}, id="stage"),
    pytest.param(H + OK + "d1,contact,,,\n", "missing-date", 3, "entered_at", {}, id="no-date"),
    pytest.param(H + OK + OK, "duplicate-event", 3, "entered_at", {}, id="duplicate"),
    pytest.param(
        H + OK + "d1,needs,2024-01-05,2024-01-04,\n",
        "negative-duration",
        3,
        "left_at",
        {},
        id="negative",
    ),
    pytest.param(H + OK + "d1,needs,2024-01-05,,12k\n", "bad-amount", 3, "amount", {}, id="amt"),
    pytest.param(
        H + OK + "d1,needs,2024-01-05,2024-01-06T25:00,\n",
        "bad-date",
        3,
        "left_at",
        {},
        id="left-date",
    ),
    pytest.param(
        H + OK + OK.replace("d0", "d2") + "d1,needs,05/01/2024,,\n",
        "bad-date",
        4,
        "entered_at",
        {},
        id="mixed-format",
    ),
    pytest.param(
        H + OK + "d1,needs,2024-03-31 02:30,,\n",
        "bad-date",
        3,
        "entered_at",
        {"tz": "Europe/Berlin"},
        id="dst-gap",
    ),
    pytest.param(
        "deal_id;stage;entered_at\na;x;2024-01-01\na;y;2024-01-02\nb;x;2024-02-30\n",
        "bad-date",
        4,
        "entered_at",
        {},
        id="semicolon-row",
    ),
    pytest.param(
        "deal_id,stage,entered_at,started_at\na,x,2024-01-02,2024-01-01\n",
        "negative-duration",
        2,
        "started_at",
        {},
        id="start-before-entry",
    ),
    pytest.param(
        "case_id,activity,start_timestamp,end_timestamp\na,x,2024-01-02 10:00,2024-01-02 09:00\n",
        "negative-duration",
        2,
        "end_timestamp",
        {},
        id="end-before-start",
    ),
    pytest.param(
        "deal_id,stage,entered_at\na,Prospecting,2024-01-01\na,contact,2024-01-01\n",
        "duplicate-event",
        3,
        "entered_at",
        {"mapping": Mapping(stage_aliases={"Prospecting": "contact"})},
        id="duplicate-after-alias",
    ),
    pytest.param(
        H + OK + "d1,,not a date,,\n", "empty-stage", 3, "stage", {}, id="first-reason-wins"
    ),
    pytest.param(
        "deal_id,stage,entered_at\na,x,1704067200\nb,x,17040672000000000\n",
        "bad-date",
        3,
        "entered_at",
        {},
        id="epoch-out-of-range",
    ),
]


@pytest.mark.parametrize(("text", "code", "row", "column", "options"), BAD_ROWS)
def test_malformed_rows_strict(
    tmp_path: Path, text: str, code: str, row: int, column: str, options: dict[str, object]
) -> None:
    with pytest.raises(LogError) as exc:
        read_csv(write(tmp_path, text), **options)  # type: ignore[arg-type]
    first = exc.value.problems[0]
    assert (first.name, first.row, first.column) == (code, row, column)
    assert first.severity == "error"
    assert str(first).startswith(f"deals.csv:{row}: column '{column}': ")


@pytest.mark.parametrize(("text", "code", "row", "column", "options"), BAD_ROWS)
def test_malformed_rows_lenient(
    tmp_path: Path, text: str, code: str, row: int, column: str, options: dict[str, object]
) -> None:
    log = read_csv(write(tmp_path, text), lenient=True, **options)  # type: ignore[arg-type]
    accounted(log)
    r = log.report
    assert r.rows_skipped == 1
    assert r.skipped_by_reason == {code: 1}
    assert r.rows_used == r.rows_read - 1
    assert row not in log.frame["source_row"].to_list()
    assert any(q.name == code and q.row == row and q.severity == "warning" for q in r.problems)


def test_all_errors_reported_in_one_pass(tmp_path: Path) -> None:
    text = H + OK + ",x,2024-01-01,,\nd2,,2024-01-01,,\nd3,x,nope,,\n"
    with pytest.raises(LogError) as exc:
        read_csv(write(tmp_path, text))
    assert [(q.name, q.row) for q in exc.value.problems] == [
        ("empty-deal", 3),
        ("empty-stage", 4),
        ("bad-date", 5),
    ]
    log = read_csv(write(tmp_path, text), lenient=True)
    assert log.report.skipped_by_reason == {"bad-date": 1, "empty-deal": 1, "empty-stage": 1}
    assert log.report.summary() == (
        "deals.csv: 4 rows read, 1 used, 3 skipped (bad-date 1, empty-deal 1, empty-stage 1)"
    )


# ---- file-level problems: always errors -----------------------------------------------------


def test_missing_columns_name_found_and_closest(tmp_path: Path) -> None:
    with pytest.raises(LogError) as exc:
        read_csv(write(tmp_path, "opp,stag,when\na,x,2024-01-01\n"))
    codes = [q.name for q in exc.value.problems]
    assert codes == ["missing-column", "missing-column", "missing-column"]
    stage = exc.value.problems[1]
    assert "'stage'" in stage.message
    assert stage.hint is not None
    assert "columns found: opp, stag, when" in stage.hint
    assert "closest: stag" in stage.hint


def test_mapping_names_absent_column(tmp_path: Path) -> None:
    with pytest.raises(LogError) as exc:
        read_csv(write(tmp_path, H + OK), mapping=Mapping.parse("deal=deal_idd"))
    q = exc.value.problems[0]
    assert (q.name, q.value) == ("unknown-column", "deal_idd")
    assert q.hint == "closest: deal_id"


@pytest.mark.parametrize(
    ("content", "options", "code"),
    [
        pytest.param(b"", {}, "empty-file", id="empty"),
        pytest.param(b"  \n\n", {}, "empty-file", id="blank"),
        pytest.param(b"deal_id,stage\n\xff\xfe\xfa,x\n", {"encoding": "nope"}, "bad-encoding"),
        pytest.param((H + OK).encode(), {"tz": "Mars/Olympus"}, "bad-timezone", id="tz"),
        pytest.param(
            b"case_id,activity,timestamp,lifecycle:transition\n1,a,2024-01-01,start\n",
            {},
            "unsupported-lifecycle",
            id="lifecycle",
        ),
        pytest.param(b'deal_id,stage,entered_at\n"a,x,2024-01-01\n', {}, "bad-csv", id="quote"),
    ],
)
def test_file_level_errors(
    tmp_path: Path, content: bytes, options: dict[str, object], code: str
) -> None:
    path = tmp_path / "deals.csv"
    path.write_bytes(content)
    with pytest.raises(LogError) as exc:
        read_csv(path, **options)  # type: ignore[arg-type]
    assert exc.value.problems[0].name == code
    assert str(exc.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LogError, match="cannot read the file"):
        read_csv(tmp_path / "nope.csv")


#: What each malformed row is called in the message a user reads.
MESSAGES = {
    "date": "unparseable date",
    "deal": "empty deal id",
    "blank": "empty deal id",
    "stage": "empty stage",
    "no-date": "no date",
    "duplicate": "duplicate event",
    "negative": "negative duration",
    "amt": "not a number",
    "left-date": "unparseable date",
    "mixed-format": "unparseable date",
    "dst-gap": "unparseable date",
    "semicolon-row": "unparseable date",
    "start-before-entry": "negative duration",
    "end-before-start": "negative duration",
    "duplicate-after-alias": "duplicate event",
    "first-reason-wins": "empty stage",
    "epoch-out-of-range": "unparseable date",
}


@pytest.mark.parametrize("index", range(len(BAD_ROWS)), ids=[p.id for p in BAD_ROWS])
def test_malformed_rows_messages(tmp_path: Path, index: int) -> None:
    case: Any = BAD_ROWS[index]
    text, _code, row, column, options = case.values
    with pytest.raises(LogError) as exc:
        read_csv(write(tmp_path, text), **options)
    first = exc.value.problems[0]
    assert MESSAGES[case.id] in first.message
    assert first.hint, "every problem says how to fix it"
    shown = str(first)
    assert f":{row}: column '{column}'" in shown
    if "date" in MESSAGES[case.id] and first.value:
        assert repr(first.value)[1:-1] in shown  # the offending value is quoted back
