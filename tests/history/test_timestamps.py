"""Timestamp detection and vectorised parsing."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from flowsim.history import LogError
from flowsim.history.timestamps import SAMPLE, check_timezone, parse_timestamps, read_timestamps


def iso(values: list[str | None], **kw: object) -> tuple[str, list[str | None], list[bool]]:
    r = parse_timestamps(pl.Series(values, dtype=pl.String), column="c", **kw)  # type: ignore[arg-type]
    assert r.values.dtype == pl.Datetime("us", "UTC")
    out = [None if v is None else v.isoformat() for v in r.values.to_list()]
    return r.format, out, r.failed.to_list()


@pytest.mark.parametrize(
    ("values", "fmt", "first"),
    [
        (["2011-10-01T00:38:44.546+02:00"], "ISO 8601", "2011-09-30T22:38:44.546000+00:00"),
        (["2011-10-01 00:38:44+0200"], "ISO 8601", "2011-09-30T22:38:44+00:00"),
        (["2023-01-02T10:00:00Z"], "ISO 8601", "2023-01-02T10:00:00+00:00"),
        (["2023-01-02T10:00"], "ISO 8601", "2023-01-02T10:00:00+00:00"),
        (["2023-01-02"], "ISO 8601", "2023-01-02T00:00:00+00:00"),
        (["2023/01/02 10:00"], "YYYY/MM/DD", "2023-01-02T10:00:00+00:00"),
        (["2023/01/02 10:00:05"], "YYYY/MM/DD", "2023-01-02T10:00:05+00:00"),
        (["24.12.2023"], "DD.MM.YYYY", "2023-12-24T00:00:00+00:00"),
        (["12/24/2023", "01/02/2023"], "MM/DD/YYYY", "2023-12-24T00:00:00+00:00"),
        (["24/12/2023", "01/02/2023"], "DD/MM/YYYY", "2023-12-24T00:00:00+00:00"),
        (["1704067200"], "epoch seconds", "2024-01-01T00:00:00+00:00"),
        (["1704067200123"], "epoch milliseconds", "2024-01-01T00:00:00.123000+00:00"),
        (["45292", "45292.5"], "Excel serial days", "2024-01-01T00:00:00+00:00"),
    ],
)
def test_formats(values: list[str | None], fmt: str, first: str) -> None:
    got_fmt, out, failed = iso(values)
    assert got_fmt == fmt
    assert out[0] == first
    assert not any(failed)


def test_naive_values_take_the_time_zone() -> None:
    _, out, _ = iso(["2024-01-15 09:00", "2024-07-15 09:00"], tz="Europe/Berlin")
    assert out == ["2024-01-15T08:00:00+00:00", "2024-07-15T07:00:00+00:00"]
    _, out, _ = iso(["2024-01-15T09:00:00+05:00"], tz="Europe/Berlin")
    assert out == ["2024-01-15T04:00:00+00:00"]  # an explicit offset wins over tz


def test_mixed_offsets_and_precision() -> None:
    _, out, failed = iso(
        ["2011-10-01T00:38:44.546+02:00", "2012-03-14 16:04:54+01:00", "2012-01-01"]
    )
    assert out == [
        "2011-09-30T22:38:44.546000+00:00",
        "2012-03-14T15:04:54+00:00",
        "2012-01-01T00:00:00+00:00",
    ]
    assert failed == [False, False, False]


def test_empty_values_are_null_not_failures() -> None:
    _, out, failed = iso(["2024-01-01", "", None, "  "])
    assert out[1:] == [None, None, None]
    assert failed == [False, False, False, False]


def test_failures_are_flagged_by_row() -> None:
    _, _, failed = iso(["2024-01-01", "2017-13-45", "2024-02-30", "soon"])
    assert failed == [False, True, True, True]


def test_ambiguous_day_month_is_reported_and_dayfirst_decides() -> None:
    r = parse_timestamps(pl.Series(["01/02/2024", "03/04/2024"]), column="close_date")
    assert r.format == "MM/DD/YYYY"
    assert [q.code for q in r.notes] == ["ambiguous-date-order"]
    assert r.values[0].month == 1
    r = parse_timestamps(pl.Series(["01/02/2024"]), column="close_date", dayfirst=True)
    assert r.format == "DD/MM/YYYY"
    assert r.values[0].month == 2


def test_unknown_time_zone() -> None:
    with pytest.raises(LogError) as exc:
        check_timezone("Mars/Olympus")
    assert exc.value.problems[0].code == "bad-timezone"
    assert check_timezone("Asia/Shanghai") == "Asia/Shanghai"


def test_large_column_is_vectorised() -> None:
    values = pl.Series(
        [f"2024-01-{1 + i % 28:02d} 10:{i % 60:02d}:00+08:00" for i in range(200_000)]
    )
    r = parse_timestamps(values, column="t")
    assert r.failed.sum() == 0
    assert r.values.null_count() == 0


def test_whole_seconds_fractions_and_t_mix_in_one_column() -> None:
    # the fast whole-second formats go first; what they leave is read by the others
    _, out, failed = iso(
        ["2024-01-01 10:00:00", "2024-01-01 10:00:00.25", "2024-01-01T10:00:00", "2024-01-01t10:00"]
    )
    assert out == [
        "2024-01-01T10:00:00+00:00",
        "2024-01-01T10:00:00.250000+00:00",
        "2024-01-01T10:00:00+00:00",
        "2024-01-01T10:00:00+00:00",
    ]
    assert failed == [False] * 4


def test_offsets_flag_says_when_a_column_can_mix_styles() -> None:
    def offsets(values: list[str]) -> bool:
        return parse_timestamps(pl.Series(values), column="c").offsets

    assert not offsets(["2024-01-01 10:00:00", "2024-01-02"])
    assert not offsets(["01.02.2024 10:00"])
    assert offsets(["2024-01-01 10:00:00", "2024-01-01T10:00:00Z"])
    assert offsets(["2024-01-01 10:00:00", "not a date"])  # a failure: cannot tell


def test_day_month_order_decided_by_a_value_past_the_sample() -> None:
    values = ["03/04/2024"] * (SAMPLE + 10) + ["25/04/2024"]
    r = parse_timestamps(pl.Series(values), column="c")
    assert r.format == "DD/MM/YYYY"
    assert not r.notes
    assert r.values[0].month == 4


def test_typed_columns_read_without_text() -> None:
    naive = pl.Series([dt.datetime(2024, 1, 15, 9, 0), None])
    r = read_timestamps(naive, column="c", tz="Asia/Shanghai")
    assert r.values.to_list()[0] == dt.datetime(2024, 1, 15, 1, 0, tzinfo=dt.UTC)
    assert r.failed.to_list() == [False, False]
    assert (r.format, r.offsets) == ("ISO 8601", False)
    aware = naive.dt.replace_time_zone("America/New_York").dt.cast_time_unit("ms")
    r = read_timestamps(aware, column="c", tz="Asia/Shanghai")  # its own zone wins
    assert r.values[0] == dt.datetime(2024, 1, 15, 14, 0, tzinfo=dt.UTC)
    assert r.values.dtype == pl.Datetime("us", "UTC")
    dates = pl.Series([dt.date(2024, 1, 15)])
    assert read_timestamps(dates, column="c").values[0] == dt.datetime(2024, 1, 15, tzinfo=dt.UTC)


def test_padded_values_are_read_like_stripped_ones() -> None:
    # the column is parsed as it is first; what fails is stripped and parsed again
    _, out, failed = iso([" 2024-01-01 10:00:00 ", "\u30002024-01-02", "2024-01-03 10:00:00", "\t"])
    assert out == [
        "2024-01-01T10:00:00+00:00",
        "2024-01-02T00:00:00+00:00",
        "2024-01-03T10:00:00+00:00",
        None,
    ]
    assert failed == [False, False, False, False]
    _, _, failed = iso([" 2024-01-01 10:00:00 ", " soon "])
    assert failed == [False, True]
