"""Arrivals with a profile: the simulated deals follow the weekday, hour and month weights and
the trend, and the stated rate stays the mean (flowsim.sim.arrivals; docs/language.md).

Expected counts are exact: ``λ̄ · ∫W`` over each cell (``ArrivalClock.integral``), checked
against closed forms; the simulated counts are compared with them by a chi-square test.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from scipy import stats

import flowsim
from flowsim.model import Process, RateArrivals
from flowsim.sim.arrivals import ArrivalClock
from flowsim.sim.engine import Settings, run_once

EPOCH = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday
TAIL = "stage a\noutcome won\na -> won\n"


def process(arrivals: str) -> Process:
    return flowsim.parse(f"process p arrivals {arrivals}\n{TAIL}")


def profile_of(arrivals: str) -> RateArrivals:
    a = process(arrivals).arrivals
    assert isinstance(a, RateArrivals) and a.profile is not None
    return a


def arrival_times(p: Process, weeks: float, seed: int = 1, epoch: datetime = EPOCH) -> np.ndarray:
    run = run_once(p, Settings(epoch=epoch, until=weeks * 168), seed, 0)
    return np.sort(run.arrival)


def test_a_week_of_weights_integrates_to_a_week() -> None:
    a = profile_of("40 per week weekdays Mon 1.2 Tue 1.1 Wed-Thu 1 Fri 0.7 hours 09:00-12:00 1.5")
    assert a.profile is not None
    clock = ArrivalClock(a.profile, EPOCH)
    assert clock.integral(0, 168) == pytest.approx(168, rel=1e-12)
    assert clock.integral(168 * 3, 168 * 4) == pytest.approx(168, rel=1e-12)
    # Monday 09:00-12:00: 1.2 x 1.5 x the week's scale, for 3 hours
    scale = 168 / ((1.2 + 1.1 + 1 + 1 + 0.7) * 1.5 * 3)
    assert clock.integral(9, 12) == pytest.approx(1.2 * 1.5 * scale * 3)
    assert clock.integral(12, 24 + 9) == 0  # closed from noon to the next morning
    assert clock.rate(10) == pytest.approx(1.2 * 1.5 * scale)


def test_months_average_one_over_the_mean_year() -> None:
    a = profile_of("1 per day months Jan-Jun 0.5 Jul-Dec 1.5")
    assert a.profile is not None
    start = datetime(2025, 1, 1, tzinfo=UTC)
    clock = ArrivalClock(a.profile, start)
    year = 365 * 24
    f = a.profile.month_factors()
    first_half = 181  # days Jan..Jun 2025
    assert clock.integral(0, first_half * 24) == pytest.approx(f[0] * first_half * 24)
    assert clock.integral(0, year) == pytest.approx(year, rel=0.003)  # 365 of 365.25 days


def test_the_trend_compounds_from_its_date() -> None:
    a = profile_of("10 per day trend +10% per week from 2025-01-06")
    assert a.profile is not None
    clock = ArrivalClock(a.profile, EPOCH)
    assert clock.rate(0) == pytest.approx(1)
    assert clock.rate(168) == pytest.approx(1.1)
    assert clock.rate(168 * 4) == pytest.approx(1.1**4)
    k = math.log(1.1) / 168
    assert clock.integral(0, 168) == pytest.approx(math.expm1(k * 168) / k)


def test_a_flat_profile_draws_the_same_deals_as_a_flat_rate() -> None:
    """The time change with W = 1 is the identity: the same stream, the same instants."""
    flat = arrival_times(process("30 per week"), 10)
    same = arrival_times(process("30 per week weekdays Mon-Sun 1"), 10)
    assert len(same) == len(flat) > 200
    np.testing.assert_allclose(same, flat, rtol=0, atol=1e-9)


def _cells(times: np.ndarray, epoch: datetime, tz: str) -> Counter[tuple[int, int]]:
    zone = ZoneInfo(tz)
    local = [(epoch + timedelta(hours=float(t))).astimezone(zone) for t in times]
    return Counter((d.weekday(), d.hour) for d in local)


def test_simulated_arrivals_follow_the_weekday_and_hour_profile() -> None:
    """20 weeks at 60 a day: counts per weekday x hour against exact expected counts."""
    text = (
        '60 per day "Asia/Shanghai" weekdays Mon 2 Tue-Fri 1 Sat 0.25 '
        "hours 09:00-12:00 3 12:00-13:00 0.5 13:00-18:00 1"
    )
    a = profile_of(text)
    assert a.profile is not None
    weeks = 20
    times = arrival_times(process(text), weeks, seed=7)
    clock = ArrivalClock(a.profile, EPOCH)
    expected_total = a.per_hour * clock.integral(0, weeks * 168)
    assert expected_total == pytest.approx(60 * 7 * weeks)  # the stated rate is the mean
    assert abs(len(times) - expected_total) < 4 * math.sqrt(expected_total)
    got = _cells(times, EPOCH, "Asia/Shanghai")
    # expected per (weekday, hour): the integral over every such hour of the run
    shanghai = ZoneInfo("Asia/Shanghai")
    want: Counter[tuple[int, int]] = Counter()
    first = EPOCH.astimezone(shanghai).replace(minute=0, second=0, microsecond=0)
    for h in range(weeks * 168 + 1):
        start = first + timedelta(hours=h)
        a0 = (start - EPOCH).total_seconds() / 3600
        lo, hi = max(a0, 0.0), min(a0 + 1, weeks * 168)
        if hi > lo:
            want[(start.weekday(), start.hour)] += a.per_hour * clock.integral(lo, hi)
    assert set(got) <= {c for c, v in want.items() if v > 0}  # nothing at night or on Sunday
    cells = sorted(c for c, v in want.items() if v > 0)
    observed = np.array([got[c] for c in cells], dtype=float)
    expected = np.array([want[c] for c in cells])
    expected *= observed.sum() / expected.sum()
    assert stats.chisquare(observed, expected).pvalue > 0.001


def test_a_trend_shows_in_the_monthly_counts() -> None:
    p = process("200 per week trend +5% per month")
    times = arrival_times(p, 52, seed=3)
    month = 365.25 * 24 / 12
    first = np.sum(times < month)
    last = np.sum((times >= 11 * month) & (times < 12 * month))
    k = math.log(1.05) / month
    want_first = 200 / 168 * math.expm1(k * month) / k
    want_last = want_first * 1.05**11
    assert abs(first - want_first) < 4 * math.sqrt(want_first)
    assert abs(last - want_last) < 4 * math.sqrt(want_last)


def test_a_declining_trend_ends_the_arrivals_without_hanging() -> None:
    times = arrival_times(process("50 per week trend -90% per week"), 30)
    assert 0 < len(times) < 200


def test_replayed_arrival_times_ignore_the_profile() -> None:
    p = process("40 per week weekdays Mon 1")
    times = (1.5, 30.0, 100.25)  # Monday, Tuesday, Friday: the profile would allow none
    run = run_once(p, Settings(epoch=EPOCH, until=168, arrival_times=times), 1, 0)
    assert tuple(np.sort(run.arrival)) == times
