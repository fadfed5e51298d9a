"""Excel .xlsx import: same DealLog as the CSV it was made from; malformed workbooks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from flowsim.history import LogError, Mapping, read_csv, read_excel, read_log
from flowsim.history.log import SCHEMA, DealLog

DATA = Path("/work/shared/data")
RUNNING = DATA / "pm4py-logs" / "running-example.csv"
MAVEN = DATA / "maven-crm-sales-opportunities" / "sales_pipeline.csv"
needs_data = pytest.mark.skipif(not RUNNING.exists(), reason="shared data not available")


def accounted(log: DealLog) -> None:
    r = log.report
    assert r.rows_read == r.rows_used + r.rows_skipped
    assert sum(r.skipped_by_reason.values()) == r.rows_skipped
    assert dict(log.frame.schema) == SCHEMA


def xlsx(path: Path, rows: list[list[object]], title: str = "Sheet1", extra: bool = False) -> Path:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    if extra:
        ws.title = "Notes"
        ws.append(["exported by the CRM"])
        ws = book.create_sheet(title)
    else:
        ws.title = title
    for row in rows:
        ws.append(row)
    book.save(path)
    return path


def csv_rows(path: Path) -> list[list[object]]:
    table = pl.read_csv(path, infer_schema=False)
    return [table.columns, *[list(r) for r in table.iter_rows()]]


@needs_data
def test_running_example_text_cells_equal_csv(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "running.xlsx", csv_rows(RUNNING))
    log = read_log(path)
    accounted(log)
    assert log.report.format == "xlsx"
    assert log.frame.equals(read_csv(RUNNING).frame)


@needs_data
def test_running_example_typed_cells_equal_csv(tmp_path: Path) -> None:
    # Excel has no time zones: the times are written as local (+01:00) date cells
    table = pl.read_csv(RUNNING, infer_schema=False)
    rows: list[list[object]] = [table.columns]
    for r in table.iter_rows(named=True):
        when = dt.datetime.fromisoformat(r["time:timestamp"]).replace(tzinfo=None)
        rows.append(
            [
                int(r[""]),
                r["concept:name"],
                r["org:resource"],
                when,
                r["Activity"],
                r["Resource"],
                int(r["Costs"]),
                int(r["case:concept:name"]),
                r["case:creator"],
            ]
        )
    log = read_excel(xlsx(tmp_path / "typed.xlsx", rows), tz="Europe/Amsterdam")
    accounted(log)
    assert log.frame.equals(read_csv(RUNNING).frame)


ZH_MAP = Mapping.parse("deal=商机编号,stage=阶段,timestamp=进入时间,owner=负责人,amount=金额")
ZH_ROWS: list[list[object]] = [
    ["商机编号", "阶段", "进入时间", "负责人", "金额"],
    ["D001", "初步接触", dt.datetime(2024, 3, 1, 9, 0), "张伟", 120000],
    ["D001", "需求分析", dt.datetime(2024, 3, 5, 14, 30), "张伟", 120000.0],
    [None, None, None, None, None],
    ["D002", "初步接触", dt.datetime(2024, 3, 2, 10, 0), "李娜", 80000.5],
]
ZH_CSV = (
    "商机编号,阶段,进入时间,负责人,金额\nD001,初步接触,2024-03-01 09:00,张伟,120000\n"
    "D001,需求分析,2024-03-05 14:30,张伟,120000\nD002,初步接触,2024-03-02 10:00,李娜,80000.5\n"
)


def test_chinese_sheet_by_name_equals_csv(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "商机.xlsx", ZH_ROWS, title="商机阶段", extra=True)
    log = read_excel(path, sheet="商机阶段", mapping=ZH_MAP, tz="Asia/Shanghai")
    accounted(log)
    assert log.report.source == "商机.xlsx[商机阶段]"
    # the blank row 4 is not a record; rows keep their sheet numbers
    assert log.frame["source_row"].to_list() == [2, 3, 5]
    csv = tmp_path / "zh.csv"
    csv.write_text(ZH_CSV, encoding="gbk")
    expected = read_csv(csv, mapping=ZH_MAP, tz="Asia/Shanghai").frame
    assert log.frame.drop("source_row").equals(expected.drop("source_row"))
    assert read_excel(path, sheet=1, mapping=ZH_MAP).deals == 2


@pytest.mark.skipif(not MAVEN.exists(), reason="shared data not available")
def test_maven_wide_xlsx_equals_csv(tmp_path: Path) -> None:
    log = read_log(xlsx(tmp_path / "pipeline.xlsx", csv_rows(MAVEN)))
    accounted(log)
    assert (log.report.shape, log.report.rows_read, log.report.rows_skipped) == ("wide", 8800, 500)
    assert log.frame.equals(read_csv(MAVEN).frame)


def test_bad_date_cell_located(tmp_path: Path) -> None:
    rows = [*ZH_ROWS[:3], ["D002", "初步接触", "2024-02-30 10:00", "李娜", 1]]
    path = xlsx(tmp_path / "bad.xlsx", rows)
    with pytest.raises(LogError) as exc:
        read_excel(path, mapping=ZH_MAP)
    q = exc.value.problems[0]
    assert (q.name, q.row, q.column, q.value) == ("bad-date", 4, "进入时间", "2024-02-30 10:00")
    log = read_excel(path, mapping=ZH_MAP, lenient=True)
    assert log.report.skipped_by_reason == {"bad-date": 1}


@pytest.mark.parametrize(
    ("make", "options", "code", "text"),
    [
        pytest.param(
            lambda p: p.write_bytes(b"PK\x03\x04 not a zip"),
            {},
            "bad-excel",
            "not a readable .xlsx",
            id="garbage",
        ),
        pytest.param(
            lambda p: xlsx(p, [["a"]]),
            {"sheet": "Deals"},
            "bad-excel",
            "no sheet named 'Deals'",
            id="no-sheet",
        ),
        pytest.param(
            lambda p: xlsx(p, [["a"]]),
            {"sheet": 3},
            "bad-excel",
            "no sheet number",
            id="no-sheet-index",
        ),
        pytest.param(lambda p: xlsx(p, []), {}, "empty-file", "is empty", id="empty"),
        pytest.param(
            lambda p: xlsx(p, [["opp", "stag"], ["a", "b"]]),
            {},
            "missing-column",
            "no column",
            id="columns",
        ),
    ],
)
def test_bad_workbooks(
    tmp_path: Path, make: object, options: dict[str, object], code: str, text: str
) -> None:
    path = tmp_path / "deals.xlsx"
    make(path)  # type: ignore[operator]
    with pytest.raises(LogError) as exc:
        read_excel(path, **options)  # type: ignore[arg-type]
    assert exc.value.problems[0].name == code
    assert text in str(exc.value)


def test_old_xls_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deals.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(LogError, match=r"save the sheet as \.xlsx"):
        read_log(path)


def test_missing_workbook(tmp_path: Path) -> None:
    with pytest.raises(LogError, match="cannot read the file"):
        read_excel(tmp_path / "none.xlsx")
