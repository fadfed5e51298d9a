"""The engine's semantics, one test per rule of docs/simulation.md."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import flowsim
from flowsim.sim.engine import VISIT_COLUMNS, Settings, _chooser, _router, run_once
from flowsim.sim.sampling import BLOCK, Streams
from flowsim.sim.simulate import DEFAULT_START, _epoch, simulate

C = {name: i for i, name in enumerate(VISIT_COLUMNS)}

ONE_STAGE = """
process "calendar" {{
  arrivals every {every}
  calendar Mon-Fri 09:00-18:00 "UTC"
}}
role rep headcount {headcount}
stage work {{ owner rep effort {effort} {wait} }}
outcome won
work -> won
"""


def _run(text: str, until: float, **kw: object) -> object:
    process = flowsim.parse(text)
    settings = Settings(epoch=_epoch(DEFAULT_START, process), until=until, **kw)  # type: ignore[arg-type]
    return run_once(process, settings, seed=1, replication=0)


def test_effort_counts_only_working_hours() -> None:
    # The clock starts Monday 00:00; the first deal arrives Friday 17:00 (113 h later).
    run = _run(ONE_STAGE.format(every="113h", headcount=1, effort="2h", wait=""), until=200)
    first = run.visits[0]  # type: ignore[attr-defined]
    assert first[C["entered"]] == 113
    assert first[C["worked"]] == 7 * 24 + 10  # Monday 10:00
    assert first[C["effort"]] == 2
    assert first[C["off_calendar"]] == pytest.approx(first[C["worked"]] - 113 - 2)


def test_wait_is_calendar_time_and_nobody_is_held() -> None:
    # 1 person, effort 1h, customer wait 1 week: the second deal must not queue behind the
    # first one's wait.
    text = ONE_STAGE.format(every="fixed(1h)", headcount=1, effort="30m", wait="wait 1w")
    run = _run(text.replace('calendar Mon-Fri 09:00-18:00 "UTC"', ""), until=400)
    v = run.visits  # type: ignore[attr-defined]
    v = v[~np.isnan(v[:, C["left"]])]
    assert len(v) > 200
    assert v[:, C["queue"]].max() == 0
    assert v[:, C["wait"]] == pytest.approx(np.full(len(v), 168.0))


def test_events_at_exactly_the_horizon_are_processed() -> None:
    # Arrivals every 10 h: with a horizon of 50 h the deal arriving at exactly 50 h counts.
    text = ONE_STAGE.format(every="10h", headcount=1, effort="0h", wait="")
    run = _run(text.replace('calendar Mon-Fri 09:00-18:00 "UTC"', ""), until=50)
    assert run.arrival.tolist() == [10, 20, 30, 40, 50]  # type: ignore[attr-defined]
    assert run.finish[-1] == 50  # type: ignore[attr-defined]


def test_headcount_change_over_time_clears_the_queue() -> None:
    process = flowsim.parse(
        """
