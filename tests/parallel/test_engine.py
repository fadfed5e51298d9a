"""Parallel blocks in the engine: a deal works on every branch at once; the join waits for all.

The analytic anchors, and how long each runs:

* Two branches without a queue (stages without an owner), exponential work of rates a and b:
  the time from fork to join is the max of two independent exponentials, of mean
  1/a + 1/b - 1/(a+b). A deal's cycle time is that max (the fork and the join take no time),
  so the replications' mean is a mean of i.i.d. draws with relative variance 0.6 here: 4
  replications of 10,000 deals give a standard error of 0.4%, and the 2% tolerance is 5 of
  them.
* A fork into two M/M/1 stations (one clerk each, the same Poisson arrivals): each station's
  sojourn is Exp(mu - lambda), but the two sojourns of one deal are *not* independent (both
  queues saw the same arrivals), so the max of independent sojourns, 1.5 / (mu - lambda) for
  equal stations, is only an upper bound. The exact mean for two equal stations is
  (12 - rho) / 8 / (mu - lambda) (Flatto and Hahn 1984; Nelson and Tantawi 1988). At rho = 0.3
  that is 2.089 h against 2.143 h for the independent max (2.5% apart). The cycle time's
  relative variance constant K was measured at 3.4 per deal (8 replications of 12,500 deals:
  SE 0.6%), so 8 x 12,500 deals make a 2.4% tolerance 4 standard errors (~13 s on two cores).
"""

from __future__ import annotations

import math

import polars as pl
import pytest

import flowsim
from flowsim.sim.simulate import simulate


def cycle_hours(result: flowsim.SimulationResult) -> tuple[float, float, int]:
    """Mean cycle time in hours, its standard error, and the number of replications."""
    estimate = result.baseline.kpis["cycle_days_mean"]
    assert estimate.mean is not None and estimate.sd is not None
    return estimate.mean * 24, estimate.sd * 24 / math.sqrt(estimate.n), estimate.n


def test_independent_branches_take_the_longer_of_the_two() -> None:
    a, b = 1.0, 0.5  # rates per hour: means 1 h and 2 h
    process = flowsim.parse(f"""
process "fork" {{ arrivals every exponential(mean 30m) }}
stage fork
stage left {{ effort exponential(mean {60 / a:g}m) }}
stage right {{ effort exponential(mean {60 / b:g}m) }}
outcome won
fork -> parallel {{ left, right }} -> won
""")
    result = simulate(process, replications=4, seed=7, deals=10_000, workers=2, keep_log=False)
    mean, se, _ = cycle_hours(result)
    expected = 1 / a + 1 / b - 1 / (a + b)  # 2.333 h (the sum would be 3 h, the max 2 h)
    assert 4 * se / expected <= 0.02
    assert mean == pytest.approx(expected, rel=0.02)


def test_a_fork_into_two_mm1_stations_matches_the_fork_join_queue() -> None:
    rho = 0.3  # mu = 1 per hour at each station, lambda = 0.3 per hour
    process = flowsim.parse(f"""
process "fork-join" {{ arrivals every exponential(mean {60 / rho:.6f}m) }}
role r1 headcount 1
role r2 headcount 1
stage fork
stage a {{ owner r1 effort exponential(mean 60m) }}
stage b {{ owner r2 effort exponential(mean 60m) }}
outcome won
fork -> parallel {{ a, b }} -> won
""")
    hours = 12_500 / rho
    result = simulate(
        process, replications=8, seed=3, until=hours, warmup=hours * 0.02, workers=2,
        keep_log=False,
    )  # fmt: skip
    mean, se, _ = cycle_hours(result)
    sojourn = 1 / (1 - rho)  # M/M/1: Exp(mu - lambda)
    exact = (12 - rho) / 8 * sojourn  # 2.089 h
    assert 4 * se / exact <= 0.024
    assert mean == pytest.approx(exact, rel=0.024)
    # each station alone is the M/M/1 it should be
    for stage in ("a", "b"):
        stay = result.baseline.stages[stage]["time_in_stage_hours"].mean
        assert stay == pytest.approx(sojourn, rel=0.03)
    assert mean < 1.5 * sojourn  # below the independent max, as the theory says


