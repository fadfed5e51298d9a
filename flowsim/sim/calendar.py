"""Working-time arithmetic on the simulation clock: when does `h` hours of effort end?

The simulator's clock is a float number of **hours since an epoch** (a timezone-aware
``datetime``). A stage's *effort* only passes inside the owner's working hours, so every work
item asks "started at ``t``, needing ``h`` working hours, when is it done?". That question is
asked once per simulated work item (hundreds of thousands of times per run), so it must not
walk the calendar day by day.

How it is fast: the calendar's open intervals are materialised on the clock as sorted lists
(starts, ends, and the cumulative working time before each start), built lazily in chunks of
eight weeks around wherever the clock has been asked about. Working time then becomes a
monotone function ``W(t)`` (working hours from the first materialised interval up to ``t``)
and its inverse, both found by binary search, so ``add`` is O(log n) with no per-day loop.

Local wall-clock windows are honoured across daylight-saving changes: each day's window is
converted to UTC on that day with ``zoneinfo``. A window edge that does not exist locally
(inside a spring-forward gap) maps to the instant the clock jumps (the first moment the wall
clock reads at least that time); an edge that exists twice (autumn fall-back) maps to its first
occurrence. So ``00:00-06:00`` on the spring-forward night in Berlin is five real hours, on the
autumn night seven, and ``02:00-03:00`` on the spring-forward night is no time at all.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flowsim.errors import InputError
from flowsim.model import Calendar

__all__ = ["WorkingTime", "local_instant", "to_clock", "zone"]

#: Days of calendar materialised per extension (eight weeks).
CHUNK_DAYS = 56
#: Give up looking for the next working minute after this many days (a calendar whose only
#: window falls into a DST gap every time would otherwise loop forever).
MAX_SEARCH_DAYS = 366 * 4
#: How far from the epoch the clock may go, either way (200 years): far beyond any sales
#: history or forecast, and well inside what ``datetime`` can represent.
MAX_CLOCK_HOURS = 200 * 366 * 24.0
#: Work that would end within this relative distance after a closing time ends at the
#: closing time: float noise (9.3 h + 8.7 h = 18.000000000000004 h) must not strand a task
#: until the next opening. Relative to the clock's magnitude, 1e-12 is tens of float ulps
#: and a few microseconds for clocks of thousands of hours: nothing anyone would schedule.
SNAP = 1e-12
US_PER_HOUR = 3_600_000_000
_MICROSECOND = timedelta(microseconds=1)
_INF = math.inf
_HOUR = timedelta(hours=1)


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``, or an ``InputError`` that says which name is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"unknown time zone {name!r} (expected an IANA name such as 'Europe/Berlin')"
        ) from None


def to_clock(instant: datetime, epoch: datetime) -> float:
    """``instant`` as simulation-clock hours since ``epoch`` (both timezone-aware)."""
    return (instant - epoch) / _HOUR


def local_instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """The first UTC instant at which the wall clock in ``tz`` reads at least ``wall``.

    ``wall`` is naive local time. Ordinary times map one to one; an ambiguous time (autumn
    fall-back) maps to its first occurrence; a time that does not exist (spring-forward gap)
    maps to the transition itself, found by bisection on whole seconds (tzdata transitions
    are on whole seconds). The mapping is monotone, so windows stay ordered after conversion.
    """
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first
    # In a gap: fold=1 reads the time with the offset after the jump (an instant before the
    # transition), fold=0 with the offset before it (an instant after the transition).
    lo = int(wall.replace(tzinfo=tz, fold=1).timestamp())
    hi = int(first.timestamp())
    if lo > hi:  # pragma: no cover - a zone whose jump goes the other way
        lo, hi = hi, lo
    offset_before = datetime.fromtimestamp(lo, tz).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).utcoffset() == offset_before:
            lo = mid
        else:
            hi = mid
    return datetime.fromtimestamp(hi, UTC)


class WorkingTime:
    """Working-time arithmetic for one calendar on the simulation clock.

    ``calendar=None`` means "always working": ``add(t, h) == t + h`` exactly. Otherwise the
    calendar's weekdays and daily windows are read in its own time zone, or in
    ``default_timezone`` when it names none (the process calendar's zone, typically).
    Intervals are half-open: open at a window's start, closed at its end.
    """

    def __init__(
        self, calendar: Calendar | None, epoch: datetime, default_timezone: str = "UTC"
    ) -> None:
        if epoch.tzinfo is None or epoch.utcoffset() is None:
            raise InputError("the simulation epoch must be a timezone-aware datetime (e.g. UTC)")
        self.calendar = calendar
        self.epoch = epoch
        self.always_open: bool = calendar is None
        name = (
            default_timezone if calendar is None or calendar.timezone is None else calendar.timezone
        )
        self.tz = zone(name)
        self._days = frozenset(calendar.days) if calendar is not None else frozenset()
        self._windows = (
            tuple((w.start, w.end) for w in calendar.windows) if calendar is not None else ()
        )
        # Open intervals on the clock, merged where they touch, sorted. _spans holds them in
        # whole microseconds since the epoch, so merging and summing are exact; the float lists
        # are the same in hours for bisection. _cum[i] is the working time before _starts[i]
        # counted from the first interval, _cum_end[i] the same at its end; each is one
        # correctly rounded division of an exact integer, so a week of 4-minute windows sums
        # to exactly 1.0 h, and effort that ends exactly at a closing time finds that closing.
        self._spans: list[tuple[int, int]] = []
        self._total_us = 0
        self._starts: list[float] = []
        self._ends: list[float] = []
        self._cum: list[float] = []
        self._cum_end: list[float] = []
        # Materialised local dates [_first_day, _last_day) and their clock span [_lo, _hi).
        start_day = epoch.astimezone(self.tz).date()
        self._first_day = start_day
        self._last_day = start_day
        self._lo = self._hi = self._midnight(start_day)
        if calendar is not None:
            self._extend_forward(CHUNK_DAYS)

    # ---- queries ------------------------------------------------------------------------

    def add(self, t: float, hours: float) -> float:
        """When ``hours`` of work started (or queued to start) at ``t`` ends.

        Work is only done inside working windows; off-calendar, it begins at the next opening.
        ``hours == 0`` returns ``t`` unchanged, even off-calendar (nothing to do, nothing to
        wait for). Work that would end a rounding error (``SNAP``) after a closing time ends
        at the closing time.
        """
        # Called once per work item: _locate is inlined and the lists are materialised
        # further only when the answer needs it (the work crosses the last interval known).
        if not hours >= 0 or hours == _INF:
            raise InputError(f"working hours must be a finite number >= 0 (got {hours!r})")
        if hours == 0:
            return t
        if self.always_open:
            return t + hours
        if not self._lo <= t < self._hi:  # false for NaN too
            self._cover_time(t)
        starts, cum_end = self._starts, self._cum_end
        i = bisect_right(starts, t) - 1
        inside = i >= 0 and t < self._ends[i]
        if inside:
            target = self._cum[i] + (t - starts[i]) + hours  # W(t) + hours
            if target <= cum_end[i]:
                # Finishes in the interval it started in: plain arithmetic, kept inside the
                # interval should rounding disagree with the cumulative sums.
                return min(t + hours, self._ends[i])
        else:
            target = (cum_end[i] if i >= 0 else 0.0) + hours
            if len(starts) < i + 2:
                self._cover_intervals(i + 2)  # the next opening, even if `target` rounds to W(t)
        if not self._cum_end or self._cum_end[-1] < target:
            self._cover_work(target)
        starts, ends, cum_end = self._starts, self._ends, self._cum_end
        # Off-calendar, search only the intervals after t: a tiny effort can vanish in the
        # rounding of `target` and must still wait for the next opening. Inside, t's own
        # interval stays a candidate (extending may have merged the next chunk into it).
        lo = i if inside else i + 1
        j = bisect_left(cum_end, target, lo=lo)
        if j > lo and target - cum_end[j - 1] <= SNAP * max(1.0, abs(t), abs(target)):
            return ends[j - 1]
        return starts[j] + max(0.0, target - self._cum[j])

    def next_open(self, t: float) -> float:
        """``t`` if the calendar is open at ``t``, else the start of the next window."""
        if self.always_open:
            return t
        i, _, inside = self._locate(t)
        if inside:
            return t
        self._cover_intervals(i + 2)
        return self._starts[i + 1]

    def working_hours(self, t0: float, t1: float) -> float:
        """Working time inside ``[t0, t1]`` (``t0 <= t1``), in hours."""
        if t1 < t0:
            raise InputError(f"working_hours needs t0 <= t1 (got {t0!r} > {t1!r})")
        if self.always_open:
            return t1 - t0
        # Cover t0 first: extending backwards renumbers W, extending forwards does not.
        self._cover_time(t0)
        w1 = self._locate(t1)[1]
        return w1 - self._locate(t0)[1]

    def is_open(self, t: float) -> bool:
        """Whether ``t`` falls inside a working window (start included, end excluded)."""
        return self.always_open or self._locate(t)[2]

    @property
    def intervals(self) -> list[tuple[float, float]]:
        """The open intervals materialised so far, merged and in order (for tests and plots)."""
        return list(zip(self._starts, self._ends, strict=True))

    # ---- the function W(t) --------------------------------------------------------------

    def _locate(self, t: float) -> tuple[int, float, bool]:
        """Index of the last interval starting at or before ``t``, ``W(t)``, open at ``t``."""
        if not self._lo <= t < self._hi:  # false for NaN too
            self._cover_time(t)
        i = bisect_right(self._starts, t) - 1
        if i < 0:
            return i, 0.0, False
        if t < self._ends[i]:
            return i, self._cum[i] + (t - self._starts[i]), True
        return i, self._cum_end[i], False

    # ---- lazy materialisation -----------------------------------------------------------

    def _cover_time(self, t: float) -> None:
        """Materialise the calendar so that ``_lo <= t < _hi``."""
        if not math.isfinite(t):
            raise InputError(f"a simulation time must be a finite number of hours (got {t!r})")
        if abs(t) > MAX_CLOCK_HOURS:
            raise InputError(
                f"simulation time {t:g} h is more than 200 years from the epoch; "
                "working hours are only computed within that range"
            )
        if t < self._lo:
            days = math.ceil((self._lo - t) / 24) + 2
            self._extend_backward(CHUNK_DAYS * math.ceil(days / CHUNK_DAYS))
        if t >= self._hi:
            days = math.ceil((t - self._hi) / 24) + 2
            self._extend_forward(CHUNK_DAYS * math.ceil(days / CHUNK_DAYS))

    def _cover_work(self, target: float) -> None:
        """Materialise forward until the cumulative working time reaches ``target``."""
        searched = 0
        while not self._cum_end or self._cum_end[-1] < target:
            per_week = self.calendar.hours_per_week if self.calendar is not None else 1.0
            missing = target - (self._cum_end[-1] if self._cum_end else 0.0)
            days = max(CHUNK_DAYS, CHUNK_DAYS * math.ceil(missing / per_week * 7 / CHUNK_DAYS))
            self._cover_time(self._hi + 24 * days - 1)
            searched = self._check_progress(searched, days, "finish the work")

    def _cover_intervals(self, count: int) -> None:
        """Materialise forward until at least ``count`` intervals exist."""
        searched = 0
        while len(self._starts) < count:
            self._extend_forward(CHUNK_DAYS)
            searched = self._check_progress(searched, CHUNK_DAYS, "open")

    def _check_progress(self, searched: int, days: int, what: str) -> int:
        searched += days
        if searched > MAX_SEARCH_DAYS and len(self._starts) == 0:
            raise InputError(
                f"the calendar never opens: no working time in {searched} days, so it cannot {what}"
            )
        return searched

    def _us(self, wall: datetime) -> int:
        """Local wall time ``wall`` as whole microseconds since the epoch (exact)."""
        return (local_instant(wall, self.tz) - self.epoch) // _MICROSECOND

    def _midnight(self, day: date) -> float:
        return self._us(datetime(day.year, day.month, day.day)) / US_PER_HOUR

    def _windows_of(self, first: date, last: date) -> list[tuple[int, int]]:
        """Open intervals of local dates ``[first, last)`` (microseconds), merged if touching."""
        out: list[tuple[int, int]] = []
        day = first
        one_day = timedelta(days=1)
        while day < last:
            if day.weekday() in self._days:
                midnight = datetime(day.year, day.month, day.day)
                for start, end in self._windows:
                    a = self._us(midnight + timedelta(minutes=start))
                    b = self._us(midnight + timedelta(minutes=end))
                    if b <= a:
                        continue  # the whole window fell into a DST gap
                    if out and a <= out[-1][1]:
                        out[-1] = (out[-1][0], max(out[-1][1], b))
                    else:
                        out.append((a, b))
            day += one_day
        return out

    def _append(self, spans: list[tuple[int, int]]) -> None:
        for a, b in spans:
            self._spans.append((a, b))
            self._starts.append(a / US_PER_HOUR)
            self._ends.append(b / US_PER_HOUR)
            self._cum.append(self._total_us / US_PER_HOUR)
            self._total_us += b - a
            self._cum_end.append(self._total_us / US_PER_HOUR)

    def _extend_forward(self, days: int) -> None:
        last = self._last_day + timedelta(days=days)
        new = self._windows_of(self._last_day, last)
        self._last_day = last
        self._hi = self._midnight(last)
        if new and self._spans and new[0][0] <= self._spans[-1][1]:
            # Touches the last interval (a window running to 24:00 followed by one from 00:00):
            # take the last one off and append the merged stretch.
            a, b = self._spans.pop()
            for column in (self._starts, self._ends, self._cum, self._cum_end):
                column.pop()
            self._total_us -= b - a
            new[0] = (a, max(b, new[0][1]))
        self._append(new)

    def _extend_backward(self, days: int) -> None:
        first = self._first_day - timedelta(days=days)
        new = self._windows_of(first, self._first_day)
        self._first_day = first
        self._lo = self._midnight(first)
        old = self._spans
        if new and old and old[0][0] <= new[-1][1]:
            new[-1] = (new[-1][0], max(new[-1][1], old[0][1]))
            old = old[1:]
        # W is counted from the first interval, so prepending renumbers it (queries never keep
        # W values between calls, only clock times).
        self._spans, self._starts, self._ends, self._cum, self._cum_end = [], [], [], [], []
        self._total_us = 0
        self._append(new + old)
