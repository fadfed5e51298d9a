"""Parquet import: text and typed columns give the DealLog of the CSV they came from."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from flowsim.history import LogError, Mapping, read_csv, read_log, read_parquet
from flowsim.history.log import SCHEMA, DealLog

DATA = Path("/work/shared/data")
RUNNING = DATA / "pm4py-logs" / "running-example.csv"
INTERVAL = DATA / "pm4py-logs" / "interval_event_log.csv"
MAVEN = DATA / "maven-crm-sales-opportunities" / "sales_pipeline.csv"
needs_data = pytest.mark.skipif(not RUNNING.exists(), reason="shared data not available")


def accounted(log: DealLog) -> None:
    r = log.report
    assert r.rows_read == r.rows_used + r.rows_skipped
    assert sum(r.skipped_by_reason.values()) == r.rows_skipped
    assert dict(log.frame.schema) == SCHEMA


def same_as_csv(log: DealLog, csv: DealLog) -> None:
    """Equal frames; Parquet rows are numbered from 1, CSV rows from 2 (header = row 1)."""
    expected = csv.frame.with_columns(pl.col("source_row") - 1)
    assert log.frame.equals(expected)


@needs_data
def test_running_example_text_columns(tmp_path: Path) -> None:
    path = tmp_path / "running.parquet"
    pl.read_csv(RUNNING, infer_schema=False).write_parquet(path)
    log = read_log(path)
    accounted(log)
    assert log.report.format == "parquet"
    same_as_csv(log, read_csv(RUNNING))


@needs_data
def test_running_example_typed_columns(tmp_path: Path) -> None:
    # as pm4py/pandas write it: a timezone-aware datetime column, integers
    table = pl.read_csv(RUNNING).with_columns(
        pl.col("time:timestamp").str.to_datetime("%Y-%m-%d %H:%M:%S%z", time_zone="UTC")
    )
    assert table.schema["case:concept:name"] == pl.Int64
    path = tmp_path / "typed.parquet"
    table.write_parquet(path)
    log = read_parquet(path)
    accounted(log)
    same_as_csv(log, read_csv(RUNNING))


@needs_data
def test_interval_log_datetime_columns(tmp_path: Path) -> None:
    table = pl.read_csv(INTERVAL, infer_schema=False)
    cols = ["start_timestamp", "time:timestamp"]
    typed = table.with_columns(pl.col(c).str.to_datetime(time_zone="UTC") for c in cols)
    path = tmp_path / "interval.parquet"
    typed.write_parquet(path)
    log = read_parquet(path)
    accounted(log)
    same_as_csv(log, read_csv(INTERVAL))
    assert log.report.layout == "pm4py interval log"


def test_chinese_sample_typed(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "商机编号": ["D001", "D001", "D002"],
            "阶段": ["初步接触", "需求分析", "初步接触"],
            "进入时间": ["2024-03-01 09:00", "2024-03-05 14:30", "2024-03-02 10:00"],
            "金额": [120000.0, 120000.0, 80000.5],
        }
    ).with_columns(pl.col("进入时间").str.to_datetime("%Y-%m-%d %H:%M"))
    path = tmp_path / "商机.parquet"
    frame.write_parquet(path)
    m = Mapping.parse("deal=商机编号,stage=阶段,timestamp=进入时间,amount=金额")
    log = read_parquet(path, mapping=m, tz="Asia/Shanghai")
    accounted(log)
    assert [str(x) for x in log.frame["entered_at"]] == [
        "2024-03-01 01:00:00+00:00",
        "2024-03-05 06:30:00+00:00",
        "2024-03-02 02:00:00+00:00",
    ]
    assert log.frame["amount"].to_list() == [120000.0, 120000.0, 80000.5]
    assert log.frame["source_row"].to_list() == [1, 2, 3]


@pytest.mark.skipif(not MAVEN.exists(), reason="shared data not available")
def test_maven_wide_parquet_with_dates(tmp_path: Path) -> None:
    table = pl.read_csv(MAVEN, try_parse_dates=True)
    assert table.schema["engage_date"] == pl.Date
    path = tmp_path / "pipeline.parquet"
    table.write_parquet(path)
    log = read_parquet(path)
    accounted(log)
    assert (log.report.shape, log.report.rows_read, log.report.rows_skipped) == ("wide", 8800, 500)
    same_as_csv(log, read_csv(MAVEN))


def test_bad_date_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "deals.parquet"
    pl.DataFrame(
        {
            "deal_id": ["a", "a", "b"],
            "stage": ["x", "y", "x"],
            "entered_at": ["2024-01-01", "2024-01-02", "2024-02-30"],
        }
    ).write_parquet(path)
    with pytest.raises(LogError) as exc:
        read_parquet(path)
    q = exc.value.problems[0]
    assert (q.name, q.row, q.column) == ("bad-date", 3, "entered_at")
    assert str(q).startswith("deals.parquet:3: column 'entered_at': unparseable date")


@pytest.mark.parametrize(
    ("content", "text"),
    [
        pytest.param(b"PAR1 definitely not parquet", "not a readable Parquet file", id="garbage"),
        pytest.param(None, "no such file", id="missing"),
    ],
)
def test_bad_parquet_files(tmp_path: Path, content: bytes | None, text: str) -> None:
    path = tmp_path / "deals.parquet"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(LogError) as exc:
        read_log(path)
    assert exc.value.problems[0].name == "bad-parquet"
    assert text in str(exc.value)