PROCESS = """
process "deal" { arrivals every exponential(mean 4h) }
role rep headcount 2
role counsel headcount 1
stage proposal { owner rep effort 2h }
stage legal { owner counsel effort exponential(mean 3h) }
stage validation { effort 5h }
stage sign_off { effort 1h }
stage contract { owner rep effort 1h }
outcome won
outcome lost
proposal -> parallel { legal, validation -> sign_off } -> contract
legal -> lost 30%
legal -> contract
contract -> won
"""


def test_the_deal_log_shows_the_branches_overlapping_and_the_join_waiting() -> None:
    result = simulate(flowsim.parse(PROCESS), replications=1, seed=1, deals=400, workers=1)
    frame = result.event_log.frame
    stays = frame.filter(pl.col("left_at").is_not_null() & ~pl.col("stage").is_in(["won", "lost"]))
    by_deal = stays.group_by("deal", "stage").agg(
        pl.col("entered_at").min().alias("in"), pl.col("left_at").max().alias("out")
    )
    wide = {(r["deal"], r["stage"]): (r["in"], r["out"]) for r in by_deal.iter_rows(named=True)}
    deals = {d for d, _ in wide}
    joined = [d for d in deals if (d, "contract") in wide]
    assert joined
    for d in joined:
        legal, validation, sign_off = (wide[(d, s)] for s in ("legal", "validation", "sign_off"))
        # both branches start when the proposal ends, and run at the same time
        assert legal[0] == validation[0] == wide[(d, "proposal")][1]
        # the contract starts when the later branch ends
        assert wide[(d, "contract")][0] == max(legal[1], sign_off[1])
    lost = frame.filter(pl.col("stage") == "lost")["deal"].to_list()
    # an outcome inside a branch ends the deal: the lost ones never reach the contract
    assert lost and not any((d, "contract") in wide for d in lost)
    share = len(lost) / (len(lost) + len(joined))
    assert share == pytest.approx(0.3, abs=0.07)


def test_a_deal_open_inside_a_branch_finishes_it_and_goes_on_from_the_join() -> None:
    """Starting from today, a deal history left in `legal` has no fork behind it: it ends
    its branch (or is lost there) and then reaches the contract, never a dead end."""
    from datetime import UTC, datetime

    from flowsim.sim.engine import Settings, run_once
    from flowsim.sim.replay import OpenDeal

    process = flowsim.parse(PROCESS)
    nodes = [n.id for n in process.iter_nodes()]
    open_deals = tuple(
        OpenDeal(deal=f"H{i}", node=nodes.index(stage), age=1.0, since=30.0, amount=math.nan)
        for i, stage in enumerate(["legal", "validation"] * 100)
    )
    settings = Settings(epoch=datetime(2026, 1, 5, tzinfo=UTC), open_deals=open_deals)
    run = run_once(process.model_copy(update={"arrivals": None}), settings, seed=4, replication=0)
    outcomes = [nodes[int(o)] if o >= 0 else int(o) for o in run.outcome]
    assert len(outcomes) == 200 and -2 not in outcomes and -1 not in outcomes
    contract = nodes.index("contract")
    reached = {int(d) for d, n in run.visits[:, :2] if int(n) == contract}
    from_validation = {i for i in range(1, 200, 2)}
    assert from_validation <= reached  # validation -> sign_off -> (join) -> contract
    lost_in_legal = [i for i in range(0, 200, 2) if i not in reached]
    assert all(outcomes[i] == "lost" for i in lost_in_legal)
    assert 0.15 <= len(lost_in_legal) / 100 <= 0.45  # legal loses 30%
