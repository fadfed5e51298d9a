"""Working calendars of resource pools, from when their members start and finish work.

Like Simod's calendar discovery, the evidence is the instants at which a pool's people start
and complete work items (a log with start/complete lifecycles and resources, such as BPIC
2012's W_ work items), counted per weekday × hour of day in the log's time zone. The rule:

- **evidence**: the pool's work items with both a start and an end time; a pool with fewer
  than :data:`MIN_EVENTS` such instants, or a log whose instants all fall at midnight (a
  date-only export), gets no calendar;
- **supported cell**: a weekday × hour cell holding at least :data:`CELL_SHARE` of the mean
  count of the pool's non-empty cells and at least :data:`MIN_CELL_EVENTS` instants;
- **working day**: a weekday whose supported cells hold at least :data:`DAY_SHARE` of the
  pool's instants;
- **working hour**: an hour supported on at least half of the working days (the language
  gives a calendar one set of daily windows for all its days);
- contiguous working hours merge into windows (``09:00-17:00``); a calendar of all seven days
  and all 24 hours is no calendar (24/7).

CRM exports with one instant per stage change (Maven, Olist) have no start/complete work
items: no time-of-day evidence of working hours, so no calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from flowsim.model import Calendar, TimeWindow

__all__ = [
    "CELL_SHARE",
    "DAY_SHARE",
    "MIN_CELL_EVENTS",
    "MIN_EVENTS",
    "PoolCalendar",
    "pool_calendar",
    "weekly_counts",
    "working_hours",
]

#: A pool needs at least this many start and end instants for a calendar.
MIN_EVENTS = 200
#: A cell is supported with at least this share of the mean non-empty cell's count ...
CELL_SHARE = 0.1
#: ... and at least this many instants.
MIN_CELL_EVENTS = 5
#: A weekday works when its supported cells hold at least this share of the pool's instants.
DAY_SHARE = 0.03


@dataclass(frozen=True)
class PoolCalendar:
    """A pool's discovered calendar (None: 24/7 or too little evidence) and why."""

    calendar: Calendar | None
    events: int
    reason: str


def weekly_counts(frame: pl.DataFrame, members: list[str], tz: str) -> np.ndarray:
    """The members' work-item start and end instants per weekday × hour (7 × 24), in ``tz``.

    Only work items with both a start and an end time count (start/complete lifecycles).
    """
    items = frame.filter(
        pl.col("owner").is_in(members)
        & pl.col("started_at").is_not_null()
        & pl.col("left_at").is_not_null()
    )
    instants = pl.concat(
        [items.select(t=pl.col("started_at")), items.select(t=pl.col("left_at"))]
    ).select(local=pl.col("t").dt.convert_time_zone(tz))
    cells = (
        instants.select(day=pl.col("local").dt.weekday() - 1, hour=pl.col("local").dt.hour())
        .group_by("day", "hour")
        .len()
    )
    counts = np.zeros((7, 24))
    for day, hour, n in cells.iter_rows():
        counts[day, hour] = n
    return counts


def _windows(hours: np.ndarray) -> list[TimeWindow]:
    """Contiguous working hours (a boolean per hour) as windows in minutes."""
    out: list[TimeWindow] = []
    start: int | None = None
    for h in range(25):
        on = h < 24 and bool(hours[h])
        if on and start is None:
            start = h
        elif not on and start is not None:
            out.append(TimeWindow(start=start * 60, end=h * 60))
            start = None
    return out


def calendar_of(counts: np.ndarray, tz: str) -> Calendar | None:
    """The calendar the weekday × hour ``counts`` support (see the module doc), or None."""
    total = counts.sum()
    busy = counts[counts > 0]
    if total == 0:
        return None
    supported = (counts >= CELL_SHARE * busy.mean()) & (counts >= MIN_CELL_EVENTS)
    day_mass = np.where(supported, counts, 0).sum(axis=1)
    days = [d for d in range(7) if day_mass[d] >= DAY_SHARE * total]
    if not days:
        return None
    hours = supported[days].sum(axis=0) * 2 >= len(days)
    windows = _windows(hours)
    if not windows or (len(days) == 7 and hours.all()):
        return None
    return Calendar(days=tuple(days), windows=tuple(windows), timezone=tz)


