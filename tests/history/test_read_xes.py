"""read_xes: the running example against its CSV twin, BPIC 2012's funnel, lifecycle pairing."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import polars as pl
import pytest

from flowsim.history import LogError, read_csv, read_log, read_xes
from flowsim.history.log import SCHEMA, DealLog

DATA = Path("/work/shared/data")
BPIC = DATA / "bpic2012" / "bpic2012.xes.gz"
needs_data = pytest.mark.skipif(not BPIC.exists(), reason="shared data not available")


def accounted(log: DealLog) -> None:
    r = log.report
    assert r.rows_read == r.rows_used + r.rows_skipped
    assert sum(r.skipped_by_reason.values()) == r.rows_skipped
    assert dict(log.frame.schema) == SCHEMA


@needs_data
def test_running_example_xes_equals_csv() -> None:
    xes = read_xes(DATA / "pm4py-logs" / "running-example.xes")
    csv = read_csv(DATA / "pm4py-logs" / "running-example.csv")
    accounted(xes)
    assert (xes.deals, len(xes), xes.report.rows_read) == (6, 42, 42)
    assert xes.frame.drop("source_row").equals(csv.frame.drop("source_row"))
    # XES rows are event numbers; the CSV's are spreadsheet rows (header = row 1)
    assert (csv.frame["source_row"] - 1).equals(xes.frame["source_row"])


@pytest.fixture(scope="module")
def bpic() -> tuple[DealLog, float]:
    if not BPIC.exists():
        pytest.skip("shared data not available")
    t0 = time.perf_counter()
    log = read_log(BPIC)
    return log, time.perf_counter() - t0


def test_bpic2012_counts(bpic: tuple[DealLog, float]) -> None:
    log, _ = bpic
    accounted(log)
    r = log.report
    assert r.rows_read == 262_200
    assert r.rows_skipped == 0
    assert log.deals == 13_087
    # W_ work items: schedule/start/complete folded into instances
    assert len(log) < 262_200
    w = log.frame.filter(pl.col("stage").str.starts_with("W_"))
    assert w["started_at"].null_count() < w.height
    paired = w.filter(pl.col("started_at").is_not_null() & pl.col("left_at").is_not_null())
    assert (paired["left_at"] >= paired["started_at"]).all()
    assert (paired["started_at"] >= paired["entered_at"]).all()
    codes = {q.name for q in r.problems}
    assert codes <= {"unpaired-start", "unpaired-schedule", "unpaired-complete"}


def test_bpic2012_application_funnel(bpic: tuple[DealLog, float]) -> None:
    log, _ = bpic
    cases = log.frame.group_by("stage").agg(pl.col("deal").n_unique().alias("n"))
    n = dict(cases.iter_rows())
    total = log.deals
    assert n["A_SUBMITTED"] == total == 13_087
    share = {s: round(100 * n[s] / total, 1) for s in n}
    assert share["A_PREACCEPTED"] == 56.3
    assert share["A_ACCEPTED"] == 39.1
    assert share["A_FINALIZED"] == 38.3
    assert share["A_APPROVED"] == 17.2
    assert (n["A_APPROVED"], n["A_DECLINED"], n["A_CANCELLED"]) == (2246, 7635, 2807)


def test_bpic2012_amount_and_owner(bpic: tuple[DealLog, float]) -> None:
    log, _ = bpic
    a = log.frame.filter(pl.col("stage") == "A_SUBMITTED")
    assert a["amount"].null_count() == 0  # trace AMOUNT_REQ
    assert a["amount"].min() == 0
    assert a["amount"].median() == 10_000
    assert log.frame.filter(pl.col("stage").str.starts_with("A_"))["owner"].null_count() == 0


LIFECYCLE_XES = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1.0" xmlns="http://www.xes-standard.org/">
  <global scope="event"><string key="concept:name" value="x"/></global>
  <trace>
    <string key="concept:name" value="c1"/>
    <float key="AMOUNT_REQ" value="500"/>
    <event><string key="concept:name" value="review"/>
      <string key="lifecycle:transition" value="schedule"/>
      <date key="time:timestamp" value="2024-01-01T08:00:00.000+01:00"/></event>
    <event><string key="concept:name" value="review"/>
      <string key="lifecycle:transition" value="start"/>
      <string key="org:resource" value="ann"/>
      <date key="time:timestamp" value="2024-01-01T09:00:00.000+01:00"/></event>
    <event><string key="concept:name" value="call"/>
      <date key="time:timestamp" value="2024-01-01T09:30:00.000+01:00"/>
      <string key="meta" value="m"><string key="concept:name" value="nested"/></string></event>
    <event><string key="concept:name" value="review"/>
      <string key="lifecycle:transition" value="complete"/>
      <date key="time:timestamp" value="2024-01-01T10:00:00.000+01:00"/></event>
    <event><string key="concept:name" value="review"/>
      <string key="lifecycle:transition" value="suspend"/>
      <date key="time:timestamp" value="2024-01-01T10:30:00.000+01:00"/></event>
    <event><string key="concept:name" value="review"/>
      <string key="lifecycle:transition" value="complete"/>
      <date key="time:timestamp" value="2024-01-01T11:00:00.000+01:00"/></event>
    <event><string key="concept:name" value="sign"/>
      <string key="lifecycle:transition" value="start"/>
      <date key="time:timestamp" value="2024-01-02T09:00:00.000+01:00"/></event>
  </trace>
</log>
"""