process "steps" { arrivals every fixed(30m) }
role rep headcount 1 from 2026-01-08 headcount 3
stage work { owner rep effort fixed(1h) }
outcome won
work -> won
"""
    )
    settings = Settings(epoch=_epoch(date(2026, 1, 5), process), until=24 * 9)
    run = run_once(process, settings, seed=0, replication=0)
    v = run.visits
    v = v[~np.isnan(v[:, C["left"]])]
    before = v[v[:, C["entered"]] < 72]
    after = v[v[:, C["entered"]] > 160]  # 3 people drain the 72-deal backlog by 144 h
    assert before[:, C["queue"]].max() > 10  # 1 person, 2 deals an hour: the queue grows
    assert after[:, C["queue"]].max() == 0  # 3 people from Thursday: it is gone


def test_same_seed_same_log_and_different_seed_different_log() -> None:
    process = flowsim.load("examples/b2b-cn.flow")
    a = simulate(process, replications=2, seed=3, until=24 * 60, warmup=0, workers=1)
    b = simulate(process, replications=2, seed=3, until=24 * 60, warmup=0, workers=1)
    c = simulate(process, replications=2, seed=4, until=24 * 60, warmup=0, workers=1)
    assert a.model_dump_json() == b.model_dump_json()
    assert a.event_log.frame.equals(b.event_log.frame)
    assert not a.event_log.frame.equals(c.event_log.frame)


def test_results_do_not_depend_on_the_number_of_workers() -> None:
    process = flowsim.load("examples/b2b-cn.flow")
    kw = {"replications": 5, "seed": 9, "until": 24 * 90.0, "scenarios": ["增加两名售前"]}
    one = simulate(process, workers=1, **kw)  # type: ignore[arg-type]
    two = simulate(process, workers=2, **kw)  # type: ignore[arg-type]
    assert one.model_dump_json() == two.model_dump_json()


def test_a_scenario_equal_to_the_baseline_has_zero_deltas() -> None:
    text = Path("examples/b2b-cn.flow").read_text(encoding="utf-8")
    text += '\nscenario "same" { role se headcount 3 }\n'
    process = flowsim.parse(text)
    result = simulate(process, scenarios=["same"], replications=3, seed=2, until=24 * 60.0)
    for name, delta in result.scenario("same").deltas.items():
        assert delta.mean in (0.0, None), name


def test_more_presales_capacity_cuts_design_queue_significantly() -> None:
    process = flowsim.load("examples/b2b-cn.flow")
    result = simulate(
        process, scenarios=["增加两名售前"], replications=6, seed=1, until=24 * 200.0, workers=2
    )
    base = result.baseline.stages["design"]["queue_hours"].mean
    more = result.scenario("增加两名售前").stages["design"]["queue_hours"].mean
    assert base is not None and more is not None and more < base
    delta = result.scenario("增加两名售前").deltas["cycle_days_mean"]
    assert delta.mean is not None and delta.mean < 0 and delta.significant


def test_event_log_has_the_history_schema_and_feeds_the_metrics() -> None:
    process = flowsim.load("examples/b2b-cn.flow")
    result = simulate(process, replications=1, seed=0, until=24 * 120.0, workers=1)
    log = result.event_log
    from flowsim.history.log import SCHEMA

    assert dict(log.frame.schema) == SCHEMA
    m = flowsim.metrics(log, process)
    won = result.baseline.kpis["won"].mean
    assert won is not None and won > 0
    outcomes = log.frame.filter(pl.col("stage").is_in(["won", "lost"]))
    assert outcomes.height > 0
    assert m is not None


def test_overloaded_role_is_warned_before_running() -> None:
    process = flowsim.load("examples/b2b-cn.flow")
    busy = process.model_copy(
        update={"arrivals": process.arrivals.model_copy(update={"count": 400})}
    )  # type: ignore[union-attr]
    result = simulate(busy, replications=1, seed=0, until=24 * 30.0, warmup=0, workers=1)
    assert any("grows without bound" in w for w in result.warnings)
    loads = {x.role: x for x in result.offered_load}
    assert loads["se"].overloaded


def test_dead_end_and_horizon_accounting() -> None:
    process = flowsim.load("examples/b2b-cn.flow")
    settings = Settings(epoch=_epoch(DEFAULT_START, process), until=24 * 100.0)
    run = run_once(process, settings, seed=0, replication=0)
    closed = ~np.isnan(run.finish)
    open_ = run.outcome == -1
    assert closed.sum() + open_.sum() == len(run.arrival)
    assert math.isclose(run.end, 24 * 100.0)


def test_amount_priority_without_amounts_runs_fifo() -> None:
    process = flowsim.load("examples/b2b-cn.flow")  # no `amount`: every deal counts as 0
    fifo = simulate(process, replications=1, until=24 * 30.0, warmup=0, workers=1, seed=3)
    by_amount = simulate(
        process, replications=1, until=24 * 30.0, warmup=0, workers=1, seed=3, priority="amount"
    )
    assert by_amount.model_dump_json() == fifo.model_dump_json()


def test_one_routing_rule_for_next_stages_and_entries() -> None:
    # The first node whose cumulative probability exceeds the uniform draw; the last node
    # takes what rounding (or probabilities summing to less than 1) leaves. A stage with no
    # way out is a dead end, and draws nothing.
    draws = iter([0.0, 0.29, 0.3, 0.89, 0.95])
    choose = _chooser([4, 5, 6], [0.3, 0.6, 0.9], lambda: next(draws))
    assert [choose() for _ in range(5)] == [4, 4, 5, 6, 6]
    assert _chooser([], [], lambda: 1 / 0)() == -2


def test_block_routing_is_the_one_rule_on_the_same_stream() -> None:
    # A stage's next node comes from a block of uniforms at a time (_router): the very nodes
    # the one-draw-at-a-time rule picks from a stream in the same state, across blocks...
    streams = Streams(7, 3)
    nodes, cum = [4, 5, 6, 2], [0.25, 0.5, 0.75, 0.999]
    one = _chooser(nodes, cum, streams.uniform("route:x").next)
    block = _router(nodes, cum, streams.rng("route:x"))
    n = 3 * BLOCK + 5
    assert [block() for _ in range(n)] == [one() for _ in range(n)]

    # ... on the exact bounds and the rounding remainder too, and a dead end draws nothing.
    edges = [0.0, 0.25, 0.2499999999, 0.5, 0.75, 0.9989, 0.999, 0.9999999]

    class Fixed:
        def random(self, size: int) -> np.ndarray:
            return np.resize(np.array(edges), size)

    draws = iter(edges)
    one = _chooser(nodes, cum, lambda: next(draws))
    block = _router(nodes, cum, Fixed())  # type: ignore[arg-type]
    assert [block() for _ in edges] == [one() for _ in edges] == [4, 5, 4, 6, 2, 2, 2, 2]
    assert _router([], [], Fixed())() == -2  # type: ignore[arg-type]
