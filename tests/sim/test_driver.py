"""The engine's run loop (flowsim.sim.driver) schedules exactly what SimPy would.

The engine's deal walks schedule their own wake-ups on SimPy's queue instead of running as
``simpy.Process`` with ``Timeout`` events. These tests run the same walks both ways, with
same-time ties, a staff pool and other SimPy processes sharing the queue, and require the
same order of everything that happens and the same number of events.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import pytest
import simpy

from flowsim.sim import driver
from flowsim.sim.capacity import Staff
from flowsim.sim.driver import Wake

#: per walk: (start time, [(delay before asking for a person, hours held), ...])
PLANS = {
    "a": (0.0, [(1.0, 2.0), (0.0, 1.0)]),
    "b": (0.0, [(1.0, 1.0), (2.0, 0.0)]),
    "c": (1.0, [(0.0, 2.0), (1.0, 1.0)]),
    "d": (3.0, [(0.0, 0.0)]),
    "e": (3.0, []),
}

Log = list[tuple[float, str]]


def _simpy_run(log: Log) -> int:
    """The reference: every walk a simpy.Process of Timeouts, stepped by Environment.step."""
    env = simpy.Environment()
    staff = Staff(env, "pool", [(float("-inf"), 1), (4.0, 2)])

    def walk(name: str, plan: list[tuple[float, float]]) -> Generator[simpy.Event, Any, None]:
        for gap, hold in plan:
            yield env.timeout(gap)
            req = staff.request()
            yield req
            log.append((env.now, f"{name} granted"))
            yield env.timeout(hold)
            staff.release(req)
            log.append((env.now, f"{name} released"))

    def starter(name: str, at: float, plan: list[tuple[float, float]]) -> Any:
        yield env.timeout(at)
        env.process(walk(name, plan))

    for name, (at, plan) in PLANS.items():
        env.process(starter(name, at, plan))
    events = 0
    while env.peek() <= 100:
        env.step()
        events += 1
    return events


def _driver_run(log: Log) -> int:
    """The same walks driven by flowsim.sim.driver (started by ordinary SimPy processes)."""
    env = simpy.Environment()
    staff = Staff(env, "pool", [(float("-inf"), 1), (4.0, 2)])

    def walk(wake: Wake, name: str, plan: list[tuple[float, float]]) -> driver.Walk:
        for gap, hold in plan:
            driver.sleep(env, wake, gap)
            yield
            req = staff.request()
            req.callbacks.append(wake.resume)
            yield
            log.append((env.now, f"{name} granted"))
            driver.sleep(env, wake, hold)
            yield
            staff.release(req)
            log.append((env.now, f"{name} released"))

    def starter(name: str, at: float, plan: list[tuple[float, float]]) -> Any:
        yield env.timeout(at)
        wake = Wake()
        driver.start(env, wake, walk(wake, name, plan))

    for name, (at, plan) in PLANS.items():
        env.process(starter(name, at, plan))
    return driver.run(env, 100.0)


def test_walks_run_in_simpys_order_with_simpys_event_count() -> None:
    expected: Log = []
    got: Log = []
    events = _simpy_run(expected)
    assert _driver_run(got) == events
    assert got == expected
    # the plans do tie: several things happen at the same instants
    times = [t for t, _ in expected]
    assert len(times) > len(set(times))


def test_a_horizon_is_inclusive_and_a_later_event_waits() -> None:
    env = simpy.Environment()
    seen: list[float] = []

    def walk(wake: Wake) -> driver.Walk:
        for delay in (1.0, 1.0, 1.0):
            driver.sleep(env, wake, delay)
            yield
            seen.append(env.now)

    wake = Wake()
    driver.start(env, wake, walk(wake))
    events = driver.run(env, 2.0)
    assert seen == [1.0, 2.0]  # the event at exactly 2.0 ran, the one at 3.0 did not
    assert events == 3  # the start and two wake-ups
    assert env.peek() == 3.0


def test_an_error_in_a_walk_reaches_the_caller() -> None:
    env = simpy.Environment()

    def walk(wake: Wake) -> driver.Walk:
        driver.sleep(env, wake, 1.0)
        yield
        raise ValueError("broken walk")

    wake = Wake()
    driver.start(env, wake, walk(wake))
    with pytest.raises(ValueError, match="broken walk"):
        driver.run(env, float("inf"))


def test_a_negative_delay_is_refused_as_simpy_refuses_it() -> None:
    env = simpy.Environment()
    with pytest.raises(ValueError, match="Negative delay"):
        driver.sleep(env, Wake(), -1.0)


def test_a_simpy_without_the_queue_fails_loudly() -> None:
    class Stranger:
        _now = 0.0

    check: Callable[[Any], object] = driver.check_environment
    with pytest.raises(RuntimeError, match=r"Environment\._queue"):
        check(Stranger())
