"""Two building blocks of the simulator: WorkingTime.add and Staff request/release cycles.

Run: ``.venv/bin/python bench/bench_sim_blocks.py [--repeat 5]``. Prints calls per second,
best of ``--repeat`` runs, with baselines measured in the same run (plain ``t + h`` for
``add``; ``simpy.Resource`` / ``simpy.PriorityResource`` for ``Staff``).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Generator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import simpy

from flowsim.model import Calendar, TimeWindow
from flowsim.sim.calendar import WorkingTime
from flowsim.sim.capacity import Staff

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
N = 200_000


def best(fn: Callable[[], int], repeat: int) -> float:
    """Calls per second of the fastest of ``repeat`` runs (fn returns its call count)."""
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        calls = fn()
        rates.append(calls / (time.perf_counter() - start))
    return max(rates)


def bench_add(repeat: int) -> None:
    rng = np.random.default_rng(1)
    times = (rng.uniform(-24 * 365, 24 * 365 * 2, N)).tolist()
    efforts = rng.exponential(4.0, N).tolist()
    calendars = {
        "none (t + h)": None,
        "Mon-Fri 09-18 UTC": Calendar(
            days=(0, 1, 2, 3, 4), windows=(TimeWindow(start=540, end=1080),)
        ),
        "Mon-Fri 09-12 13-17:30 Berlin": Calendar(
            days=(0, 1, 2, 3, 4),
            windows=(TimeWindow(start=540, end=720), TimeWindow(start=780, end=1050)),
            timezone="Europe/Berlin",
        ),
    }

    def plain() -> int:
        out = 0.0
        for t, h in zip(times, efforts, strict=True):
            out += t + h
        return N

    print(f"WorkingTime.add, {N:,} calls over 3 years of clock (warm: intervals materialised)")
    print(f"  {'python loop with t + h':32s} {best(plain, repeat):12,.0f} calls/s")
    for name, calendar in calendars.items():
        work = WorkingTime(calendar, EPOCH)
        add = work.add

        def run(add: Callable[[float, float], float] = add) -> int:
            for t, h in zip(times, efforts, strict=True):
                add(t, h)
            return N

        cold = WorkingTime(calendar, EPOCH)
        start = time.perf_counter()
        for t, h in zip(times[:1000], efforts[:1000], strict=True):
            cold.add(t, h)
        first = time.perf_counter() - start
        print(
            f"  {name:32s} {best(run, repeat):12,.0f} calls/s"
            f"   (first 1,000 calls incl. materialising: {first * 1e3:.1f} ms)"
        )


def cycles(make: Callable[[simpy.Environment], Any], request: Callable[[Any], Any]) -> int:
    """Request/release cycles on a pool of 50 with 49 people busy: each request is granted."""
    env = simpy.Environment()
    pool = make(env)
    held = [request(pool) for _ in range(49)]
    for _ in range(N):
        pool.release(request(pool))
    assert len(held) == 49
    return N


def mmc(make: Callable[[simpy.Environment], Any], request: Callable[[Any], Any]) -> int:
    """An M/M/50 queue at 95% load with 20,000 customers: cycles per second of simulated work."""
    n, servers = 20_000, 50
    rng = np.random.default_rng(3)
    gaps = rng.exponential(1 / (0.95 * servers), n).tolist()
    holds = rng.exponential(1.0, n).tolist()
    env = simpy.Environment()
    pool = make(env)

    def one(k: int) -> Generator[simpy.Event, Any, None]:
        req = request(pool)
        yield req
        yield env.timeout(holds[k])
        pool.release(req)

    def source() -> Generator[simpy.Event, Any, None]:
        for k in range(n):
            yield env.timeout(gaps[k])
            env.process(one(k))

    env.process(source())
    env.run()
    return n


def bench_staff(repeat: int) -> None:
    pools: dict[str, tuple[Callable[[simpy.Environment], Any], Callable[[Any], Any]]] = {
        "simpy.Resource": (lambda env: simpy.Resource(env, 50), lambda p: p.request()),
        "Staff (FIFO)": (lambda env: Staff(env, "s", [(-math.inf, 50)]), lambda p: p.request()),
        "simpy.PriorityResource": (
            lambda env: simpy.PriorityResource(env, 50),
            lambda p: p.request(priority=1),
        ),
        "Staff (priority)": (
            lambda env: Staff(env, "s", [(-math.inf, 50)], priority=True),
            lambda p: p.request(1.0),
        ),
    }
    print(f"\nrequest/release, capacity 50 ({N:,} bare cycles; M/M/50 at 95% load, 20,000 deals)")
    # Rounds interleave the pools, so a noisy neighbour slows all of them alike.
    bare: dict[str, float] = dict.fromkeys(pools, 0.0)
    queue: dict[str, float] = dict.fromkeys(pools, 0.0)
    for _ in range(repeat):
        for name, (make, request) in pools.items():
            bare[name] = max(bare[name], best(lambda m=make, r=request: cycles(m, r), 1))
            queue[name] = max(queue[name], best(lambda m=make, r=request: mmc(m, r), 1))
    rates = {name: (bare[name], queue[name]) for name in pools}
    for name, (b, q) in rates.items():
        print(f"  {name:24s} bare {b:12,.0f} cycles/s   M/M/50 {q:10,.0f} deals/s")
    for ours, theirs in (
        ("Staff (FIFO)", "simpy.Resource"),
        ("Staff (priority)", "simpy.PriorityResource"),
    ):
        (b1, q1), (b0, q0) = rates[ours], rates[theirs]
        print(f"  {ours} vs {theirs}: bare {b1 / b0:.2f}x, M/M/50 {q1 / q0:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bench_add(args.repeat)
    bench_staff(args.repeat)


if __name__ == "__main__":
    main()