def pool_calendar(frame: pl.DataFrame, members: list[str], tz: str) -> PoolCalendar:
    """The working calendar of the pool of ``members`` (see the module doc).

    Examples
    --------
    >>> from datetime import datetime, timedelta, UTC
    >>> t0 = datetime(2024, 1, 1, 9, tzinfo=UTC)  # a Monday
    >>> starts = [t0 + timedelta(days=d, hours=h) for d in range(0, 28) for h in range(8)
    ...           if d % 7 < 5]
    >>> frame = pl.DataFrame({"owner": ["ann"] * len(starts), "started_at": starts,
    ...                       "left_at": [s + timedelta(minutes=30) for s in starts]})
    >>> from flowsim.dsl.formatter import fmt_calendar
    >>> fmt_calendar(pool_calendar(frame, ["ann"], "UTC").calendar)
    'Mon-Fri 09:00-17:00 "UTC"'
    """
    counts = weekly_counts(frame, members, tz)
    events = int(counts.sum())
    if events == 0:
        return PoolCalendar(None, 0, "no work items with start and end times")
    if counts[:, 0].sum() == events and _all_midnight(frame, members, tz):
        return PoolCalendar(None, events, "no time of day in the log (dates only)")
    if events < MIN_EVENTS:
        return PoolCalendar(None, events, f"too little evidence (< {MIN_EVENTS} instants)")
    cal = calendar_of(counts, tz)
    if cal is None:
        return PoolCalendar(None, events, "works around the clock (24/7)")
    return PoolCalendar(cal, events, "")


def _all_midnight(frame: pl.DataFrame, members: list[str], tz: str) -> bool:
    items = frame.filter(pl.col("owner").is_in(members) & pl.col("started_at").is_not_null())
    local = items.select(pl.col("started_at").dt.convert_time_zone(tz).dt.time().alias("t"))
    return bool(local.select((pl.col("t") == pl.time(0)).all()).item())


def _open_hours(a: datetime, b: datetime, cal: Calendar) -> float:
    """Working hours of ``cal`` between the local wall-clock times ``a`` <= ``b``."""
    total = 0.0
    day = datetime(a.year, a.month, a.day)
    while day < b:
        if day.weekday() in cal.days:
            for w in cal.windows:
                lo = max(a, day + timedelta(minutes=w.start))
                hi = min(b, day + timedelta(minutes=w.end))
                if hi > lo:
                    total += (hi - lo).total_seconds() / 3600
        day += timedelta(days=1)
    return total


def working_hours(frame: pl.DataFrame, cal: Calendar) -> np.ndarray:
    """Per row, the working hours of ``cal`` from ``started_at`` to ``left_at`` (NaN where
    either is missing), on the local wall clock of the calendar's zone.

    A work item done wholly outside the calendar (a Sunday call of a weekday team) keeps its
    elapsed time: it was done, and an effort of zero would not say how long it took.

    Examples
    --------
    >>> from datetime import UTC
    >>> from flowsim.model import TimeWindow
    >>> cal = Calendar(days=(0, 1, 2, 3, 4), windows=(TimeWindow(start=540, end=1020),))
    >>> frame = pl.DataFrame({"started_at": [datetime(2024, 1, 5, 16, tzinfo=UTC)],
    ...                       "left_at": [datetime(2024, 1, 8, 10, tzinfo=UTC)]})
    >>> working_hours(frame, cal).tolist()  # Fri 16:00 -> Mon 10:00: 1 h + 1 h
    [2.0]
    """
    local = frame.select(
        *(
            pl.col(c).dt.convert_time_zone(cal.timezone or "UTC").dt.replace_time_zone(None)
            for c in ("started_at", "left_at")
        )
    )
    out = np.full(local.height, np.nan)
    for i, (a, b) in enumerate(local.iter_rows()):
        if a is None or b is None:
            continue
        hours = _open_hours(a, b, cal)
        out[i] = hours if hours > 0 else (b - a).total_seconds() / 3600
    return out
