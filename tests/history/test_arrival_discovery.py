"""Discovery writes the arrival profile a log supports (flowsim.history.arrivals; the rule is in
docs/metrics.md, "Arrivals").

A synthetic log of deals arriving by a known weekday x hour profile, month factors and a trend
(drawn by thinning in numpy, not by flowsim's engine) must be recovered within stated
tolerances; date-only and small logs must get only what they support.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest
from scipy import stats

from flowsim.history import read_log
from flowsim.history.arrivals import chi2_sf
from flowsim.history.discover import discover
from flowsim.model import RateArrivals
from flowsim.sim.arrivals import ArrivalClock
from tests.data import DATA
from tests.history.test_discover import assert_sound

TZ = "Asia/Shanghai"
START = datetime(2023, 1, 2)  # a Monday, local time
DAYS = 800
WEEKDAY = (1.4, 1.2, 1.2, 1.0, 0.8, 0.3, 0.1)
HOURS = {9: 2.0, 10: 2.0, 11: 2.0, 12: 0.5, 13: 1.5, 14: 1.5, 15: 1.5, 16: 1.5, 17: 1.5}
MONTH = {12: 1.6, 1: 0.6}  # the other months 1
GROWTH = 0.03  # per month (30.4375 days)


def _weight(t: datetime) -> float:
    trend = (1 + GROWTH) ** ((t - START).days / 30.4375)
    return WEEKDAY[t.weekday()] * HOURS.get(t.hour, 0.0) * MONTH.get(t.month, 1.0) * trend


def _arrivals(per_day: float, seed: int = 11) -> list[datetime]:
    """A non-homogeneous Poisson process by thinning, local naive times."""
    rng = np.random.default_rng(seed)
    top = max(WEEKDAY) * max(HOURS.values()) * max(MONTH.values()) * (1 + GROWTH) ** (DAYS / 30)
    n = rng.poisson(per_day * DAYS * top)
    offsets = np.sort(rng.uniform(0, DAYS * 24, n))
    out = []
    for h, u in zip(offsets, rng.uniform(0, top, n), strict=True):
        t = START + timedelta(hours=float(h))
        if u < _weight(t):
            out.append(t)
    return out


def _csv(path: Path, times: list[datetime], with_time: bool = True) -> None:
    fmt = "%Y-%m-%d %H:%M:%S" if with_time else "%Y-%m-%d"
    rows = ["deal,stage,timestamp"]
    for k, t in enumerate(times):
        end = t + timedelta(days=2)
        rows += [f"D{k},Lead,{t:{fmt}}", f"D{k},{'Won' if k % 3 else 'Lost'},{end:{fmt}}"]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[datetime], Path]:
    times = _arrivals(per_day=20.0)
    path = tmp_path_factory.mktemp("arrivals") / "deals.csv"
    _csv(path, times)
    return times, path


def test_the_chi_square_tail_matches_scipy() -> None:
    for df in (1, 2, 6, 11, 23):
        for x in (0.5, 3.0, 12.0, 40.0, 90.0):
            assert chi2_sf(x, df) == pytest.approx(stats.chi2.sf(x, df), rel=1e-9, abs=1e-300)


def test_a_known_profile_is_recovered(synthetic: tuple[list[datetime], Path]) -> None:
    """Weekday weights within 10% (Sunday's 0.1 within 0.05), hour weights within 12%, the
    hours without arrivals left out, December / February and January / February within 15%,
    the trend within 0.6 percentage points a month."""
    _, path = synthetic
    found = discover(read_log(path, tz=TZ), tz=TZ)
    a = found.process.arrivals
    assert isinstance(a, RateArrivals) and a.profile is not None
    p = a.profile
    assert p.timezone == TZ  # no process calendar names it
    truth = np.array(WEEKDAY) / np.mean(WEEKDAY)
    got = np.array(p.weekdays)
    assert got[:6] == pytest.approx(truth[:6], rel=0.10)
    assert got[6] == pytest.approx(truth[6], abs=0.05)
    hourly = {h: w.weight for w in p.hours for h in range(w.start // 60, w.end // 60)}
    assert set(hourly) == set(HOURS)
    mean = sum(HOURS.values()) / 24
    for h, w in HOURS.items():
        assert hourly[h] == pytest.approx(w / mean, rel=0.12), h
    assert p.months is not None
    assert p.months[11] / p.months[1] == pytest.approx(1.6, rel=0.15)
    assert p.months[0] / p.months[1] == pytest.approx(0.6, rel=0.15)
    assert p.trend is not None and p.trend.per == "month"
    assert p.trend.change == pytest.approx(GROWTH, abs=0.006)
    assert_sound(found)


def test_the_model_expects_as_many_deals_as_the_history_had(
    synthetic: tuple[list[datetime], Path],
) -> None:
    """The stated rate with its profile, integrated over the history, gives back its deal
    count (within 3%): the profile moves deals in time, it does not add or remove them."""
    times, path = synthetic
    found = discover(read_log(path, tz=TZ), tz=TZ)
    a = found.process.arrivals
    assert isinstance(a, RateArrivals) and a.profile is not None
    zone = ZoneInfo(TZ)
    first = times[0].replace(tzinfo=zone)
    last = (times[-1] + timedelta(days=2)).replace(tzinfo=zone)
    hours = (last - first).total_seconds() / 3600
    expected = a.per_hour * ArrivalClock(a.profile, first).integral(0, hours)
    assert expected == pytest.approx(len(times), rel=0.03)


def test_a_date_only_log_gets_weekdays_and_trend_but_no_hours(
    synthetic: tuple[list[datetime], Path], tmp_path: Path
) -> None:
    times, _ = synthetic
    path = tmp_path / "dates.csv"
    _csv(path, times, with_time=False)
    found = discover(read_log(path, tz=TZ), tz=TZ)
    a = found.process.arrivals
    assert isinstance(a, RateArrivals) and a.profile is not None
    assert a.profile.hours == ()
    assert a.profile.weekdays is not None and a.profile.trend is not None
    assert any("hours: none (the first records are dates" in n for n in found.notes)


def test_a_short_or_small_log_gets_a_flat_rate(tmp_path: Path) -> None:
    times = [t for t in _arrivals(per_day=20.0, seed=5) if t < START + timedelta(days=120)]
    path = tmp_path / "short.csv"
    _csv(path, times)
    found = discover(read_log(path, tz=TZ), tz=TZ)
    a = found.process.arrivals
    assert isinstance(a, RateArrivals) and a.profile is not None
    assert a.profile.trend is None and a.profile.months is None  # 120 days: no trend
    assert a.profile.weekdays is not None
    few = tmp_path / "few.csv"
    _csv(few, times[:150])
    small = discover(read_log(few, tz=TZ), tz=TZ).process.arrivals
    assert isinstance(small, RateArrivals) and small.profile is None
    # every deal closes two days after it starts and none is open: the log is read as
    # right-truncated (no start in its last two days), so the rate is the deals over the weeks
    # up to two days before the end (flowsim.history.truncation), not over the whole span
    weeks = (times[149] - times[0]).total_seconds() / 604800
    assert small.count == pytest.approx(150 / weeks, rel=0.01)


def test_a_flat_log_gets_no_profile(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    hours = np.sort(rng.uniform(0, 200 * 24, 2000))
    times = [START + timedelta(hours=float(h)) for h in hours]
    path = tmp_path / "flat.csv"
    _csv(path, times)
    found = discover(read_log(path, tz=TZ), tz=TZ)
    a = found.process.arrivals
    assert isinstance(a, RateArrivals) and a.profile is None
    assert a.count == pytest.approx(2000 / ((hours[-1] - hours[0]) / 168 + 2 / 7), rel=0.01)
    assert not math.isnan(a.count)


def test_maven_reads_as_a_flat_week_and_names_its_busiest_day_as_polars_counts() -> None:
    """Maven's engage dates are spread evenly over the week: no weekday weights are written,
    and the note's busiest day is the one with the most deals per occurrence of that weekday
    in the history (counted by polars), not the first of seven weights that round to 1.0."""
    path = DATA / "maven-crm-sales-opportunities" / "sales_pipeline.csv"
    log = read_log(path)
    found = discover(log)
    a = found.process.arrivals
    assert isinstance(a, RateArrivals) and a.profile is None
    table = pl.read_csv(path, try_parse_dates=True)
    starts = table["engage_date"].drop_nulls()
    last = max(table["engage_date"].max(), table["close_date"].max())
    days = pl.date_range(starts.min(), last, eager=True)
    occurrences = days.dt.weekday().value_counts().sort(days.name)["count"].to_numpy()
    counts = starts.dt.weekday().value_counts().sort("engage_date")["count"].to_numpy()
    busiest = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][
        int(np.argmax(counts / occurrences))
    ]
    note = next(n for n in found.notes if n.startswith("arrival profile"))
    assert f"weekdays: flat (busiest {busiest};" in note
