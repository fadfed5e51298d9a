"""Staff: queue order, cancellation, headcount steps, statistics, and SimPy's own resources."""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from flowsim.model import Calendar, HeadcountStep, Role, TimeWindow
from flowsim.sim.calendar import WorkingTime
from flowsim.sim.capacity import Staff, StaffRequest, available_person_hours, headcount_schedule

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday
Log = list[tuple[str, float]]


def customer(
    env: simpy.Environment,
    staff: Staff,
    name: str,
    arrive: float,
    hold: float,
    log: Log,
    priority: float = 0.0,
) -> Generator[simpy.Event, Any, None]:
    """Arrive, wait for a person, hold them for ``hold`` hours, release; log the grant."""
    yield env.timeout(arrive)
    req = staff.request(priority)
    yield req
    log.append((name, env.now))
    yield env.timeout(hold)
    staff.release(req)


def run(
    schedule: Sequence[tuple[float, int]],
    people: Sequence[tuple[str, float, float] | tuple[str, float, float, float]],
    *,
    priority: bool = False,
    until: float | None = None,
) -> tuple[Staff, Log]:
    env = simpy.Environment()
    staff = Staff(env, "rep", schedule, priority=priority)
    log: Log = []
    for name, arrive, hold, *prio in people:
        env.process(customer(env, staff, name, arrive, hold, log, *prio))
    env.run(until=until)
    return staff, log


# ---- queue order -------------------------------------------------------------------------


def test_fifo_order() -> None:
    staff, log = run([(0, 1)], [(n, t, 10) for n, t in zip("abcd", (0, 1, 2, 3), strict=True)])
    assert log == [("a", 0), ("b", 10), ("c", 20), ("d", 30)]
    assert staff.busy == 0
    assert staff.queue_length == 0


def test_priority_order_with_fifo_ties() -> None:
    people = [("first", 0, 10, 0.0)] + [
        (n, t, 1, p) for n, t, p in (("p3a", 1, 3), ("p1a", 2, 1), ("p2", 3, 2), ("p1b", 4, 1))
    ]
    people.append(("p3b", 5, 1, 3))
    _, log = run([(0, 1)], people, priority=True)
    assert [n for n, _ in log] == ["first", "p1a", "p1b", "p2", "p3a", "p3b"]
    assert [t for _, t in log] == [0, 10, 11, 12, 13, 14]


def test_priority_is_ignored_without_priority_mode() -> None:
    people = [("first", 0, 10, 0.0), ("late", 1, 1, 5.0), ("urgent", 2, 1, -5.0)]
    _, log = run([(0, 1)], people)
    assert [n for n, _ in log] == ["first", "late", "urgent"]


# ---- cancellation ------------------------------------------------------------------------


def test_cancelled_waiting_request_does_not_leak() -> None:
    env = simpy.Environment()
    staff = Staff(env, "rep", [(0, 1)])
    log: Log = []

    def impatient() -> Generator[simpy.Event, Any, None]:
        yield env.timeout(1)
        req = staff.request()
        got = yield req | env.timeout(4)
        assert req not in got
        assert staff.queue_length == 1
        staff.cancel(req)
        assert (staff.queue_length, req.state) == (0, "cancelled")
        staff.cancel(req)  # idempotent
        log.append(("gave up", env.now))

    env.process(customer(env, staff, "a", 0, 10, log))
    env.process(impatient())
    env.process(customer(env, staff, "c", 6, 2, log))
    env.run()
    assert log == [("a", 0), ("gave up", 5), ("c", 10)]  # c is not stuck behind a ghost
    stats = staff.stats(env.now)
    assert (stats.requests, stats.grants, stats.cancelled) == (3, 2, 1)
    assert staff.busy == 0
    assert staff.queue_length == 0
    assert stats.queue_hours == 4 + 4  # the impatient one 1..5, c 6..10


def test_with_block_cleans_up_after_an_interrupt() -> None:
    env = simpy.Environment()
    staff = Staff(env, "rep", [(0, 1)])
    holder = staff.request()
    states: list[str] = []

    def waiter() -> Generator[simpy.Event, Any, None]:
        with staff.request() as req:
            try:
                yield req
            except simpy.Interrupt:
                states.append(req.state)
        states.append(req.state)

    def interrupter(target: simpy.Process) -> Generator[simpy.Event, Any, None]:
        yield env.timeout(3)
        target.interrupt()

    env.process(interrupter(env.process(waiter())))
    env.run()
    assert states == ["waiting", "cancelled"]
    assert staff.queue_length == 0
    staff.release(holder)
    assert staff.busy == 0


