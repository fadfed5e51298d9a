"""A staff pool for SimPy whose headcount follows a schedule.

A role's people are the simulator's scarce resource: a deal waits for a free sales rep before
effort can start. SimPy's ``Resource`` is close but not enough, for three reasons:

* its ``capacity`` is fixed (no setter), while roles hire and lose people on given dates
  (``from 2025-03-01 headcount 5``);
* ``release`` removes the user from a list, O(capacity) per release;
* a request abandoned while waiting stays in the queue unless the caller remembers to cancel
  it, and then a later arrival waits behind a ghost.

``Staff`` keeps only counts (``busy``, ``capacity``) and a queue of waiting requests: a
deque (FIFO) or a heap keyed by ``(priority, order)``. ``release`` is O(1) plus one queue pop,
O(log n) with priorities. Cancelled requests are marked and skipped when they reach the head
(compacted when they pile up), so ``cancel`` is O(1) and never leaks.

Headcount semantics: an increase serves waiting requests at once; a decrease never preempts
(people already busy finish their item), so ``busy`` may exceed ``capacity`` for a while and
nobody new is served until ``busy < capacity``. Everything is deterministic: same-time events
run in SimPy's scheduling order, and nothing depends on dict/set order or object ids.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from heapq import heappush
from types import TracebackType
from typing import Literal

import simpy

from flowsim.errors import InputError
from flowsim.model import Role
from flowsim.sim.calendar import WorkingTime, local_instant, to_clock, zone
from flowsim.sim.driver import NORMAL, check_environment

__all__ = [
    "Staff",
    "StaffRequest",
    "StaffStats",
    "available_person_hours",
    "headcount_schedule",
]

RequestState = Literal["waiting", "granted", "released", "cancelled"]

#: Compact the queue once this many cancelled requests sit in it (and they outnumber the
#: live ones), so a run with many impatient deals does not keep dead entries forever.
_COMPACT_AT = 64


class StaffRequest(simpy.Event):
    """A request for one person of a ``Staff``; the event succeeds when one is assigned.

    ``with staff.request() as req: yield req`` cancels (or releases) it on the way out, so an
    interrupted process never leaves a request behind.
    """

    #: defaults until granted (class attributes: one request per stay, set only when changed)
    granted_at: float | None = None
    state: RequestState = "waiting"

    def __init__(self, staff: Staff, priority: float, order: int) -> None:
        # simpy.Event.__init__, inlined (as simpy.Process does); _value is Event's PENDING
        self.env = staff.env
        self.callbacks = []
        self.staff = staff
        self.priority = priority
        self.order = order

    def __enter__(self) -> StaffRequest:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.staff.cancel(self)


@dataclass(frozen=True, slots=True)
class StaffStats:
    """Time-weighted totals of one staff pool from ``since`` (its creation) to ``until``.

    ``busy_hours`` is person-hours held (clock time, off-calendar hours included, since a
    person holding a deal is not free for another); ``queue_hours`` the integral of the
    number of waiting requests (divide by the span for the mean queue); ``headcount_hours``
    the integral of the headcount. Differences of two snapshots give a window's totals.
    """

    name: str
    since: float
    until: float
    busy_hours: float
    queue_hours: float
    headcount_hours: float
    max_queue: int
    grants: int
    requests: int
    cancelled: int

    @property
    def mean_queue(self) -> float:
        span = self.until - self.since
        return self.queue_hours / span if span > 0 else 0.0

    @property
    def mean_busy(self) -> float:
        span = self.until - self.since
        return self.busy_hours / span if span > 0 else 0.0


class Staff:
    """A pool of interchangeable people whose headcount follows ``schedule``.

    ``schedule`` is ``[(t, headcount), ...]`` with strictly increasing ``t``; the entry with
    the largest ``t <= env.now`` is the initial headcount (so the first entry must be at or
    before ``env.now``; ``-inf`` means "since always"), and each later entry takes effect at
    exactly its ``t`` (a timeout per entry, scheduled at construction, so a change at ``t``
    runs before events scheduled later for the same instant). With ``priority=True`` waiting
    requests are served lowest ``priority`` value first, FIFO among equals; otherwise FIFO.
    """

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        schedule: Sequence[tuple[float, int]],
        *,
        priority: bool = False,
    ) -> None:
        self.env = env
        # the environment's queue: grants are scheduled there directly (flowsim.sim.driver)
        self._queue, self._eid = check_environment(env)
        self.name = name
        self.priority = priority
        self.schedule = _checked_schedule(name, schedule, env.now)
        now = env.now
        current = [n for t, n in self.schedule if t <= now]
        self.capacity: int = current[-1]
        self.busy: int = 0
        self._waiting = 0  # live requests in the queue
        self._dead = 0  # cancelled requests still in the queue
        self._fifo: deque[StaffRequest] = deque()
        self._heap: list[tuple[float, int, StaffRequest]] = []
        self._order = 0
        # statistics
        self._since = self._last = now
        self._busy_area = self._queue_area = self._headcount_area = 0.0
        self._max_queue = self._grants = self._requests = self._cancelled = 0
        for t, n in self.schedule:
            if t > now:
                env.timeout(t - now).callbacks.append(partial(self._on_step, n))

    @property
    def queue_length(self) -> int:
        """Requests waiting for a person right now (cancelled ones not counted)."""
        return self._waiting

    # ---- requests ---------------------------------------------------------------------------

    def request(self, priority: float = 0.0) -> StaffRequest:
        """Ask for one person; the returned event succeeds when one is assigned.

        Granted at once (in this instant) when someone is free and nobody is waiting;
        otherwise queued. ``priority`` only matters for a pool made with ``priority=True``.
        """
        if priority != priority:  # NaN
            raise ValueError(f"staff {self.name!r}: a request priority must be a number, not NaN")
        # This runs once per stay: the clock read once (env._now, not the property), the
        # integrals advanced (_advance) and the request granted inline.
        now = self.env._now
        dt = now - self._last
        if dt > 0:
            self._busy_area += self.busy * dt
            self._queue_area += self._waiting * dt
            self._headcount_area += self.capacity * dt
            self._last = now
        self._order = order = self._order + 1
        self._requests += 1
        req = StaffRequest(self, priority, order)
        if self._waiting == 0 and self.busy < self.capacity:
            self.busy += 1
            self._grants += 1
            req.state = "granted"
            req.granted_at = now
            req._ok = True
            req._value = None
            heappush(self._queue, (now, NORMAL, next(self._eid), req))  # env.schedule(req)
            return req
        if self.priority:
            heappush(self._heap, (priority, order, req))
        else:
            self._fifo.append(req)
        self._waiting = waiting = self._waiting + 1
        if waiting > self._max_queue:
            self._max_queue = waiting
        return req

    def release(self, request: StaffRequest) -> None:
        """Give the person back; the next waiter (if any) gets them in the same instant."""
        if request.staff is not self:
            self._own(request)
        if request.state != "granted":
            raise ValueError(
                f"staff {self.name!r}: only a granted request can be released "
                f"(request #{request.order} is {request.state})"
            )
        now = self.env._now
        dt = now - self._last
        if dt > 0:  # _advance, inline: this too runs once per stay
            self._busy_area += self.busy * dt
            self._queue_area += self._waiting * dt
            self._headcount_area += self.capacity * dt
            self._last = now
        request.state = "released"
        self.busy -= 1
        if self._waiting:
            self._serve(now)

    def cancel(self, request: StaffRequest) -> None:
        """Withdraw a waiting request; a granted one is released; otherwise nothing happens.

        Idempotent, so cleanup code (``with`` blocks, interrupt handlers) can always call it.
        """
        self._own(request)
        if request.state == "granted":
            self.release(request)
            return
        if request.state != "waiting":
            return
        self._advance(self.env.now)
        request.state = "cancelled"
        self._waiting -= 1
        self._dead += 1
        self._cancelled += 1
        if self._dead >= _COMPACT_AT and self._dead > self._waiting:
            self._compact()

    def stats(self, now: float) -> StaffStats:
        """Time-weighted totals from the pool's creation up to ``now`` (>= its last change)."""
        if now < self._last:
            raise ValueError(
                f"staff {self.name!r}: statistics asked for t={now:g}, before the last change "
                f"at t={self._last:g}"
            )
        dt = now - self._last
        return StaffStats(
            name=self.name,
            since=self._since,
            until=now,
            busy_hours=self._busy_area + self.busy * dt,
            queue_hours=self._queue_area + self._waiting * dt,
            headcount_hours=self._headcount_area + self.capacity * dt,
            max_queue=self._max_queue,
            grants=self._grants,
            requests=self._requests,
            cancelled=self._cancelled,
        )

    # ---- internals ----------------------------------------------------------------------

    def _own(self, request: StaffRequest) -> None:
        if request.staff is not self:
            raise ValueError(
                f"staff {self.name!r}: request #{request.order} belongs to "
                f"staff {request.staff.name!r}"
            )

    def _advance(self, now: float) -> None:
        """Add the time up to ``now`` to the integrals (state is about to change)."""
        dt = now - self._last
        if dt > 0:
            self._busy_area += self.busy * dt
            self._queue_area += self._waiting * dt
            self._headcount_area += self.capacity * dt
            self._last = now

    def _serve(self, now: float) -> None:
        """Hand free people to waiting requests, in queue order."""
        while self._waiting and self.busy < self.capacity:
            self._waiting -= 1
            # the next live request (_pop_live, inline while the head is live), granted
            req = heapq.heappop(self._heap)[2] if self.priority else self._fifo.popleft()
            if req.state != "waiting":
                self._dead -= 1
                req = self._pop_live()
            self.busy += 1
            self._grants += 1
            req.state = "granted"
            req.granted_at = now
            req._ok = True
            req._value = None
            heappush(self._queue, (now, NORMAL, next(self._eid), req))

    def _pop_live(self) -> StaffRequest:
        while True:
            req = heapq.heappop(self._heap)[2] if self.priority else self._fifo.popleft()
            if req.state == "waiting":
                return req
            self._dead -= 1

    def _compact(self) -> None:
        if self.priority:
            self._heap = [e for e in self._heap if e[2].state == "waiting"]
            heapq.heapify(self._heap)
        else:
            self._fifo = deque(r for r in self._fifo if r.state == "waiting")
        self._dead = 0

    def _on_step(self, headcount: int, _event: simpy.Event) -> None:
        now = self.env.now
        self._advance(now)
        self.capacity = headcount
        self._serve(now)


