"""The fast import paths give what the general ones give: typed Parquet columns, plain UTF-8 CSV.

Parquet datetimes are read as datetimes (no text round trip), a plain UTF-8 CSV goes to polars
without a Python decode, rows already in order are not sorted, and duplicate events are found
among neighbours after the sort. Each test compares the fast path with the general one on the
same rows, including bad rows, so a shortcut can never drop or reword a problem.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import polars as pl
import pytest

from flowsim.history import LogError, read_csv, read_log, read_parquet
from flowsim.history.log import DealLog
from flowsim.history.read_csv import HEAD_BYTES
from flowsim.history.textcol import stripped
from tests.history.test_read_csv import accounted


def dirty_rows(n_deals: int = 120, seed: int = 5) -> pl.DataFrame:
    """A shuffled deal log with every kind of bad row the long-shape checks know."""
    rng = random.Random(seed)
    rows = []
    for d in range(n_deals):
        t = dt.datetime(2024, 3, 1) + dt.timedelta(hours=rng.randint(0, 3000))
        for stage in ("contact", "needs", "design", "won")[: rng.randint(1, 4)]:
            left = t + dt.timedelta(hours=rng.randint(1, 300), seconds=rng.randint(0, 59))
            rows.append(
                {
                    "deal_id": f"D{d:03d}",
                    "stage": stage,
                    "entered_at": t,
                    "left_at": left,
                    "owner": rng.choice(["ann", " bob ", None, ""]),
                    "amount": rng.choice([1000.0, 2500.5, None]),
                }
            )
            t = left
    base = pl.DataFrame(rows)
    frame = pl.concat(
        [
            base,
            base[5:8],  # exact repeats: duplicate events
            base[20:21].with_columns(pl.lit("needs").alias("stage")),  # same time, other stage
        ]
    ).sample(fraction=1.0, shuffle=True, seed=seed)
    i = pl.int_range(pl.len())
    return frame.with_columns(
        pl.when(i % 37 == 0)
        .then(pl.lit(" ") + pl.col("deal_id") + pl.lit("\u3000"))
        .otherwise(pl.col("deal_id"))
        .alias("deal_id"),
        pl.when(i % 41 == 0).then(None).otherwise(pl.col("entered_at")).alias("entered_at"),
        pl.when(i % 43 == 0)
        .then(pl.col("entered_at") - dt.timedelta(days=3))
        .otherwise(pl.col("left_at"))
        .alias("left_at"),
        pl.when(i % 47 == 0).then(pl.lit("")).otherwise(pl.col("stage")).alias("stage"),
    )


def as_csv_rows(log: DealLog) -> pl.DataFrame:
    """The frame with CSV row numbers (Parquet counts records from 1, CSV has a header row)."""
    return log.frame.with_columns(pl.col("source_row") + 1)


def problems(log_or_error: DealLog | LogError, shift: int = 0) -> list[tuple[object, ...]]:
    found = (
        log_or_error.problems
        if isinstance(log_or_error, LogError)
        else log_or_error.report.problems
    )
    return [
        (q.name, q.severity, (q.row or 0) + shift, q.column, q.message, q.value, q.hint)
        for q in found
    ]


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin"])
def test_typed_parquet_equals_the_same_rows_as_csv_text(tmp_path: Path, tz: str) -> None:
    frame = dirty_rows()
    frame.write_parquet(tmp_path / "deals.parquet")
    frame.with_columns(pl.col("entered_at", "left_at").dt.to_string("%Y-%m-%d %H:%M:%S")).write_csv(
        tmp_path / "deals.csv"
    )
    typed = read_log(tmp_path / "deals.parquet", lenient=True, tz=tz)
    text = read_log(tmp_path / "deals.csv", lenient=True, tz=tz)
    accounted(typed)
    assert as_csv_rows(typed).equals(text.frame)
    assert problems(typed, shift=1) == problems(text)
    for field in ("rows_read", "rows_used", "rows_skipped", "skipped_by_reason", "records"):
        assert getattr(typed.report, field) == getattr(text.report, field)
    assert set(typed.report.skipped_by_reason) == {
        "duplicate-event",
        "empty-stage",
        "missing-date",
        "negative-duration",
    }
    with pytest.raises(LogError) as strict_typed:
        read_log(tmp_path / "deals.parquet", tz=tz)
    with pytest.raises(LogError) as strict_text:
        read_log(tmp_path / "deals.csv", tz=tz)
    assert problems(strict_typed.value, shift=1) == problems(strict_text.value)


def test_typed_naive_times_are_local_with_gaps_refused(tmp_path: Path) -> None:
    path = tmp_path / "berlin.parquet"
    pl.DataFrame(
        {
            "deal_id": ["a", "a", "b"],
            "stage": ["x", "y", "x"],
            "entered_at": [
                dt.datetime(2024, 3, 30, 10, 0),
                dt.datetime(2024, 10, 27, 2, 30),  # ambiguous: the earlier instant
                dt.datetime(2024, 3, 31, 2, 30),  # in the DST gap
            ],
        }
    ).write_parquet(path)
    with pytest.raises(LogError) as exc:
        read_parquet(path, tz="Europe/Berlin")
    (q,) = exc.value.problems
    assert (q.name, q.row, q.column, q.value) == (
        "bad-date",
        3,
        "entered_at",
        "2024-03-31 02:30:00",
    )
    assert "a local time in a DST gap fails too" in (q.hint or "")
    log = read_parquet(path, tz="Europe/Berlin", lenient=True)
    assert [str(x) for x in log.frame["entered_at"]] == [
        "2024-03-30 09:00:00+00:00",
        "2024-10-27 00:30:00+00:00",
    ]
    assert log.report.timestamp_formats == {"entered_at": "ISO 8601"}


def test_typed_aware_units_dates_and_numbers(tmp_path: Path) -> None:
    instant = dt.datetime(2024, 5, 1, 12, 0, 0, 123456)
    frame = pl.DataFrame(
        {
            "deal_id": [7, 7, 8],
            "stage": ["x", "y", "x"],
            "entered_at": [instant, instant + dt.timedelta(days=1), instant],
            "left_at": [dt.date(2024, 5, 2), None, dt.date(2024, 5, 3)],
            "amount": [float("nan"), 2.0, float("inf")],
        }
    ).with_columns(
        pl.col("entered_at").dt.cast_time_unit("ns").dt.replace_time_zone("Asia/Shanghai")
    )
    path = tmp_path / "typed.parquet"
    frame.write_parquet(path)
    log = read_parquet(path, tz="Europe/Berlin")
    accounted(log)
    f = log.frame
    assert f["deal"].to_list() == ["7", "7", "8"]
    assert f["entered_at"][0] == dt.datetime(2024, 5, 1, 4, 0, 0, 123456, tzinfo=dt.UTC)
    # a date is midnight in --tz (Berlin summer time: 22:00 UTC the day before)
    assert f["left_at"][0] == dt.datetime(2024, 5, 1, 22, 0, tzinfo=dt.UTC)
    # NaN and infinite amounts are no amount
    assert f["amount"].to_list() == [None, 2.0, None]


def test_duplicates_in_unsorted_rows_first_in_the_file_wins(tmp_path: Path) -> None:
    text = (
        "deal_id,stage,entered_at,owner\n"
        "b,x,2024-01-02 09:00,first\n"  # row 2
        "a,y,2024-01-01 09:00,a-first\n"  # row 3
        "a,x,2024-01-01 09:00,other stage\n"  # row 4: same time, another stage: kept
        "a,y,2024-01-01 09:00,a-again\n"  # row 5: repeats row 3
        "b,x,2024-01-02 09:00,again\n"  # row 6: repeats row 2
        "a,y,2024-01-01 09:00,third\n"  # row 7: repeats row 3
    )
    path = tmp_path / "deals.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LogError) as exc:
        read_csv(path)
    assert [(q.name, q.row) for q in exc.value.problems] == [
        ("duplicate-event", 5),
        ("duplicate-event", 6),
        ("duplicate-event", 7),
    ]
    log = read_csv(path, lenient=True)
    accounted(log)
    assert log.frame["owner"].to_list() == ["a-first", "other stage", "first"]
    assert log.frame["source_row"].to_list() == [3, 4, 2]  # sorted by deal, time, row


def test_plain_utf8_and_decoded_paths_agree(tmp_path: Path) -> None:
    rows = "".join(f"D{i:05d},contact,2024-01-01 09:00:{i % 60:02d},\n" for i in range(4000))
    header = "deal_id,stage,entered_at,owner\n"
    assert len(rows) > HEAD_BYTES  # so the late rows are past the part decoded in Python
    late = "D99999,初步接触,2024-01-02 09:00:00,王\n"
    plain = read_csv(write(tmp_path, "plain.csv", header + rows + late, "utf-8"))
    gbk = read_csv(write(tmp_path, "gbk.csv", header + rows + late, "gbk"))
    preamble = read_csv(
        write(tmp_path, "pre.csv", "# from the CRM\n" + header + rows + late, "utf-8")
    )
    assert (plain.report.encoding, gbk.report.encoding) == ("utf-8", "gb18030")
    assert plain.frame.equals(gbk.frame)
    assert preamble.frame.equals(plain.frame.with_columns(pl.col("source_row") + 1))
    # invalid UTF-8 past the head: refused by the decoding path, with the row
    bad = tmp_path / "bad.csv"
    bad.write_bytes((header + rows).encode() + b"D1,\xff\xfe,2024-01-01,x\n")
    with pytest.raises(LogError) as exc:
        read_csv(bad, encoding="utf-8")
    (q,) = exc.value.problems
    assert (q.name, q.row) == ("bad-encoding", 4002)
    ragged = write(tmp_path, "ragged.csv", header + rows + "D1,x,2024-01-01,a,extra\n", "utf-8")
    with pytest.raises(LogError) as exc:
        read_csv(ragged)
    (q,) = exc.value.problems
    assert (q.name, q.row, q.message) == ("bad-csv", 4002, "the row has 5 fields, the header 4")


def write(tmp_path: Path, name: str, text: str, encoding: str) -> Path:
    """``text`` written to ``tmp_path / name`` in ``encoding``."""
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_few_distinct_values_checked_once_but_a_late_padded_one_is_stripped() -> None:
    stages = pl.Series(["contact", "needs", None, "won"] * 20_000)
    assert stripped(stages).equals(stages)
    late = pl.concat([stages, pl.Series(["\u3000needs "])])
    assert stripped(late).to_list()[-1] == "needs"
    ids = pl.Series([f" D{i} " for i in range(100_000)])  # many distinct values
    assert stripped(ids)[0] == "D0"