@pytest.mark.parametrize("priority", [False, True])
def test_many_cancellations_keep_the_order_of_the_rest(priority: bool) -> None:
    env = simpy.Environment()
    staff = Staff(env, "rep", [(0, 1)], priority=priority)
    holder = staff.request()
    waiting = [staff.request(float(k % 5)) for k in range(300)]
    for k, req in enumerate(waiting):
        if k % 4:
            staff.cancel(req)  # 225 cancelled: the queue is compacted on the way
    assert staff.queue_length == 75
    served = []
    staff.release(holder)
    while staff.busy:
        granted = [r for r in waiting if r.state == "granted"]
        assert len(granted) == 1
        served.append(granted[0])
        staff.release(granted[0])
    kept = waiting[::4]
    expected = sorted(kept, key=lambda r: (r.priority, r.order)) if priority else kept
    assert served == expected
    assert staff.stats(env.now).cancelled == 225


def test_cancel_of_a_granted_request_releases_it() -> None:
    env = simpy.Environment()
    staff = Staff(env, "rep", [(0, 1)])
    first, second = staff.request(), staff.request()
    assert (first.state, second.state) == ("granted", "waiting")
    staff.cancel(first)
    assert (first.state, second.state, staff.busy) == ("released", "granted", 1)
    staff.cancel(first)  # nothing left to do
    assert staff.busy == 1


# ---- headcount over time -----------------------------------------------------------------


def test_increase_grants_waiters_exactly_at_the_step() -> None:
    people = [("a", 0, 100), ("b", 1, 10), ("c", 2, 10), ("d", 3, 10)]
    staff, log = run([(0, 1), (5, 3)], people)
    assert log == [("a", 0), ("b", 5), ("c", 5), ("d", 15)]
    assert staff.capacity == 3


def test_decrease_never_preempts() -> None:
    env = simpy.Environment()
    staff = Staff(env, "rep", [(0, 3), (5, 1)])
    log: Log = []
    for name, arrive, hold in (("a", 0, 10), ("b", 0, 20), ("c", 0, 30), ("d", 1, 1)):
        env.process(customer(env, staff, name, arrive, hold, log))
    env.run(until=6)
    assert (staff.capacity, staff.busy, staff.queue_length) == (1, 3, 1)  # nobody sent home
    env.run(until=25)
    assert (staff.busy, staff.queue_length) == (1, 1)  # busy == capacity: still no grant
    env.run()
    assert log[-1] == ("d", 30)  # served only once busy < the new capacity


def test_schedule_entries_before_now_set_the_initial_headcount() -> None:
    env = simpy.Environment(initial_time=100)
    staff = Staff(env, "rep", [(-math.inf, 1), (50, 4), (120, 2)])
    assert staff.capacity == 4
    env.run(until=121)
    assert staff.capacity == 2


# ---- statistics --------------------------------------------------------------------------


def test_stats_on_a_hand_computed_scenario() -> None:
    # Headcount 2, then 1 from t=4. a holds 0-6, b 1-3, c arrives at 2, waits for b, holds 3-4.
    staff, log = run([(0, 2), (4, 1)], [("a", 0, 6), ("b", 1, 2), ("c", 2, 1)])
    assert log == [("a", 0), ("b", 1), ("c", 3)]
    stats = staff.stats(8)
    assert stats.busy_hours == 6 + 2 + 1  # 1 (0-1) + 2*3 (1-4) + 1*2 (4-6)
    assert stats.queue_hours == 1  # c, 2-3
    assert stats.headcount_hours == 2 * 4 + 1 * 4
    assert (stats.max_queue, stats.grants, stats.requests, stats.cancelled) == (1, 3, 3, 0)
    assert (stats.since, stats.until) == (0, 8)
    assert stats.mean_queue == 1 / 8
    assert stats.mean_busy == 9 / 8
    # The same denominator from the schedule alone, for a pool that is always on duty.
    assert available_person_hours([(0, 2), (4, 1)], WorkingTime(None, EPOCH), 0, 8) == 12
    assert staff.stats(6).busy_hours == 9  # a snapshot between changes is linear


