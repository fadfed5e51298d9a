"""WorkingTime: hand-checked examples, DST, midnight, lazy chunks, an oracle, and properties."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowsim.model import Calendar, TimeWindow
from flowsim.sim.calendar import CHUNK_DAYS, WorkingTime, local_instant
from tests.strategies import calendars

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday
BERLIN = ZoneInfo("Europe/Berlin")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def clock(when: datetime) -> float:
    """Hours since EPOCH."""
    return (when - EPOCH) / timedelta(hours=1)


def cal(days: tuple[int, ...], *windows: tuple[int, int], tz: str | None = None) -> Calendar:
    return Calendar(
        days=days, windows=tuple(TimeWindow(start=a, end=b) for a, b in windows), timezone=tz
    )


OFFICE = cal((0, 1, 2, 3, 4), (9 * 60, 18 * 60))  # Mon-Fri 09:00-18:00, UTC


# ---- hand-checked examples -------------------------------------------------------------------


def test_friday_afternoon_effort_finishes_on_monday() -> None:
    work = WorkingTime(OFFICE, EPOCH)
    friday_17 = clock(datetime(2024, 1, 5, 17, tzinfo=UTC))
    assert work.add(friday_17, 2) == clock(datetime(2024, 1, 8, 10, tzinfo=UTC))
    assert work.working_hours(friday_17, work.add(friday_17, 2)) == 2


def test_queued_off_calendar_starts_at_next_opening() -> None:
    work = WorkingTime(OFFICE, EPOCH)
    saturday = clock(datetime(2024, 1, 6, 12, tzinfo=UTC))
    monday_9 = clock(datetime(2024, 1, 8, 9, tzinfo=UTC))
    assert work.add(saturday, 1) == monday_9 + 1
    assert work.next_open(saturday) == monday_9
    assert work.add(saturday, 0) == saturday  # nothing to do: no waiting for the opening
    assert not work.is_open(saturday)


def test_window_edges_are_half_open() -> None:
    work = WorkingTime(OFFICE, EPOCH)
    assert work.is_open(9.0)
    assert not work.is_open(18.0)
    assert work.next_open(9.0) == 9.0
    assert work.next_open(18.0) == 24 + 9
    # Work that ends exactly at closing time ends then, not at the next opening.
    assert work.add(9.0, 9.0) == 18.0
    assert work.add(17.0, 1.0) == 18.0


def test_no_calendar_is_plain_arithmetic() -> None:
    work = WorkingTime(None, EPOCH)
    assert work.always_open
    assert work.add(0.1, 0.2) == 0.1 + 0.2
    assert work.add(-7.5, 3) == -4.5
    assert work.working_hours(-3, 5) == 8
    assert work.next_open(-3.25) == -3.25
    assert work.is_open(1e5)


def test_shanghai_office_with_lunch_break() -> None:
    # 周一-周五 09:00-12:00 13:30-18:00 "Asia/Shanghai" (UTC+8): 08:00 UTC Monday is 16:00 there.
    work = WorkingTime(cal((0, 1, 2, 3, 4), (540, 720), (810, 1080), tz="Asia/Shanghai"), EPOCH)
    monday_8 = clock(datetime(2024, 1, 1, 8, tzinfo=SHANGHAI))
    assert work.add(monday_8, 1) == clock(datetime(2024, 1, 1, 10, tzinfo=SHANGHAI))
    # 3 h before lunch, the fourth hour after it.
    assert work.add(monday_8, 4) == clock(datetime(2024, 1, 1, 14, 30, tzinfo=SHANGHAI))
    friday_17 = clock(datetime(2024, 1, 5, 17, tzinfo=SHANGHAI))
    assert work.add(friday_17, 2) == clock(datetime(2024, 1, 8, 10, tzinfo=SHANGHAI))
    assert work.working_hours(monday_8, monday_8 + 24) == 7.5


def test_default_timezone_applies_when_the_calendar_names_none() -> None:
    work = WorkingTime(OFFICE, EPOCH, default_timezone="Asia/Shanghai")
    assert work.next_open(0) == clock(datetime(2024, 1, 1, 9, tzinfo=SHANGHAI))
    zoned = WorkingTime(cal((0,), (540, 600), tz="UTC"), EPOCH, default_timezone="Asia/Shanghai")
    assert zoned.next_open(0) == 9  # the calendar's own zone wins


# ---- daylight-saving time ----------------------------------------------------------------


def test_berlin_office_hours_follow_the_wall_clock_across_dst() -> None:
    work = WorkingTime(cal((0, 1, 2, 3, 4), (540, 1020), tz="Europe/Berlin"), EPOCH)
    # Winter 09:00 CET is 08:00 UTC; after 2024-03-31 09:00 CEST is 07:00 UTC.
    assert work.next_open(clock(datetime(2024, 3, 29, 0, tzinfo=UTC))) == clock(
        datetime(2024, 3, 29, 8, tzinfo=UTC)
    )
    assert work.next_open(clock(datetime(2024, 4, 1, 0, tzinfo=UTC))) == clock(
        datetime(2024, 4, 1, 7, tzinfo=UTC)
    )
    friday_16 = clock(datetime(2024, 3, 29, 16, tzinfo=BERLIN))
    assert work.add(friday_16, 2) == clock(datetime(2024, 4, 1, 10, tzinfo=BERLIN))
    friday_16 = clock(datetime(2024, 10, 25, 16, tzinfo=BERLIN))
    assert work.add(friday_16, 2) == clock(datetime(2024, 10, 28, 10, tzinfo=BERLIN))


@pytest.mark.parametrize(
    ("window", "spring", "autumn"),
    [
        ((0, 360), 5.0, 7.0),  # the night the clocks change is an hour shorter / longer
        ((120, 180), 0.0, 2.0),  # 02:00-03:00 does not exist in spring, happens twice in autumn
        ((150, 240), 1.0, 2.5),  # starts in the gap: from the jump (03:00 CEST) to 04:00
        ((60, 150), 1.0, 1.5),  # ends in the gap / at the first 02:30
        ((540, 1020), 8.0, 8.0),  # daytime hours are untouched
    ],
)
def test_windows_on_dst_sundays(window: tuple[int, int], spring: float, autumn: float) -> None:
    work = WorkingTime(cal((6,), window, tz="Europe/Berlin"), EPOCH)

    def sunday(day: int) -> float:
        return work.working_hours(
            clock(datetime(2024, 3 if day == 31 else 10, day, tzinfo=BERLIN)),
            clock(datetime(2024, 4 if day == 31 else 10, 1 if day == 31 else 28, tzinfo=BERLIN)),
        )

    assert sunday(31) == pytest.approx(spring, abs=1e-12)
    assert sunday(27) == pytest.approx(autumn, abs=1e-12)


def test_local_instant_rules() -> None:
    gap = local_instant(datetime(2024, 3, 31, 2, 30), BERLIN)
    assert gap == datetime(2024, 3, 31, 1, tzinfo=UTC)  # the moment the clock jumps
    twice = local_instant(datetime(2024, 10, 27, 2, 30), BERLIN)
    assert twice == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)  # first occurrence (CEST)
    plain = local_instant(datetime(2024, 7, 1, 9), BERLIN)
    assert plain == datetime(2024, 7, 1, 7, tzinfo=UTC)


# ---- midnight, lazy chunks, range --------------------------------------------------------


def test_windows_across_midnight_are_contiguous_working_time() -> None:
    night = cal((0, 1, 2, 3, 4), (0, 120), (1320, 1440))  # 22:00-24:00 and 00:00-02:00
    work = WorkingTime(night, EPOCH)
    monday_22 = 22.0
    assert work.add(monday_22, 4) == 24 + 2
    assert work.is_open(24.0)
    assert (22.0, 26.0) in work.intervals  # merged into one stretch
    friday_22 = 4 * 24 + 22.0
    # Friday 24:00 is Saturday 00:00, no Saturday window: the rest is done Monday night.
    assert work.add(friday_22, 4) == 7 * 24 + 2


def test_contiguous_work_across_a_chunk_boundary() -> None:
    # Every day 22:00-24:00 + 00:00-02:00: the stretch around the first chunk boundary
    # (local midnight CHUNK_DAYS days after the epoch) is cut by materialisation only.
    work = WorkingTime(cal(tuple(range(7)), (0, 120), (1320, 1440)), EPOCH)
    boundary = CHUNK_DAYS * 24.0
    assert work.add(boundary - 2, 4) == boundary + 2
    assert (boundary - 2, boundary + 2) in work.intervals
    always = WorkingTime(cal(tuple(range(7)), (0, 1440)), EPOCH)
    assert always.add(-3.0, 5 * CHUNK_DAYS * 24) == -3.0 + 5 * CHUNK_DAYS * 24
    assert len(always.intervals) == 1  # chunks extending both ways merge into one interval


def test_before_the_epoch() -> None:
    work = WorkingTime(OFFICE, EPOCH)
    friday_17 = clock(datetime(2023, 6, 2, 17, tzinfo=UTC))
    assert work.add(friday_17, 2) == clock(datetime(2023, 6, 5, 10, tzinfo=UTC))
    # From years before the epoch to after it: 2023 has 260 weekdays.
    start = clock(datetime(2023, 1, 1, tzinfo=UTC))
    assert work.working_hours(start, 0.0) == 260 * 9


def test_ten_thousand_hours_of_effort() -> None:
    work = WorkingTime(OFFICE, EPOCH)
    end = work.add(9.0, 10_000)  # Monday 09:00; 45 h a week: 222 weeks and 10 hours
    assert end == pytest.approx(222 * 168 + 24 + 10, abs=1e-9)
    assert work.working_hours(9.0, end) == pytest.approx(10_000, abs=1e-9)


def test_answers_do_not_depend_on_query_order() -> None:
    times = [-9000.5, -30.25, 0.0, 77.75, 4000.0, 12345.6]
    fresh = [WorkingTime(OFFICE, EPOCH).add(t, 13.5) for t in times]
    shared = WorkingTime(OFFICE, EPOCH)
    backwards = [shared.add(t, 13.5) for t in reversed(times)]
    assert backwards[::-1] == pytest.approx(fresh, abs=1e-9)


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        WorkingTime(OFFICE, datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        WorkingTime(OFFICE, EPOCH, default_timezone="Mars/Olympus")
    work = WorkingTime(OFFICE, EPOCH)
    with pytest.raises(ValueError, match=">= 0"):
        work.add(0, -1)
    with pytest.raises(ValueError, match=">= 0"):
        work.add(0, math.nan)
    with pytest.raises(ValueError, match="finite"):
        work.next_open(math.inf)
    with pytest.raises(ValueError, match="t0 <= t1"):
        work.working_hours(5, 4)
    with pytest.raises(ValueError, match="200 years"):
        work.is_open(24 * 365 * 300)
    with pytest.raises(ValueError, match="200 years"):
        work.add(0, 1e9)


# ---- an independent oracle: minute by minute -----------------------------------------------

HORIZON = 200 * 24 * 60  # minutes each side of the epoch


@cache
def local_clock(timezone: str) -> tuple[np.ndarray, np.ndarray]:
    """Local minute of day and weekday of every UTC minute in [-HORIZON, HORIZON)."""
    instants = pd.date_range(EPOCH - timedelta(minutes=HORIZON), periods=2 * HORIZON, freq="min")
    local = instants.tz_convert(timezone)
    return np.asarray(local.hour * 60 + local.minute), np.asarray(local.day_of_week)


def open_minutes(calendar: Calendar) -> np.ndarray:
    """Whether the local wall clock is inside a window, for each UTC minute of the horizon."""
    minute, weekday = local_clock(calendar.timezone or "UTC")
    inside = np.zeros(len(minute), dtype=bool)
    for w in calendar.windows:
        inside |= (minute >= w.start) & (minute < w.end)
    return np.asarray(np.isin(weekday, calendar.days) & inside)


def no_ambiguous_edges(calendar: Calendar) -> bool:
    # The minute oracle re-opens a window during the repeated autumn hour; WorkingTime keeps
    # working time continuous instead. They agree unless an edge is strictly inside 02:00-03:00.
    return calendar.timezone != "Europe/Berlin" or all(
        not (120 < edge < 180) for w in calendar.windows for edge in (w.start, w.end)
    )


@settings(max_examples=40, deadline=None)
@given(
    calendar=calendars().filter(no_ambiguous_edges),
    t=st.integers(-HORIZON // 2, HORIZON // 2),
    work=st.integers(0, 4000),
    probe=st.integers(-HORIZON // 2, HORIZON // 2),
)
def test_agrees_with_a_minute_by_minute_oracle(
    calendar: Calendar, t: int, work: int, probe: int
) -> None:
    mask = open_minutes(calendar)
    counted = np.concatenate([[0], np.cumsum(mask)])  # open minutes before index i

    def at(m: int) -> int:
        return m + HORIZON

    wt = WorkingTime(calendar, EPOCH)
    available = int(counted[-1] - counted[at(t)])
    work = min(work, available)
    if work > 0:
        # the minute in which the work-th open minute from t falls, and its end
        last = int(np.searchsorted(counted, counted[at(t)] + work)) - 1
        assert wt.add(t / 60, work / 60) == pytest.approx((last - HORIZON + 1) / 60, abs=1e-9)
    lo, hi = sorted((t, probe))
    expected_hours = (counted[at(hi)] - counted[at(lo)]) / 60
    assert wt.working_hours(lo / 60, hi / 60) == pytest.approx(expected_hours, abs=1e-9)
    assert wt.is_open(probe / 60) == bool(mask[at(probe)])
    opens = np.flatnonzero(mask[at(probe) :])
    if len(opens):
        assert wt.next_open(probe / 60) == pytest.approx((probe + int(opens[0])) / 60, abs=1e-9)


# ---- properties --------------------------------------------------------------------------

times = st.floats(-20_000, 20_000, allow_nan=False)


def effort(calendar: Calendar | None) -> st.SearchStrategy[float]:
    """Up to about three years of this calendar's working time."""
    weekly = 168.0 if calendar is None else calendar.hours_per_week
    return st.floats(0, min(10_000.0, weekly * 150), allow_nan=False)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Calendar | None, float, float, float, float]:
    calendar = draw(st.none() | calendars())
    return calendar, draw(times), draw(times), draw(effort(calendar)), draw(effort(calendar))


@settings(max_examples=150, deadline=None)
@given(cases())
def test_properties(case: tuple[Calendar | None, float, float, float, float]) -> None:
    calendar, t, u, h, k = case
    work = WorkingTime(calendar, EPOCH)
    end = work.add(t, h)
    scale = max(1.0, abs(t), abs(end), h)
    assert end >= t
    assert work.working_hours(t, end) == pytest.approx(h, abs=1e-9 * scale)
    lo, hi = sorted((t, u))
    assert work.add(lo, h) <= work.add(hi, h)  # monotone in t
    small, large = sorted((h, k))
    assert work.add(t, small) <= work.add(t, large)  # monotone in h
    if calendar is None:
        assert end == t + h
    else:
        assert work.is_open(work.next_open(t))
        assert work.next_open(t) >= t
