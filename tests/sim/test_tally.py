"""Lean engine memory (issue 17, item 6): a long run folds its closed deals into a tally.

A replication without a deal log keeps every deal until it holds ``FOLD_AT`` stays; past
that it folds its closed deals into running statistics (:mod:`flowsim.sim.tally`) and
forgets them, so its memory follows the deals in flight. These tests fold far more often
than a real run does (every few dozen stays) and check what that costs: nothing in counts
and moves, floating-point rounding in sums and means, and at most ``RELATIVE_ERROR`` in
quantiles, which a folded run reads from a log-bucket histogram.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import flowsim
from flowsim.sim import simulate as simulate_module
from flowsim.sim.engine import Engine, Settings, run_once
from flowsim.sim.kpis import kpis
from flowsim.sim.replay import prepare_replay
from flowsim.sim.sampling import Streams
from flowsim.sim.simulate import REPLAY_RUN_PAST, simulate
from flowsim.sim.tally import RELATIVE_ERROR, Sample

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EPOCH = datetime(2026, 1, 5, tzinfo=UTC)


def _flat(d: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _flat(v, f"{prefix}{k}/")
        else:
            yield f"{prefix}{k}", v


def assert_same_kpis(kept: dict[str, Any], folded: dict[str, Any]) -> None:
    """Counts and moves equal, sums and means to rounding, quantiles to RELATIVE_ERROR."""
    a, b = dict(_flat(kept)), dict(_flat(folded))
    assert a.keys() == b.keys()
    for key, x in a.items():
        y = b[key]
        if x is None or y is None:
            assert x is None and y is None, key
        elif "_p50" in key or "_p90" in key:
            assert y == pytest.approx(x, rel=RELATIVE_ERROR, abs=1e-12), key
        elif key.startswith("edges/") or key.endswith(("entered", "completed", "won", "lost")):
            assert y == x, key
        else:
            assert y == pytest.approx(x, rel=1e-12, abs=1e-12), key


@pytest.mark.parametrize(
    "settings",
    [
        Settings(epoch=EPOCH, until=3 * 365 * 24.0, warmup=720.0),
        Settings(epoch=EPOCH, deals=4000),
        Settings(epoch=EPOCH, until=2 * 365 * 24.0, warmup=720.0, priority="amount"),
    ],
    ids=["horizon", "deals", "largest-first"],
)
def test_a_folded_run_reports_what_a_kept_run_does(settings: Settings) -> None:
    process = flowsim.load(EXAMPLES / "b2b-cn.flow")
    kept = run_once(process, settings, seed=3, replication=1)
    folded = run_once(process, replace(settings, fold_at=50), seed=3, replication=1)
    assert folded.folded is not None
    assert folded.arrival.size < kept.arrival.size / 5  # most deals were folded away
    assert_same_kpis(kpis(kept), kpis(folded))


def test_a_folded_replay_reports_what_a_kept_replay_does() -> None:
    # History's deals on their real paths, diverted by a scenario, some still open at the
    # end of history (they finish by the model after the window).
    process = flowsim.load(EXAMPLES / "b2b-cn.flow")
    plan = prepare_replay(flowsim.read_log(EXAMPLES / "history" / "b2b-cn-deals.csv"), process)
    settings = Settings(
        epoch=plan.epoch, until=plan.end, run_past=REPLAY_RUN_PAST, won_amount=plan.won_amount
    )
    for scenario in [None, *(s.name for s in process.scenarios)]:
        p = process if scenario is None else process.with_scenario(scenario)
        kept = run_once(p, settings, 3, 0, base=process, replay=plan.deals)
        folded = run_once(p, replace(settings, fold_at=30), 3, 0, base=process, replay=plan.deals)
        assert_same_kpis(kpis(kept), kpis(folded))


def test_memory_follows_the_deals_in_flight_not_the_deals_simulated() -> None:
    # An M/M/1 queue at 50% load has about one deal in flight: after 20,000 deals a folding
    # engine holds a few hundred deals and stays at most, whatever the run's length.
    process = flowsim.parse(
        """
process "M/M/1" { arrivals every exponential(mean 2h) }
role clerk headcount 1
stage serve { owner clerk effort exponential(mean 1h) }
outcome won
serve -> won
"""
    )
    engine = Engine(process, Settings(epoch=EPOCH, deals=20_000, fold_at=256), Streams(1, 0))
    run = engine.run()
    assert run.folded is not None
    assert len(engine.deals) <= 2 * 256 and len(engine.visits) <= 2 * 256 * 80
    assert run.folded.arrived + run.arrival.size == 20_000
    assert kpis(run)["process"]["won"] == 20_000


def test_a_deal_log_is_kept_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    # With a tiny FOLD_AT the replications without a log fold; the one whose log is kept
    # (the first baseline replication) never does: its log and KPIs are those of a full run.
    process = flowsim.load(EXAMPLES / "b2b-cn.flow")
    whole = simulate(process, replications=3, seed=2, workers=1)
    monkeypatch.setattr(simulate_module, "FOLD_AT", 40)
    folding = simulate(process, replications=3, seed=2, workers=1)
    assert folding.event_log.frame.equals(whole.event_log.frame)
    runs, kept = folding.baseline.replications, whole.baseline.replications
    assert runs["won"] == kept["won"]
    assert runs["cycle_days_p90"][0] == kept["cycle_days_p90"][0]  # replication 0: exact
    assert runs["cycle_days_p90"][1:] == pytest.approx(kept["cycle_days_p90"][1:], rel=1e-4)


def test_a_histogram_reads_quantiles_within_its_relative_error() -> None:
    # Lognormal durations from minutes to months, some zero: every numpy quantile (linear
    # interpolation) is matched within RELATIVE_ERROR, after merging three parts.
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.lognormal(2.0, 2.5, 30_000), np.zeros(500)])
    rng.shuffle(values)
    parts = [Sample.of(part) for part in np.array_split(values, 3)]
    merged = parts[0].merge(parts[1]).merge(parts[2])
    assert merged.values is None and merged.n == values.size
    assert merged.mean() == pytest.approx(values.mean(), rel=1e-12)
    for q in (0.0, 0.01, 0.0166, 0.5, 0.9, 0.99, 1.0):
        assert merged.quantile(q) == pytest.approx(np.quantile(values, q), rel=RELATIVE_ERROR)
    assert Sample.of(values).quantile(0.9) == np.quantile(values, 0.9)  # exact when kept
