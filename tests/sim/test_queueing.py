"""Correctness anchors: the engine against queueing theory.

M/M/c (Erlang C) for one stage, and an open Jackson network with a rework loop, whose mean
time in each stage follows from the traffic equations.

How long each runs follows from the tolerance it asserts. Every check is a mean over
``REPLICATIONS`` independent replications, compared with theory at a relative tolerance of
``TOLERANCE`` (3%); the run is made long enough that this tolerance is ``K_SE`` (4) standard
errors of that mean, so a correct engine fails it with probability ~6e-5 per check, while an
error of 3% + 2 SE or more is caught with probability above 97%. For a queue in steady state
the variance of the mean of ``n`` customers' waits falls as 1/n:
``Var(mean)/mean^2 ~= K / n``, with ``K`` the relative variance constant of that queue (the
run's autocorrelation included). ``K`` grows like (1 - rho)^-2 in heavy traffic, which is why
heavy traffic is expensive. The constants below were measured on this engine with 16
replications of 50,000 customers (rho 0.5, 0.8) and 500,000 customers (rho 0.95), for the
mean wait and the time-average queue length (the larger of the two is used); each test also
checks that its own measured standard error is at most a third of the tolerance, so a change
that made the statistic noisier fails loudly rather than the test silently losing power.
"""

from __future__ import annotations

import math

import pytest

import flowsim
from flowsim.model import Process
from flowsim.sim.simulate import simulate
from flowsim.sim.stats import Estimate

TOLERANCE = 0.03
K_SE = 4
REPLICATIONS = 8


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


def customers_for(k: float, replications: int = REPLICATIONS, tolerance: float = TOLERANCE) -> int:
    """Customers per replication so that ``tolerance`` is ``K_SE`` standard errors.

    SE^2 = K / (replications * n) = (tolerance / K_SE)^2, solved for n.
    """
    return math.ceil(k / replications / (tolerance / K_SE) ** 2)


def assert_precise_enough(
    estimate: Estimate, expected: float, tolerance: float = TOLERANCE
) -> None:
    """The run's own standard error is at most a third of the tolerance (designed: a fourth)."""
    assert estimate.sd is not None and estimate.n >= 2
    standard_error = estimate.sd / math.sqrt(estimate.n) / expected
    assert 3 * standard_error <= tolerance, f"SE {standard_error:.2%}: the run is too short"


def check_mmc(
    servers: int, rho: float, customers: int, replications: int, tolerance: float = TOLERANCE
) -> None:
    process = mmc(servers, rho)
    hours = customers / (servers * rho)
    # warm-up: 2% of the run, 30 to 230 relaxation times 1/(c mu (1 - sqrt rho)^2) here
    result = simulate(
        process, replications=replications, seed=11, until=hours, warmup=hours * 0.02, workers=2,
        keep_log=False,
    )  # fmt: skip
    stage = result.baseline.stages["serve"]
    role = result.baseline.roles["clerk"]
    expected_wait = erlang_c_wait(servers, servers * rho, 1.0)
    queue = stage["queue_hours"]
    assert_precise_enough(queue, expected_wait, tolerance)
    assert_precise_enough(role["queue_mean"], servers * rho * expected_wait, tolerance)
    assert queue.mean == pytest.approx(expected_wait, rel=tolerance)
    assert role["utilization"].mean == pytest.approx(rho, rel=TOLERANCE)
    # Little's law on the queue: Lq = λ Wq
    assert role["queue_mean"].mean == pytest.approx(servers * rho * queue.mean, rel=tolerance)


@pytest.mark.parametrize(
    ("servers", "rho", "k"),
    # K measured (see the module docstring): 25 / 30 (mean wait / queue length) at rho 0.5,
    # 135 / 140 at rho 0.8. Customers per replication: 66,667 and 311,112.
    [(1, 0.5, 30.0), (3, 0.8, 140.0)],
)
def test_mmc_matches_erlang_c(servers: int, rho: float, k: float) -> None:
    check_mmc(servers, rho, customers_for(k), REPLICATIONS)


#: the heavy-traffic check in the default run: 10%, so that it takes well under a minute
HEAVY_TOLERANCE = 0.10


def test_mmc_in_heavy_traffic_matches_erlang_c_to_ten_percent() -> None:
    # rho = 0.95: K = 1,915 / 1,970 (mean wait / queue length), 14x that of rho = 0.8. At a
    # 10% tolerance (4 SE, as every check here) that is 8 replications of 394,000 customers,
    # 3.2 million in all: about 45 CPU-seconds. At this load the mean wait moves by 1.9% per
    # 0.1% of capacity lost, so 10% still catches an engine that loses 0.5% of its capacity
    # in freeing and handing over people (a person idle 18 s an hour); the slow test below
    # pins it to 3% (0.16%). The utilisation is still held to 3%.
    tolerance = HEAVY_TOLERANCE
    check_mmc(4, 0.95, customers_for(1970.0, tolerance=tolerance), REPLICATIONS, tolerance)


@pytest.mark.slow
def test_mmc_in_heavy_traffic_matches_erlang_c() -> None:
    # rho = 0.95 at a 3% tolerance: 35 million customers in all (measured: 392 CPU-seconds,
    # 5 min on two busy cores). Here a 0.16% loss of capacity moves the mean wait by 3%: the
    # sharpest check of how the engine frees and hands over people. 48 replications of
    # 730,000: a replication's statistics fold as it runs (issue 17, item 6), so a worker
    # needs about 300 MB however many customers its replication has (it once needed 1.4 GB
    # here, and 6.7 GB in all for 8 replications of 4.4 million).
    check_mmc(4, 0.95, customers_for(1970.0, replications=48), 48)


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
    # The mean time in `qualify` has K ~ 70 per arriving deal (`propose` less): 41 over 16
    # replications of 40,000 deals, 90 over 8 of 100,000, 148 over 4 of 60,000; 70 is their
    # pooled value (weighted by degrees of freedom). So 1.24 million deals in all; the 240,000
    # this test once ran gave an SE near 1.7%: 3% was under 2 SE, too weak a test.
    hours = customers_for(70.0)  # one deal an hour
    result = simulate(
        process, replications=REPLICATIONS, seed=5, until=hours, warmup=hours * 0.02, workers=2,
        keep_log=False,
    )  # fmt: skip
    lam = 1 / 0.75
    w_qualify = erlang_c_wait(2, lam, 1 / 1.2) + 1.2
    w_propose = erlang_c_wait(1, lam, 2.0) + 0.5
    stages = result.baseline.stages
    assert_precise_enough(stages["qualify"]["time_in_stage_hours"], w_qualify)
    assert_precise_enough(stages["propose"]["time_in_stage_hours"], w_propose)
    assert stages["qualify"]["time_in_stage_hours"].mean == pytest.approx(w_qualify, rel=TOLERANCE)
    assert stages["propose"]["time_in_stage_hours"].mean == pytest.approx(w_propose, rel=TOLERANCE)
    visits = stages["qualify"]["entered"].mean / result.baseline.kpis["arrived"].mean
    assert visits == pytest.approx(1 / 0.75, rel=0.02)
