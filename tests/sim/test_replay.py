"""Replay: real deals through the model, at their real times, along their real paths."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest

import flowsim
from flowsim.sim.replay import UnknownStages, prepare_replay
from flowsim.sim.simulate import simulate
from tests.data import DATA

RUNNING = DATA / "pm4py-logs" / "running-example.xes"
BPIC = DATA / "bpic2012" / "bpic2012.xes.gz"
MAVEN = DATA / "maven-crm-sales-opportunities" / "sales_pipeline.csv"


def _history_cycles(log: flowsim.DealLog, process: flowsim.Process) -> dict[str, float]:
    """First entry to the close (the first outcome record), else to the last recorded entry or
    exit (for an open deal: how far it got). Records after the close are not the deal's path:
    the replay, as the metrics, ends a deal at its first outcome."""
    from flowsim.history.closing import cut_after_close

    outcomes = {o.label or o.id: o.result for o in process.outcomes}
    frame = cut_after_close(log.frame, outcomes)[0]
    f = frame.group_by("deal").agg(
        pl.max_horizontal(pl.col("entered_at").max(), pl.col("left_at").max()).alias("end"),
        pl.col("entered_at").min().alias("start"),
    )
    hours = (f["end"] - f["start"]).dt.total_microseconds() / 3.6e9
    return dict(zip(f["deal"].to_list(), hours.to_list(), strict=True))


def _replayed_cycles(result: object, until: datetime | None = None) -> dict[str, float]:
    """The same for the replayed deals, counting only what happened by ``until``."""
    f = result.event_log.frame  # type: ignore[attr-defined]
    if until is not None:
        f = f.filter(pl.col("entered_at") <= until).with_columns(
            pl.when(pl.col("left_at") <= until).then(pl.col("left_at")).alias("left_at")
        )
    g = f.group_by("deal").agg(
        pl.max_horizontal(pl.col("entered_at").max(), pl.col("left_at").max()).alias("end"),
        pl.col("entered_at").min().alias("start"),
    )
    hours = (g["end"] - g["start"]).dt.total_microseconds() / 3.6e9
    return dict(zip(g["deal"].to_list(), hours.to_list(), strict=True))


def _assert_exact(log: flowsim.DealLog, process: flowsim.Process, **kw: object) -> None:
    """Unhindered, every deal replays its history to the microsecond; open ones go on after."""
    result = simulate(process, log, replications=1, unlimited=True, workers=1, **kw)  # type: ignore[arg-type]
    plan = prepare_replay(log, process)
    end = plan.epoch + timedelta(hours=plan.end)
    # cut at the end of history, every deal took exactly its real time: the closed ones
    # closed when they did, and the open ones were still in their last stage
    want = _history_cycles(log, process)
    got = _replayed_cycles(result, until=end)
    assert set(got) == set(want)
    diff = np.array([abs(got[d] - want[d]) for d in want])
    assert diff.max() < 1e-6, f"{(diff > 1e-6).sum()} deals differ, worst by {diff.max()} h"
    # after it, only the deals open then go on
    open_ids = {d.deal for d in plan.deals if d.open}
    later = result.event_log.frame.filter(pl.col("entered_at") > end)["deal"].unique()
    assert set(later.to_list()) <= open_ids


def test_replay_reproduces_running_example_cycle_times_exactly() -> None:
    log = flowsim.read_log(RUNNING)
    process = flowsim.discover(log).process
    _assert_exact(log, process)


@pytest.fixture(scope="module")
def bpic(bpic_log: flowsim.DealLog) -> flowsim.DealLog:
    return bpic_log


def test_replay_reproduces_bpic_2012_cycle_times_exactly(bpic: flowsim.DealLog) -> None:
    process = flowsim.discover(bpic, min_share=0.0).process
    _assert_exact(bpic, process)


def test_replay_keeps_open_deals_in_flight_maven() -> None:
    log = flowsim.read_log(MAVEN)
    process = flowsim.discover(log).process
    plan = prepare_replay(log, process)
    open_deals = sum(d.open for d in plan.deals)
    assert open_deals > 0
    result = simulate(process, log, replications=1, unlimited=True, workers=1)
    assert result.baseline.kpis["open_at_end"].mean == open_deals


def test_capacity_only_delays_and_a_what_if_changes_only_what_it_changes() -> None:
    log = flowsim.read_log(RUNNING)
    process = flowsim.discover(log).process
    free = simulate(process, log, replications=1, unlimited=True, workers=1)
    tight = simulate(process, log, replications=1, workers=1)
    a, b = _replayed_cycles(free), _replayed_cycles(tight)
    assert all(b[d] >= a[d] - 1e-9 for d in a)


def test_unknown_stage_is_a_clear_error() -> None:
    log = flowsim.read_log(RUNNING)
    process = flowsim.load("examples/b2b-cn.flow")
    with pytest.raises(UnknownStages, match="register request"):
        prepare_replay(log, process)


def test_start_from_today_continues_the_open_pipeline() -> None:
    from datetime import UTC, datetime

    from flowsim.sim.replay import open_deals

    log = flowsim.read_log(MAVEN)
    process = flowsim.discover(log).process
    as_of = datetime(2017, 9, 30, tzinfo=UTC)
    pipeline = open_deals(log, process, as_of)
    # open at as_of: entered a stage by then and no outcome by then
    cut = log.frame.filter(pl.col("entered_at") <= as_of)
    last = cut.sort("entered_at").group_by("deal").agg(pl.col("stage").last())
    expected = last.filter(~pl.col("stage").is_in(["Won", "Lost"])).height
    assert len(pipeline) == expected > 100
    assert all(d.age >= 0 and d.since >= d.age for d in pipeline)
    result = simulate(process, log, as_of=as_of, until=24 * 90.0, replications=2, workers=1, seed=1)
    assert result.mode == "from_today"
    k = result.baseline.kpis
    # the open deals close too (won + lost exceed what arrived after as_of)
    assert (k["won"].mean or 0) + (k["lost"].mean or 0) > (k["arrived"].mean or 0)
    # before as_of nothing happens in the simulated log except the open deals' stays
    first = result.event_log.frame["entered_at"].min()
    assert first >= as_of
