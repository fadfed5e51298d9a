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


#: per parent walk: (fork time, each branch's delays); an empty branch ends as it starts
FORKS = {
    "p": (0.0, [[1.0, 1.0], [2.0], []]),
    "q": (1.0, [[1.0], [0.0, 1.0]]),
    "r": (2.0, [[0.0], [0.0]]),
    "z": (1.5, [[0.5, 0.0, 0.0, 0.0, 0.0]]),  # zero delays: interleaved with the joins at 2
}


def _simpy_fork_join(log: Log) -> int:
    """The reference: each branch a simpy.Process, the parent waiting on simpy.AllOf."""
    env = simpy.Environment()

    def branch(name: str, delays: list[float]) -> Generator[simpy.Event, Any, None]:
        for delay in delays:
            yield env.timeout(delay)
            log.append((env.now, name))

    def parent(name: str, at: float, branches: list[list[float]]) -> Any:
        yield env.timeout(at)
        log.append((env.now, f"{name} forks"))
        walks = [env.process(branch(f"{name}.{i}", b)) for i, b in enumerate(branches)]
        yield simpy.AllOf(env, walks)
        log.append((env.now, f"{name} joins"))
        yield env.timeout(1.0)
        log.append((env.now, f"{name} done"))

    for name, (at, branches) in FORKS.items():
        env.process(parent(name, at, branches))
    events = 0
    while env.peek() <= 100:
        env.step()
        events += 1
    return events


def _driver_fork_join(log: Log) -> int:
    """The same with driver walks: the branches return a Join's callback."""
    env = simpy.Environment()

    def branch(wake: Wake, name: str, delays: list[float], join: driver.Join) -> driver.Joined:
        for delay in delays:
            driver.sleep(env, wake, delay)
            yield
            log.append((env.now, name))
        return join.done

    def parent(wake: Wake, name: str, at: float, branches: list[list[float]]) -> driver.Walk:
        driver.sleep(env, wake, at)
        yield
        log.append((env.now, f"{name} forks"))
        join = driver.Join(env, wake, len(branches))
        for i, b in enumerate(branches):
            own = Wake()
            driver.start(env, own, branch(own, f"{name}.{i}", b, join))
        yield
        log.append((env.now, f"{name} joins"))
        driver.sleep(env, wake, 1.0)
        yield
        log.append((env.now, f"{name} done"))

    for name, (at, branches) in FORKS.items():
        wake = Wake()
        driver.start(env, wake, parent(wake, name, at, branches))
    return driver.run(env, 100.0)


def test_a_join_resumes_its_walk_as_simpy_allof_does() -> None:
    expected: Log = []
    got: Log = []
    events = _simpy_fork_join(expected)
    assert _driver_fork_join(got) == events
    assert got == expected
    # each parent joins when its last branch ends: p at 2 (branches end at 2, 2 and 0)
    assert (2.0, "p joins") in expected and (2.0, "q joins") in expected
    assert (2.0, "r joins") in expected