def _checked_schedule(
    name: str, schedule: Sequence[tuple[float, int]], now: float
) -> tuple[tuple[float, int], ...]:
    steps = tuple((float(t), n) for t, n in schedule)
    if not steps:
        raise InputError(f"staff {name!r}: the headcount schedule is empty")
    for k, (t, n) in enumerate(steps):
        if math.isnan(t) or t == math.inf or (t == -math.inf and k > 0):
            raise InputError(
                f"staff {name!r}: schedule time {t!r} is not allowed (-inf only as the first)"
            )
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise InputError(f"staff {name!r}: headcount must be a whole number >= 0, got {n!r}")
        if k and t <= steps[k - 1][0]:
            raise InputError(
                f"staff {name!r}: schedule times must increase (t={t:g} after {steps[k - 1][0]:g})"
            )
    if steps[0][0] > now:
        raise InputError(
            f"staff {name!r}: the schedule starts at t={steps[0][0]:g}, after the current "
            f"time {now:g}; it needs an entry at or before it for the initial headcount"
        )
    return steps


def headcount_schedule(role: Role, epoch: datetime, tz: str) -> list[tuple[float, int]]:
    """A role's headcount over time as a ``Staff`` schedule on the clock of ``epoch``.

    The first entry is ``(-inf, role.headcount)``: the declared headcount holds for all time
    before the first change, so a replay of history that starts before the epoch (negative
    clock times) sees it too. Each ``from YYYY-MM-DD headcount n`` takes effect at local
    midnight of that date in the role's calendar time zone, else ``tz`` (pass the process
    calendar's zone, or "UTC").
    """
    if epoch.tzinfo is None or epoch.utcoffset() is None:
        raise InputError("the simulation epoch must be a timezone-aware datetime (e.g. UTC)")
    name = role.calendar.timezone if role.calendar and role.calendar.timezone else tz
    where = zone(name)
    out: list[tuple[float, int]] = [(-math.inf, role.headcount)]
    for step in role.headcount_steps:
        try:
            day = date.fromisoformat(step.date)
        except ValueError:
            raise InputError(
                f"role {role.id!r}: headcount change on {step.date!r} is not a calendar date"
            ) from None
        midnight = local_instant(datetime(day.year, day.month, day.day), where)
        out.append((to_clock(midnight, epoch), step.headcount))
    return out


def available_person_hours(
    schedule: Sequence[tuple[float, int]], working: WorkingTime, t0: float, t1: float
) -> float:
    """Person-hours on calendar in ``[t0, t1]``: the sum of headcount x working time.

    The denominator of utilisation (busy person-hours / available person-hours).
    """
    if t1 < t0:
        raise InputError(f"available_person_hours needs t0 <= t1 (got {t0!r} > {t1!r})")
    parts = []
    for k, (start, headcount) in enumerate(schedule):
        end = schedule[k + 1][0] if k + 1 < len(schedule) else math.inf
        lo, hi = max(start, t0), min(end, t1)
        if hi > lo and headcount:
            parts.append(headcount * working.working_hours(lo, hi))
    return math.fsum(parts)