# ---- against SimPy's own resources -------------------------------------------------------


def grant_times(
    make: Any, request: Any, n: int, servers: int, seed: int
) -> tuple[list[float], list[float]]:
    """Arrival and grant time of ``n`` customers of an M/M/c queue (draws made up front)."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1 / (0.9 * servers), n)  # 90% load: long queues
    holds = rng.exponential(1.0, n)
    prios = rng.integers(0, 4, n)
    env = simpy.Environment()
    pool = make(env, servers)
    granted = [math.nan] * n
    arrived = [math.nan] * n

    def one(k: int) -> Generator[simpy.Event, Any, None]:
        req = request(pool, float(prios[k]))
        yield req
        granted[k] = env.now
        yield env.timeout(float(holds[k]))
        pool.release(req)

    def source() -> Generator[simpy.Event, Any, None]:
        for k in range(n):
            yield env.timeout(float(gaps[k]))
            arrived[k] = env.now
            env.process(one(k))

    env.process(source())
    env.run()
    return arrived, granted


def test_same_grant_times_as_simpy_resource_on_mmc() -> None:
    arrived, ours = grant_times(lambda env, c: Staff(env, "s", [(0, c)]), Staff.request, 3000, 3, 7)
    _, theirs = grant_times(simpy.Resource, lambda pool, _: pool.request(), 3000, 3, 7)
    assert ours == theirs
    assert ours == sorted(ours)  # FIFO
    assert sum(g > a for g, a in zip(ours, arrived, strict=True)) > 1000  # queues formed


def test_same_grant_times_as_simpy_priority_resource() -> None:
    _, ours = grant_times(
        lambda env, c: Staff(env, "s", [(0, c)], priority=True), Staff.request, 3000, 2, 11
    )
    _, theirs = grant_times(
        simpy.PriorityResource, lambda pool, p: pool.request(priority=p), 3000, 2, 11
    )
    assert ours == theirs
    assert ours != sorted(ours)  # priorities did overtake


# ---- invariants under random workloads ---------------------------------------------------


@st.composite
def workloads(draw: st.DrawFn) -> dict[str, Any]:
    times = sorted(draw(st.sets(st.integers(1, 60), max_size=5)))
    heads = draw(st.lists(st.integers(0, 4), min_size=len(times) + 1, max_size=len(times) + 1))
    heads[-1] = max(heads[-1], 1)  # so everyone is served in the end
    people = draw(
        st.lists(
            st.tuples(
                st.integers(0, 60),  # arrival
                st.integers(0, 15),  # hold
                st.none() | st.integers(0, 20),  # patience
                st.integers(0, 3),  # priority
            ),
            max_size=40,
        )
    )
    return {
        "schedule": list(zip([0, *times], heads, strict=True)),
        "people": people,
        "priority": draw(st.booleans()),
    }


@settings(max_examples=150, deadline=None)
@given(workloads())
def test_invariants(work: dict[str, Any]) -> None:
    env = simpy.Environment()
    staff = Staff(env, "rep", work["schedule"], priority=work["priority"])
    most = max(n for _, n in work["schedule"])
    requests: list[StaffRequest] = []
    resumed: list[int] = []

    def person(
        k: int, arrive: int, hold: int, patience: int | None, prio: int
    ) -> Generator[simpy.Event, Any, None]:
        yield env.timeout(arrive)
        req = staff.request(prio)
        requests.append(req)
        if patience is None:
            yield req
        else:
            yield req | env.timeout(patience)
        if not req.triggered:
            staff.cancel(req)
            return
        resumed.append(k)
        assert req.granted_at is not None
        assert req.granted_at <= env.now
        yield env.timeout(hold)
        staff.release(req)

    for k, p in enumerate(work["people"]):
        env.process(person(k, *p))
    while env.peek() < math.inf:
        env.step()
        assert 0 <= staff.busy <= most
        # work-conserving: nobody waits while someone is free
        assert staff.queue_length == 0 or staff.busy >= staff.capacity
    states = [r.state for r in requests]
    assert set(states) <= {"released", "cancelled"}
    assert len(resumed) == len(set(resumed)) == states.count("released")
    stats = staff.stats(env.now)
    assert stats.grants == states.count("released")
    assert stats.cancelled == states.count("cancelled")
    assert stats.requests == len(work["people"])
    assert (staff.busy, staff.queue_length) == (0, 0)
    assert stats.busy_hours == pytest.approx(
        sum(p[1] for k, p in enumerate(work["people"]) if k in resumed)
    )


# ---- schedules from the model ------------------------------------------------------------


def role(steps: Sequence[tuple[str, int]], tz: str | None = None) -> Role:
    calendar = (
        Calendar(days=(0, 1, 2, 3, 4), windows=(TimeWindow(start=540, end=1080),), timezone=tz)
        if tz
        else None
    )
    return Role(
        id="rep",
        headcount=2,
        headcount_steps=tuple(HeadcountStep(date=d, headcount=n) for d, n in steps),
        calendar=calendar,
    )


def hours(when: datetime) -> float:
    return (when - EPOCH) / timedelta(hours=1)


def test_headcount_schedule_from_role_steps() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    steps = [("2023-06-01", 3), ("2024-03-01", 5)]
    own_zone = headcount_schedule(role(steps, "Asia/Shanghai"), EPOCH, "Europe/Berlin")
    assert own_zone == [
        (-math.inf, 2),
        (hours(datetime(2023, 6, 1, tzinfo=shanghai)), 3),
        (hours(datetime(2024, 3, 1, tzinfo=shanghai)), 5),
    ]
    fallback = headcount_schedule(role(steps), EPOCH, "Europe/Berlin")
    assert fallback[2] == (hours(datetime(2024, 3, 1, tzinfo=ZoneInfo("Europe/Berlin"))), 5)
    assert headcount_schedule(role([]), EPOCH, "UTC") == [(-math.inf, 2)]
    # A change before the epoch already holds at t=0; the later one arrives on its day.
    env = simpy.Environment()
    staff = Staff(env, "rep", own_zone)
    assert staff.capacity == 3
    env.run(until=own_zone[2][0] + 1e-9)
    assert staff.capacity == 5


def test_available_person_hours_follows_headcount_and_calendar() -> None:
    office = WorkingTime(
        Calendar(days=(0, 1, 2, 3, 4), windows=(TimeWindow(start=540, end=1080),)), EPOCH
    )
    schedule = [(-math.inf, 2), (48.0, 3)]  # a third person from Wednesday 00:00
    assert available_person_hours(schedule, office, 0, 168) == 2 * 9 * 2 + 3 * 9 * 3
    assert available_person_hours(schedule, office, -168, 0) == 2 * 9 * 5  # the week before
    assert available_person_hours(schedule, office, 10, 10) == 0


# ---- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ([], "empty"),
        ([(0, 1), (0, 2)], "must increase"),
        ([(5, 1)], "needs an entry at or before"),
        ([(0, -1)], "whole number >= 0"),
        ([(0, 1.5)], "whole number >= 0"),
        ([(0, 1), (math.nan, 2)], "not allowed"),
        ([(0, 1), (-math.inf, 2)], "not allowed"),
    ],
)
def test_bad_schedules(schedule: list[tuple[float, Any]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Staff(simpy.Environment(), "rep", schedule)


def test_misuse_is_a_clear_error() -> None:
    env = simpy.Environment()
    staff = Staff(env, "rep", [(0, 1)])
    other = Staff(env, "sdr", [(0, 1)])
    granted, waiting = staff.request(), staff.request()
    with pytest.raises(ValueError, match="only a granted request can be released"):
        staff.release(waiting)
    with pytest.raises(ValueError, match="belongs to staff 'rep'"):
        other.release(granted)
    staff.release(granted)
    with pytest.raises(ValueError, match="is released"):
        staff.release(granted)
    with pytest.raises(ValueError, match="NaN"):
        staff.request(math.nan)
    env.run(until=3)
    staff.cancel(waiting)  # granted by the release above, so this releases it at t=3
    with pytest.raises(ValueError, match="before the last change"):
        staff.stats(2)
    with pytest.raises(ValueError, match="not a calendar date"):
        headcount_schedule(role([("2024-02-30", 3)]), EPOCH, "UTC")
    with pytest.raises(ValueError, match="unknown time zone"):
        headcount_schedule(role([]), EPOCH, "Mars/Olympus")
    with pytest.raises(ValueError, match="t0 <= t1"):
        available_person_hours([(0, 1)], WorkingTime(None, EPOCH), 2, 1)
