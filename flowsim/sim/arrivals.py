"""Non-homogeneous Poisson arrivals: a rate with a weekday, hour and month profile and a trend.

``arrivals 40 per week { weekdays ... hours ... months ... trend ... }`` (docs/language.md)
says the rate at instant ``t`` is ``λ(t) = λ̄ · W(t)``, where ``λ̄`` is the stated mean rate and

    W(t) = s · w_day(d) · w_hour(h) · f_month(m) · (1 + g) ** ((t - t₀) / period)

for ``t`` on local day ``d``, in hour window ``h`` and month ``m`` (in the profile's time
zone): the weekday and hour weights scaled by ``s`` so that they average 1 over a week, the
month weights normalised so that the mean year averages 1, and the trend compounding from
``t₀`` (the trend's date, else the start of the simulation).

Sampling is by **time change**, which is exact and needs no rejection: draw the gaps of a
homogeneous Poisson process of rate ``λ̄`` (the same exponential stream a flat rate uses), and
map each operational instant ``S`` back to the clock instant ``t`` with ``∫₀ᵗ W = S``. ``W`` is
piecewise constant between window edges, times an exponential for a trend, so the integral
and its inverse are closed forms on each piece (:class:`ArrivalClock`). The expected number
of arrivals in ``[a, b]`` is ``λ̄ · ArrivalClock.integral(a, b)``, which the tests compare with
the simulated counts.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from datetime import date, datetime, timedelta

from flowsim.errors import InputError
from flowsim.model import RateArrivals, RateProfile
from flowsim.sim.calendar import local_instant, to_clock, zone

__all__ = ["ArrivalClock", "mean_rate"]

#: days of segments built per extension
CHUNK_DAYS = 56
#: the clock stops looking for the next arrival this far out (a declining trend may leave
#: too little rate for one more deal, ever)
MAX_HOURS = 200 * 366 * 24.0


def mean_rate(arrivals: RateArrivals, start: datetime, hours: float, default_tz: str) -> float:
    """The mean arrivals per hour of ``arrivals`` over ``hours`` from ``start``: the stated
    rate without a profile, else the profile's expected count over that span, divided by it
    (a forecast's new deals a week, the trend carried past the history)."""
    if arrivals.profile is None or hours <= 0:
        return arrivals.per_hour
    clock = ArrivalClock(arrivals.profile, start, default_tz, hours)
    return arrivals.per_hour * clock.integral(0.0, hours) / hours


class ArrivalClock:
    """The profile's rate multiplier ``W(t)`` on the simulation clock, its integral and inverse.

    Parameters
    ----------
    profile : RateProfile
        The weights and the trend.
    epoch : datetime
        Timezone-aware instant of clock 0.
    default_timezone : str, default "UTC"
        The zone of the weekdays, hours and months when the profile names none (the
        process calendar's, as the engine passes it).
    horizon : float, optional
        No arrival is looked for past this clock time (the end of the run).
    """

    def __init__(
        self,
        profile: RateProfile,
        epoch: datetime,
        default_timezone: str = "UTC",
        horizon: float = MAX_HOURS,
    ) -> None:
        self.tz = zone(profile.timezone or default_timezone)
        self.epoch = epoch
        self.horizon = min(horizon, MAX_HOURS)
        self._days = profile.weekdays or (1.0,) * 7
        windows = [(h.start, h.end, h.weight) for h in profile.hours] or [(0, 1440, 1.0)]
        self._windows = [w for w in windows if w[2] > 0]
        self._months = profile.month_factors()
        self._scale = profile.week_scale()
        trend = profile.trend
        self._k = trend.per_hour if trend is not None else 0.0
        self._t0 = 0.0
        if trend is not None and trend.since is not None:
            since = datetime.combine(date.fromisoformat(trend.since), datetime.min.time())
            self._t0 = to_clock(local_instant(since, self.tz), epoch)
        # segments [starts[i], ends[i]) at level levels[i] (> 0), in clock order
        self._starts: list[float] = []
        self._ends: list[float] = []
        self._levels: list[float] = []
        self._next_day = epoch.astimezone(self.tz).date() - timedelta(days=1)
        self._extend()

    # ---- queries ----------------------------------------------------------------------------

    def rate(self, t: float) -> float:
        """``W(t)``: the multiplier of the mean rate at clock time ``t`` (0 outside windows)."""
        i = self._segment(t)
        if i < 0 or t >= self._ends[i]:
            return 0.0
        return self._levels[i] * self._growth(t)

    def integral(self, a: float, b: float) -> float:
        """``∫ W`` over ``[a, b]`` (clock hours, ``0 <= a <= b``): expected arrivals / ``λ̄``."""
        total, t = 0.0, a
        i = max(self._segment(t), 0)
        while t < b:
            self._cover(i)
            if i >= len(self._starts):
                break
            lo, hi = max(t, self._starts[i]), min(b, self._ends[i])
            if hi > lo:
                total += self._mass(i, lo, hi)
            t = max(t, self._ends[i])
            i += 1
        return total

    def advance(self, t: float, s: float) -> float:
        """The instant ``u >= t`` with ``∫ₜᵘ W = s``: where an operational gap ``s`` ends.

        ``inf`` when the horizon comes first (the run has no more arrivals)."""
        i = max(self._segment(t), 0)
        while True:
            self._cover(i)
            if i >= len(self._starts) or self._starts[i] > self.horizon:
                return math.inf
            lo = max(t, self._starts[i])
            hi = self._ends[i]
            if hi > lo:
                mass = self._mass(i, lo, hi)
                if s <= mass:
                    return self._solve(i, lo, s)
                s -= mass
            i += 1

    # ---- pieces -----------------------------------------------------------------------------

    def _growth(self, t: float) -> float:
        if self._k == 0.0:
            return 1.0
        try:
            return math.exp(self._k * (t - self._t0))
        except OverflowError:
            raise InputError(
                "the arrival trend grows the rate beyond any number within the run: "
                "shorten the run or lower the trend"
            ) from None

    def _mass(self, i: int, lo: float, hi: float) -> float:
        """``∫ W`` over ``[lo, hi]`` inside segment ``i``."""
        c = self._levels[i]
        if self._k == 0.0:
            return c * (hi - lo)
        return c * self._growth(lo) * math.expm1(self._k * (hi - lo)) / self._k

    def _solve(self, i: int, lo: float, s: float) -> float:
        """The ``u`` in segment ``i`` with ``∫_lo^u W = s``."""
        c = self._levels[i]
        if self._k == 0.0:
            u = lo + s / c
        else:
            u = lo + math.log1p(s * self._k / (c * self._growth(lo))) / self._k
        return min(max(u, lo), self._ends[i])

    def _segment(self, t: float) -> int:
        """The index of the last segment starting at or before ``t`` (-1 if none)."""
        while not self._starts or self._ends[-1] <= t:
            if not self._extend():
                break
        return bisect_right(self._starts, t) - 1

    def _cover(self, i: int) -> None:
        while i >= len(self._starts):
            if not self._extend():
                return

    def _extend(self) -> bool:
        """Build the next ``CHUNK_DAYS`` local days of segments; False past the horizon."""
        if self._starts and self._starts[-1] > self.horizon:
            return False
        for _ in range(CHUNK_DAYS):
            self._add_day(self._next_day)
            self._next_day += timedelta(days=1)
        return True

    def _add_day(self, day: date) -> None:
        level = self._scale * self._days[day.weekday()] * self._months[day.month - 1]
        if level <= 0:
            return
        midnight = datetime.combine(day, datetime.min.time())
        for start, end, weight in self._windows:
            a = self._clock(midnight + timedelta(minutes=start))
            b = self._clock(midnight + timedelta(minutes=end))
            if b <= 0 or b <= a:
                continue
            self._starts.append(max(a, 0.0))
            self._ends.append(b)
            self._levels.append(level * weight)

    def _clock(self, wall: datetime) -> float:
        return to_clock(local_instant(wall, self.tz), self.epoch)
