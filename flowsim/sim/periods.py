"""Calendar periods (ISO weeks, months, quarters, years) over a forecast window.

A forecast is read by calendar period ("this month", "Q3"), not by "days 1-30 after today",
so the window ``[as_of, end]`` is cut at period boundaries in the process calendar's time
zone. The first and last periods are usually partial: each keeps its full calendar bounds
(for a target, revenue already won since the period start counts) and the part of it inside
the window, in hours after ``as_of`` (the simulation clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np

__all__ = ["Per", "Period", "bin_sums", "calendar_periods"]

Per = Literal["week", "month", "quarter", "year"]


@dataclass(frozen=True)
class Period:
    """One calendar period and the part of it inside the window (hours after ``as_of``)."""

    label: str
    start: datetime  # calendar start (local time zone)
    end: datetime  # calendar end, exclusive
    lo: float  # window part: from (hours after as_of, >= 0)
    hi: float  # ... to (<= the horizon)
    whole: bool  # the window covers the whole calendar period


def _floor(moment: datetime, per: Per) -> datetime:
    """The local start of the period holding ``moment`` (naive, local wall time)."""
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    if per == "week":
        return day - timedelta(days=day.weekday())
    if per == "month":
        return day.replace(day=1)
    if per == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return day.replace(month=1, day=1)


def _next(start: datetime, per: Per) -> datetime:
    if per == "week":
        return start + timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[per]
    m = start.month - 1 + months
    return start.replace(year=start.year + m // 12, month=m % 12 + 1)


def _label(start: datetime, per: Per) -> str:
    if per == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if per == "month":
        return f"{start.year}-{start.month:02d}"
    if per == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return str(start.year)


def calendar_periods(as_of: datetime, horizon: float, per: Per, tz: str) -> list[Period]:
    """The calendar periods overlapping ``[as_of, as_of + horizon hours]`` in time zone ``tz``."""
    zone = ZoneInfo(tz)
    end = as_of + timedelta(hours=horizon)
    local = _floor(as_of.astimezone(zone), per)
    out: list[Period] = []
    while True:
        start = local.replace(tzinfo=zone)
        if start > end or (out and start >= end):
            break
        following = _next(local, per)
        stop = following.replace(tzinfo=zone)
        lo = max(0.0, (start - as_of).total_seconds() / 3600)
        hi = min(horizon, (stop - as_of).total_seconds() / 3600)
        out.append(Period(_label(local, per), start, stop, lo, hi, start >= as_of and stop <= end))
        local = following
    return out


def bin_sums(times: np.ndarray, weights: np.ndarray | None, periods: list[Period]) -> np.ndarray:
    """Per period, the count (or the sum of ``weights``) of ``times`` inside its window part.

    A time on a boundary belongs to the period that starts there; times outside
    ``[periods[0].lo, periods[-1].hi]`` are left out.
    """
    if not periods:
        return np.zeros(0)
    inside = (times >= periods[0].lo) & (times <= periods[-1].hi)
    t = times[inside]
    w = None if weights is None else weights[inside]
    inner = np.array([p.lo for p in periods[1:]], dtype=float)
    idx = np.searchsorted(inner, t, side="right")
    return np.bincount(idx, weights=w, minlength=len(periods)).astype(float)
