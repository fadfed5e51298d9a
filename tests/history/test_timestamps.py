"""Timestamp detection and vectorised parsing."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    assert [q.name for q in r.notes] == ["ambiguous-date-order"]
    assert r.values[0].month == 1
    r = parse_timestamps(pl.Series(["01/02/2024"]), column="close_date", dayfirst=True)
    assert r.format == "DD/MM/YYYY"
    assert r.values[0].month == 2


def test_unknown_time_zone() -> None:
    with pytest.raises(LogError) as exc:
        check_timezone("Mars/Olympus")
    assert exc.value.problems[0].name == "bad-timezone"
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


@pytest.mark.parametrize(
    ("values", "fmt", "first"),
    [
        (["20-Oct-2016", "3-jan-2017"], "DD Mon YYYY", "2016-10-20T00:00:00+00:00"),
        (["20 October 2016", "3 Jan 2017"], "DD Mon YYYY", "2016-10-20T00:00:00+00:00"),
        (["20-Oct-2016 14:30"], "DD Mon YYYY", "2016-10-20T14:30:00+00:00"),
        (["Oct 20, 2016", "January 3, 2017"], "Mon DD, YYYY", "2016-10-20T00:00:00+00:00"),
        (["Oct 20 2016 09:15:02"], "Mon DD, YYYY", "2016-10-20T09:15:02+00:00"),
        (["2016年10月20日", "2017年1月3日"], "YYYY年MM月DD日", "2016-10-20T00:00:00+00:00"),
        (["2016年10月20日 14:30"], "YYYY年MM月DD日", "2016-10-20T14:30:00+00:00"),
        (["20.10.2016 08:00", "01.02.2017"], "DD.MM.YYYY", "2016-10-20T08:00:00+00:00"),
        (["10.20.2016", "01.02.2017"], "MM.DD.YYYY", "2016-10-20T00:00:00+00:00"),
    ],
)
def test_named_month_chinese_and_dotted_dates(values: list[str], fmt: str, first: str) -> None:
    got_fmt, out, failed = iso(values)
    assert (got_fmt, out[0], any(failed)) == (fmt, first, False)


def test_dotted_dates_follow_the_dayfirst_rules() -> None:
    """Dots are day-first by default (Europe), noted when no day is above 12; options decide."""
    ambiguous = pl.Series(["01.02.2024", "03.04.2024"])
    r = parse_timestamps(ambiguous, column="c")
    assert r.format == "DD.MM.YYYY" and r.values[0] == dt.datetime(2024, 2, 1, tzinfo=dt.UTC)
    assert [n.name for n in r.notes] == ["ambiguous-date-order"]
    assert "--monthfirst" in (r.notes[0].hint or "")
    r = parse_timestamps(ambiguous, column="c", dayfirst=False)
    assert r.format == "MM.DD.YYYY" and r.values[0] == dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
    assert r.notes == []
    # a day above 12 anywhere settles it, whatever the option says
    r = parse_timestamps(pl.Series(["01.02.2024", "25.12.2024"]), column="c", dayfirst=False)
    assert r.format == "DD.MM.YYYY" and not r.notes


def test_unambiguous_values_read_in_a_column_of_another_format() -> None:
    fmt, out, failed = iso(["2024-01-02", "2024年1月5日", "5-Jan-2024", "01/05/2024"])
    assert fmt == "ISO 8601"
    assert out[1] == out[2] == "2024-01-05T00:00:00+00:00"
    assert failed == [False, False, False, True]  # a slashed date could be read two ways


def test_a_date_format_replaces_the_detection() -> None:
    values = pl.Series(["20/10/16 14:30", "03/01/17 09:00", "2017-01-03"])
    r = parse_timestamps(values, column="c", date_format="%d/%m/%y %H:%M", tz="Europe/Berlin")
    assert r.format == "%d/%m/%y %H:%M"
    assert r.values[0] == dt.datetime(2016, 10, 20, 12, 30, tzinfo=dt.UTC)  # 14:30 CEST
    assert r.failed.to_list() == [False, False, True]  # only the pattern, even for ISO
    aware = parse_timestamps(
        pl.Series(["2016-10-20 14:30 +0800"]), column="c", date_format="%Y-%m-%d %H:%M %z"
    )
    assert aware.values[0] == dt.datetime(2016, 10, 20, 6, 30, tzinfo=dt.UTC)


def test_a_column_where_nothing_reads_is_one_problem() -> None:
    from flowsim.history.timestamps import unreadable_column

    text = pl.Series(["20 Okt. 2024", "3 Nov. 2024", "", "5 Dez. 2024", "3 Nov. 2024"])
    r = parse_timestamps(text, column="c")
    problem = unreadable_column(r, text, label="Datum", source="d.csv")
    assert problem is not None and problem.row is None and problem.column == "Datum"
    assert problem.message == (
        "no value of this column reads as a date (4 values, e.g. '20 Okt. 2024', "
        "'3 Nov. 2024', '5 Dez. 2024')"
    )
    assert "--date-format" in (problem.hint or "")
    one_good = pl.Series(["20 Okt. 2024", "2024-11-03", "5 Dez. 2024"])
    r = parse_timestamps(one_good, column="c")
    assert unreadable_column(r, one_good, label="Datum", source="d.csv") is None


def test_two_digit_years_are_not_read_as_the_first_century() -> None:
    """chrono's %Y reads '24' as the year 24: such dates fail, and --date-format '%y' reads them."""
    values = pl.Series(["02.01.24", "13.01.24"])
    assert parse_timestamps(values, column="c").failed.to_list() == [True, True]
    r = parse_timestamps(values, column="c", date_format="%d.%m.%y")
    assert r.values[1] == dt.datetime(2024, 1, 13, tzinfo=dt.UTC)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2060, 12, 31)),
        min_size=1,
        max_size=20,
    ),
    st.sampled_from(
        [
            "%d-%b-%Y %H:%M",
            "%d %B %Y",
            "%b %d, %Y %H:%M:%S",
            "%Y年%m月%d日 %H:%M",
            "%d.%m.%Y %H:%M",  # dots: day first unless a value says otherwise
            "%m/%d/%Y %H:%M:%S",  # slashes: month first unless a value says otherwise
        ]
    ),
)
def test_written_dates_read_back(when: list[dt.datetime], pattern: str) -> None:
    """Dates an export writes in a common style read back to the same instants, no option."""
    truncated = [w.replace(microsecond=0, second=w.second if "%S" in pattern else 0) for w in when]
    if "%H" not in pattern:
        truncated = [w.replace(hour=0, minute=0, second=0) for w in truncated]
    r = parse_timestamps(pl.Series([w.strftime(pattern) for w in truncated]), column="c")
    assert not r.failed.any()
    assert r.values.to_list() == [w.replace(tzinfo=dt.UTC) for w in truncated]
