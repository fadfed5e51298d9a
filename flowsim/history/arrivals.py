"""The arrival profile a deal log supports: weekday and hour weights, month factors, a trend.

Each deal arrives at its first record. :func:`fit_arrivals` writes a part of the profile only
when the log supports it (the rule is stated in docs/metrics.md, "Arrivals"):

* **weekdays**: at least :data:`MIN_DEALS` deals over at least :data:`MIN_WEEKS` weeks, and
  the deals per weekday (divided by how often that weekday occurs in the history) differ from
  a flat week by a chi-square test at :data:`P_VALUE`. A weekday's weight is its rate over the
  mean weekday's, two significant digits; a weekday without deals has none (0).
* **hours**: the same, for the 24 hours of the day, and only when the first records have
  times of day (fewer than :data:`DATE_ONLY_SHARE` of them at midnight): a date-only export
  says nothing about hours. Consecutive hours with the same rounded weight form one window;
  hours without deals are left out.
* **trend**: at least :data:`MIN_TREND_DAYS` days of history; a quasi-Poisson log-linear fit
  of the deals per whole month (per whole week when there are no month factors) on time, whose
  slope is at least :data:`TREND_Z` standard errors from 0 (overdispersion included). It is
  written per month from the history's middle day, where the stated rate is the fit's.
* **months**: at least :data:`MIN_SEASON_DAYS` days (every calendar month seen twice), month
  factors fitted jointly with the trend in the same regression, and a deviance test of the
  factors at :data:`P_VALUE`.

Weekdays, hours and months are read in ``tz``.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from flowsim.model import RATE_PERIODS_IN_HOURS, HourWeight, RateProfile, Trend

__all__ = ["ArrivalFit", "chi2_sf", "fit_arrivals"]

MIN_DEALS = 200
MIN_WEEKS = 4
MIN_TREND_DAYS = 365
MIN_SEASON_DAYS = 730
P_VALUE = 0.001
TREND_Z = 3.0
DATE_ONLY_SHARE = 0.9
_DAY = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class ArrivalFit:
    """What :func:`fit_arrivals` found: the profile (None: flat), the rate per week to state
    (the trend's rate on its date, else deals / weeks) and one note per part."""

    profile: RateProfile | None
    per_week: float
    notes: list[str] = field(default_factory=list)


def chi2_sf(x: float, df: int) -> float:
    """P(χ²_df ≥ x), in closed form (even df: a Poisson sum; odd: erfc and a series)."""
    if x <= 0:
        return 1.0
    h = x / 2
    if df % 2 == 0:
        term, total = 1.0, 1.0
        for i in range(1, df // 2):
            term *= h / i
            total += term
        return min(1.0, math.exp(-h) * total)
    term, total = math.sqrt(2 * x / math.pi), 0.0
    for i in range(1, (df - 1) // 2 + 1):
        total += term
        term *= x / (2 * i + 1)
    return min(1.0, math.erfc(math.sqrt(h)) + math.exp(-h) * total)


def _flat_test(observed: np.ndarray, exposure: np.ndarray) -> float:
    """The chi-square p-value of ``observed`` counts against rates ∝ 1 (by ``exposure``)."""
    keep = exposure > 0
    obs, exp = observed[keep], exposure[keep]
    expected = obs.sum() * exp / exp.sum()
    return chi2_sf(float(((obs - expected) ** 2 / expected).sum()), int(keep.sum()) - 1)


def _nice(w: float) -> float:
    return 0.0 if w <= 0 else float(f"{w:.2g}")


def _weekdays(
    local: list[datetime], first: date, last: date
) -> tuple[tuple[float, ...], float, int]:
    """Weekday weights (two significant digits), the flat-week test's p, and the busiest
    weekday (0 = Mon) by the unrounded rates: rounded weights of a flat week tie at 1.0."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    exposure = np.bincount([d.weekday() for d in days], minlength=7).astype(float)
    counts = np.bincount([t.weekday() for t in local], minlength=7).astype(float)
    rates = np.divide(counts, exposure, out=np.zeros(7), where=exposure > 0)
    weights = rates / rates[exposure > 0].mean()
    return tuple(_nice(w) for w in weights), _flat_test(counts, exposure), int(np.argmax(rates))


def _hours(local: list[datetime]) -> tuple[tuple[HourWeight, ...], float]:
    counts = np.bincount([t.hour for t in local], minlength=24).astype(float)
    weights = [_nice(w) for w in counts / counts.mean()]
    windows: list[HourWeight] = []
    for h, w in enumerate(weights):
        if w == 0:
            continue
        last = windows[-1] if windows else None
        if last is not None and last.end == h * 60 and last.weight == w:
            windows[-1] = HourWeight(start=last.start, end=(h + 1) * 60, weight=w)
        else:
            windows.append(HourWeight(start=h * 60, end=(h + 1) * 60, weight=w))
    return tuple(windows), _flat_test(counts, np.ones(24))


def _poisson_fit(
    y: np.ndarray, x: np.ndarray, offset: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Log-linear Poisson regression by IRLS: coefficients, their quasi-Poisson standard
    errors (scaled by the Pearson dispersion) and the deviance."""
    beta = np.zeros(x.shape[1])
    beta[0] = math.log(max(y.sum(), 1) / np.exp(offset).sum())
    for _ in range(50):
        mu = np.exp(offset + x @ beta)
        z = x @ beta + (y - mu) / mu
        w = mu
        new = np.linalg.solve(x.T @ (x * w[:, None]), x.T @ (w * z))
        if np.max(np.abs(new - beta)) < 1e-10:
            beta = new
            break
        beta = new
    mu = np.exp(offset + x @ beta)
    dof = max(len(y) - x.shape[1], 1)
    dispersion = max(1.0, float(((y - mu) ** 2 / mu).sum()) / dof)
    cov = np.linalg.inv(x.T @ (x * mu[:, None])) * dispersion
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = 2 * float(np.sum(np.where(y > 0, y * np.log(y / mu), 0.0) - (y - mu)))
    return beta, np.sqrt(np.diag(cov)), dev


def _periods(
    local: list[datetime], first: date, last: date, monthly: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """Whole months (or weeks from ``first``) inside the history: counts, midpoints in days
    from ``first``, lengths in days, and each period's calendar month (0..11)."""
    starts: list[date] = []
    if monthly:
        d = date(first.year, first.month, 1)
        if d < first:
            d = date(d.year + d.month // 12, d.month % 12 + 1, 1)
        while True:
            nxt = date(d.year + d.month // 12, d.month % 12 + 1, 1)
            if nxt > last:
                break
            starts.append(d)
            d = nxt
        starts.append(d)
    else:
        starts = [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]
    edges = [(s - first).days for s in starts]
    days = np.array([(t.date() - first).days for t in local])
    counts = np.histogram(days, bins=edges)[0].astype(float) if len(edges) > 1 else np.zeros(0)
    lengths = np.diff(edges).astype(float)
    mids = np.array(edges[:-1], dtype=float) + lengths / 2
    return counts, mids, lengths, [s.month - 1 for s in starts[:-1]]


def _trend_and_months(
    local: list[datetime], first: date, last: date, notes: list[str]
) -> tuple[Trend | None, tuple[float, ...] | None, float | None]:
    """The trend (and month factors, with two years) and the fitted rate per day on the
    history's middle day (None without a trend)."""
    span = (last - first).days
    seasonal = span >= MIN_SEASON_DAYS
    counts, mids, lengths, months = _periods(local, first, last, monthly=seasonal)
    if len(counts) < 6:
        return None, None, None
    mid = span / 2
    cols = [np.ones(len(counts)), (mids - mid) / 30.4375]
    if seasonal:
        cols += [np.array([m == k for m in months], dtype=float) for k in range(1, 12)]
    offset = np.log(lengths)
    beta, se, dev = _poisson_fit(counts, np.column_stack(cols[:2]), offset)
    factors: tuple[float, ...] | None = None
    if seasonal:
        full, full_se, full_dev = _poisson_fit(counts, np.column_stack(cols), offset)
        dispersion = max(1.0, full_dev / max(len(counts) - len(cols), 1))
        p = chi2_sf((dev - full_dev) / dispersion, 11)
        if p < P_VALUE:
            raw = np.exp(np.concatenate([[0.0], full[2:]]))
            factors = tuple(_nice(f / raw.mean()) for f in raw)
            beta = np.concatenate([[full[0] + math.log(raw.mean())], full[1:2]])
            se = full_se
        notes.append(
            f"months: {'written' if factors else 'none'} (season against none: p = {p:.2g})"
        )
    z = beta[1] / se[1]
    per_month = math.expm1(beta[1])
    if abs(z) < TREND_Z:
        notes.append(f"trend: none ({per_month:+.1%} per month is {abs(z):.1f} SE from 0)")
        return None, factors, None
    change = round(per_month, 3)
    since = first + timedelta(days=round(mid))
    notes.append(f"trend: {change:+.1%} per month from {since} ({z:+.1f} SE)")
    rate = math.exp(beta[0])  # per day on the middle day (the months' mean level)
    if change == 0:
        return None, factors, None
    return Trend(change=change, per="month", since=since.isoformat()), factors, rate


def _hours_part(local: list[datetime], fields: dict[str, object], notes: list[str]) -> None:
    """Put the hours into ``fields`` when the first records have times and are not flat."""
    midnights = Counter(t.hour == 0 and t.minute == 0 and t.second == 0 for t in local)
    if midnights[True] >= DATE_ONLY_SHARE * len(local):
        notes.append("hours: none (the first records are dates without a time of day)")
        return
    hours, p = _hours(local)
    if p < P_VALUE:
        fields["hours"] = hours
    said = "written" if p < P_VALUE else "flat"
    notes.append(f"hours: {said} (against a flat day p = {p:.2g})")


def fit_arrivals(
    starts: list[datetime],
    first: datetime,
    last: datetime,
    tz: str,
    default_tz: str = "UTC",
    rate: tuple[float, datetime] | None = None,
) -> ArrivalFit:
    """The arrival profile ``starts`` (each deal's first record) support, over the history
    from ``first`` to ``last`` (both timezone-aware), read in ``tz``.

    ``default_tz`` is the zone a profile is read in without one (the process calendar's):
    the profile names ``tz`` only when it differs. ``rate`` (a right-truncated log,
    :mod:`flowsim.history.truncation`) is the corrected rate per week and the end of the
    window it was read on: it replaces deals / weeks, and a trend is fitted on that window.
    See the module docstring for the rules.
    """
    zone = ZoneInfo(tz)
    local = sorted(t.astimezone(zone) for t in starts)
    weeks = (last - first).total_seconds() / RATE_PERIODS_IN_HOURS["week"] / 3600
    per_week = len(local) / weeks if weeks > 0 else 0.0
    per_week, trend_end = rate if rate is not None else (per_week, last)
    notes: list[str] = []
    d0, d1 = first.astimezone(zone).date(), last.astimezone(zone).date()
    fields: dict[str, object] = {}
    if len(local) < MIN_DEALS or weeks < MIN_WEEKS:
        notes.append(
            f"none ({len(local)} deals over {weeks:.1f} weeks; a profile needs "
            f"{MIN_DEALS} deals over {MIN_WEEKS} weeks)"
        )
        return ArrivalFit(None, per_week, notes)
    days, p, top = _weekdays(local, d0, d1)
    busiest = _DAY[top]
    if p < P_VALUE:
        fields["weekdays"] = days
    notes.append(
        f"weekdays: {'written' if p < P_VALUE else 'flat'} (busiest {busiest}; against a flat "
        f"week p = {p:.2g})"
    )
    _hours_part(local, fields, notes)
    if (d1 - d0).days >= MIN_TREND_DAYS:
        end = trend_end.astimezone(zone).date()
        trend, months, per_day = _trend_and_months(local, d0, end, notes)
        if months is not None:
            fields["months"] = months
        if trend is not None and per_day is not None:
            fields["trend"] = trend
            per_week = per_day * 7
    else:
        notes.append(
            f"trend, months: none ({(d1 - d0).days} days of history; a trend needs "
            f"{MIN_TREND_DAYS}, months {MIN_SEASON_DAYS})"
        )
    if not fields:
        return ArrivalFit(None, per_week, notes)
    timezone = tz if tz != default_tz else None
    return ArrivalFit(RateProfile(timezone=timezone, **fields), per_week, notes)
