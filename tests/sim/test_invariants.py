"""Invariants of the engine on random models (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flowsim
from flowsim.sim.engine import VISIT_COLUMNS, Run, Settings, run_once
from flowsim.sim.kpis import kpis
from flowsim.sim.simulate import DEFAULT_START, _epoch

C = {name: i for i, name in enumerate(VISIT_COLUMNS)}

durations = st.sampled_from(
    ["fixed(2h)", "exponential(mean 3h)", "uniform(1h, 5h)", "triangular(30m, 1h, 6h)",
     "lognormal(mean 4h, sd 3h)", "gamma(mean 2h, sd 1h)", "normal(mean 2h, sd 3h)",
     "empirical[1h, 2h, 8h]", "0h"]
)  # fmt: skip


@st.composite
def models(draw: st.DrawFn) -> flowsim.Process:
    reps, ses = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    p_adv = draw(st.integers(10, 90))
    p_rework = draw(st.integers(0, 40))
    p_win = draw(st.integers(5, 95))
    calendar = draw(
        st.sampled_from(["", 'calendar Mon-Fri 09:00-12:00 13:00-18:00 "Asia/Shanghai"'])
    )
    steps = draw(st.sampled_from(["", "from 2026-01-20 headcount 5"]))
    return flowsim.parse(
        f"""
process "random" {{ arrivals every {draw(durations).replace("0h", "1h")} {calendar}
  amount uniform(1000, 5000) }}
role rep headcount {reps} {steps}
role se headcount {ses}
stage a {{ owner rep effort {draw(durations)} wait {draw(durations)} }}
stage b {{ owner se effort {draw(durations)} wait {draw(durations)} }}
stage c {{ effort {draw(durations)} }}
outcome won
outcome lost
a -> b {p_adv}%
a -> lost
b -> a {p_rework}%
b -> c
c -> won {p_win}%
c -> lost
"""
    )


def _run(process: flowsim.Process, seed: int, **kw: object) -> Run:
    s = Settings(epoch=_epoch(DEFAULT_START, process), **kw)  # type: ignore[arg-type]
    return run_once(process, s, seed, 0)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models(), st.integers(0, 2**32 - 1))
def test_engine_invariants(process: flowsim.Process, seed: int) -> None:
    run = _run(process, seed, until=24 * 40.0)
    v = run.visits
    done = v[~np.isnan(v[:, C["left"]])]
    # conservation: every deal that arrived is won, lost or still in flight
    n = len(run.arrival)
    finished = ~np.isnan(run.finish)
    assert finished.sum() + (run.outcome == -1).sum() == n
    assert set(np.unique(run.outcome[finished]).tolist()) <= {3, 4}
    # no negative times; each stay's instants are in order
    for col in ("queue", "effort", "off_calendar", "wait"):
        assert (done[:, C[col]] >= -1e-9).all(), col
    assert (done[:, C["entered"]] <= done[:, C["started"]] + 1e-9).all()
    assert (done[:, C["started"]] <= done[:, C["worked"]] + 1e-9).all()
    assert (done[:, C["worked"]] <= done[:, C["left"]] + 1e-9).all()
    # a deal's stays follow one another without gaps or overlaps
    order = np.lexsort((v[:, C["entered"]], v[:, C["deal"]]))
    s = v[order]
    same = s[1:, C["deal"]] == s[:-1, C["deal"]]
    assert np.allclose(s[1:, C["entered"]][same], s[:-1, C["left"]][same])
    # arrivals are in time order and inside the horizon
    assert (np.diff(run.arrival) >= 0).all()
    assert run.arrival.max(initial=0) <= 24 * 40.0


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models(), st.integers(0, 2**32 - 1))
def test_littles_law_and_determinism(process: flowsim.Process, seed: int) -> None:
    run = _run(process, seed, deals=150)
    assert (~np.isnan(run.finish)).all()  # a bounded run drains
    k = kpis(run)["process"]
    sojourn = run.finish - run.arrival
    # L = λ W over [0, end]: time-average WIP equals arrivals per hour times mean time in system
    assert np.isclose(k["wip_mean"], len(sojourn) / run.end * sojourn.mean())
    again = _run(process, seed, deals=150)
    assert np.array_equal(run.visits, again.visits, equal_nan=True)
