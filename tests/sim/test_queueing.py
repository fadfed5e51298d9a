"""Correctness anchors: the engine against queueing theory.

M/M/c (Erlang C) for one stage, and an open Jackson network with a rework loop, whose mean
time in each stage follows from the traffic equations. Each runs long enough (many deals,
several replications) that 3% is a real test of the engine, not of luck.
"""

from __future__ import annotations

import math

import pytest

import flowsim
from flowsim.model import Process
from flowsim.sim.simulate import simulate


def mmc(servers: int, rho: float, mean_effort: float = 1.0) -> Process:
    """One stage, Poisson arrivals, exponential effort, ``servers`` people: an M/M/c queue."""
    interarrival = mean_effort / (servers * rho)
    return flowsim.parse(
        f"""
process "M/M/{servers}" {{ arrivals every exponential(mean {interarrival * 60:.6f}m) }}
role clerk headcount {servers}
stage serve {{ owner clerk effort exponential(mean {mean_effort * 60:.6f}m) }}
outcome won
serve -> won
"""
    )


def erlang_c_wait(servers: int, arrival: float, service: float) -> float:
    """Mean wait in queue of an M/M/c queue (Erlang C), arrival and service rates per hour."""
    a = arrival / service
    top = a**servers / math.factorial(servers) * servers / (servers - a)
    bottom = sum(a**k / math.factorial(k) for k in range(servers)) + top
    return top / bottom / (servers * service - arrival)


@pytest.mark.parametrize(
    ("servers", "rho", "customers"),
    # Heavy traffic needs long runs: at rho = 0.95 the replication-to-replication spread of
    # the mean wait is ~3.5% even over 2 million customers, so 10 million are simulated.
    [(1, 0.5, 400_000), (3, 0.8, 600_000), (4, 0.95, 10_000_000)],
)
def test_mmc_matches_erlang_c(servers: int, rho: float, customers: int) -> None:
    process = mmc(servers, rho)
    hours = customers / (servers * rho)
    result = simulate(process, replications=8, seed=11, until=hours, warmup=hours * 0.02, workers=2)
    stage = result.baseline.stages["serve"]
    role = result.baseline.roles["clerk"]
    expected_wait = erlang_c_wait(servers, servers * rho, 1.0)
    queue = stage["queue_hours"].mean
    assert queue == pytest.approx(expected_wait, rel=0.03)
    assert role["utilization"].mean == pytest.approx(rho, rel=0.03)
    # Little's law on the queue: Lq = λ Wq
    assert role["queue_mean"].mean == pytest.approx(servers * rho * queue, rel=0.03)


def test_jackson_network_with_rework_loop() -> None:
    # λ = 1/h into `qualify` (2 people, 1.2 h), then `propose` (1 person, 0.5 h); 25% of
    # proposals go back to `qualify`: per-stage arrival rate λ/0.75 by the traffic equations.
    process = flowsim.parse(
        """
process "Jackson" { arrivals every exponential(mean 1h) }
role rep headcount 2
role se headcount 1
stage qualify { owner rep effort exponential(mean 72m) }
stage propose { owner se effort exponential(mean 30m) }
outcome won
qualify -> propose
propose -> qualify 25%
propose -> won
"""
    )
    result = simulate(process, replications=4, seed=5, until=60_000, warmup=2_000, workers=2)
    lam = 1 / 0.75
    w_qualify = erlang_c_wait(2, lam, 1 / 1.2) + 1.2
    w_propose = erlang_c_wait(1, lam, 2.0) + 0.5
    stages = result.baseline.stages
    assert stages["qualify"]["time_in_stage_hours"].mean == pytest.approx(w_qualify, rel=0.03)
    assert stages["propose"]["time_in_stage_hours"].mean == pytest.approx(w_propose, rel=0.03)
    visits = stages["qualify"]["entered"].mean / result.baseline.kpis["arrived"].mean
    assert visits == pytest.approx(1 / 0.75, rel=0.02)