def test_lifecycle_pairing(tmp_path: Path) -> None:
    path = tmp_path / "life.xes.gz"
    path.write_bytes(gzip.compress(LIFECYCLE_XES.encode()))
    log = read_xes(path)
    accounted(log)
    r = log.report
    assert r.rows_read == 7
    assert r.skipped_by_reason == {"unsupported-lifecycle:suspend": 1}
    rows = log.frame.select(
        "stage",
        pl.col("entered_at").dt.hour().alias("in"),
        pl.col("started_at").dt.hour().alias("start"),
        pl.col("left_at").dt.hour().alias("out"),
        "owner",
        "amount",
        "source_row",
    ).rows()
    assert rows == [
        ("review", 7, 8, 9, "ann", 500.0, 1),  # schedule 08:00+01 → start → complete
        ("call", 8, None, None, None, 500.0, 3),  # no lifecycle: an instant; nested key ignored
        ("review", 10, None, None, None, 500.0, 6),  # bare complete
        ("sign", 8, 8, None, None, 500.0, 7),  # start never completed: open
    ]
    assert {(q.name, q.row) for q in r.problems} == {
        ("unsupported-lifecycle", 5),
        ("unpaired-complete", 6),
        ("unpaired-start", 7),
    }


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"<log><trace><event>", id="truncated"),
        pytest.param(b"not xml at all", id="text"),
        pytest.param(b"\x1f\x8bnot really gzip", id="bad-gzip"),
    ],
)
def test_bad_xes(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.xes"
    path.write_bytes(content)
    with pytest.raises(LogError) as exc:
        read_xes(path)
    assert exc.value.problems[0].name == "bad-xml"
    text = str(exc.value)
    assert text.startswith("bad.xes")  # with the XML line where expat stopped
    assert "not a readable XES file" in text or "not valid gzip data" in text


def test_xes_event_without_time_is_an_error(tmp_path: Path) -> None:
    text = LIFECYCLE_XES.replace(
        '<date key="time:timestamp" value="2024-01-01T09:30:00.000+01:00"/>', ""
    )
    path = tmp_path / "t.xes"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LogError) as exc:
        read_xes(path)
    q = exc.value.problems[0]
    assert (q.name, q.row, q.column) == ("missing-date", 3, "time:timestamp")
    log = read_xes(path, lenient=True)
    accounted(log)
    assert log.report.skipped_by_reason["missing-date"] == 1
