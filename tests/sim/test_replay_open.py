"""Replay: deals open at the end of history work and wait like the others, and new wins pay.

Hand-computed cases on small logs built here, then the same checks on real exports (Olist,
Maven CRM) cross-checked with polars directly.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import flowsim
from flowsim.sim.replay import prepare_replay, win_value
from flowsim.sim.simulate import simulate
from tests.data import DATA

OLIST = DATA / "olist-marketing-funnel" / "olist_marketing_qualified_leads_dataset.csv"
MAVEN = DATA / "maven-crm-sales-opportunities" / "sales_pipeline.csv"

MODEL = """
process "open deals" {{
  {amount}
}}
role rep "Rep" headcount {headcount}
stage work {{
  owner rep
  effort 10h
}}
outcome won
outcome lost
work -> won 50%
work -> lost
scenario "always win" {{ work -> won 100% }}
"""


def _model(headcount: int = 8, amount: str = "") -> flowsim.Process:
    return flowsim.parse(MODEL.format(headcount=headcount, amount=amount))


def _log(tmp_path: Path, rows: list[str]) -> flowsim.DealLog:
    path = tmp_path / "deals.csv"
    path.write_text("deal,stage,timestamp,amount\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return flowsim.read_log(path)


def _open_log(tmp_path: Path) -> flowsim.DealLog:
    """8 deals enter 'work' on Monday 2026-01-05 00:00; 6 of them are still open at the end.

    C1 is won and C2 lost the next day; E enters on 01-14 and is won on 01-15 00:00, the end
    of history (240 hours after the first entry).
    """
    rows = [
        "C1,work,2026-01-05 00:00,1000",
        "C1,won,2026-01-06 00:00,1000",
        "C2,work,2026-01-05 00:00,0",
        "C2,lost,2026-01-06 00:00,0",
        "E,work,2026-01-14 00:00,1000",
        "E,won,2026-01-15 00:00,1000",
    ]
    rows += [f"O{i},work,2026-01-05 00:00," for i in range(1, 7)]
    return _log(tmp_path, rows)


def _role(result: flowsim.SimulationResult, kpi: str) -> float:
    value = result.baseline.roles["rep"][kpi].mean
    assert value is not None
    return value


def test_open_deals_hold_their_owner_from_entry(tmp_path: Path) -> None:
    log = _open_log(tmp_path)
    # 8 reps: nobody waits. Each of the 9 deals takes its rep for the model's 10 h of effort,
    # the 6 open ones included (before, only the 3 closed deals' 30 h were counted)
    free = simulate(_model(8), log, replications=1, workers=1)
    assert _role(free, "busy_hours") == pytest.approx(9 * 10.0)
    assert _role(free, "available_hours") == pytest.approx(8 * 240.0)
    assert _role(free, "utilization") == pytest.approx(90 / 1920)
    assert _role(free, "queue_mean") == 0.0
    # 2 reps: C1 and C2 work 0-10 h, then O1 and O2 10-20 h, O3 and O4 20-30 h, O5 and O6
    # 30-40 h: 2 x (10 + 20 + 30) = 120 deal-hours of queue over the 240 h window
    tight = simulate(_model(2), log, replications=1, workers=1)
    assert _role(tight, "busy_hours") == pytest.approx(90.0)
    assert _role(tight, "queue_mean") == pytest.approx(120 / 240)
    assert _role(tight, "queue_max") == 6.0
    work = tight.event_log.frame.filter(
        pl.col("stage") == "work", pl.col("deal").str.starts_with("O")
    )
    started = sorted(
        ((work["started_at"] - work["entered_at"]).dt.total_seconds() / 3600).to_list()
    )
    assert started == pytest.approx([10, 10, 20, 20, 30, 30])


def test_open_deals_stay_open_through_history_then_finish_by_the_model(tmp_path: Path) -> None:
    log = _open_log(tmp_path)
    result = simulate(_model(2), log, replications=1, workers=1, seed=3)
    k = result.baseline.kpis
    # the window is history's: what closed in it is what history closed
    assert (k["won"].mean, k["lost"].mean, k["open_at_end"].mean) == (2, 1, 6)
    end = log.frame["entered_at"].max()
    frame = result.event_log.frame
    opened = frame.filter(pl.col("deal").str.starts_with("O"))
    stays = opened.filter(pl.col("stage") == "work")
    # each open deal's stay outlasts the end of history, then the model routes it to an outcome
    assert stays.height == 6
    assert (stays["left_at"] > end).all()
    closed = opened.filter(pl.col("stage").is_in(["won", "lost"]))
    assert closed.height == 6
    assert (closed["entered_at"] > end).all()


def test_revenue_of_a_deal_a_scenario_wins(tmp_path: Path) -> None:
    """10 won deals (1,000 and 2,000 alternately) and 10 lost ones with amount 0, as Maven.

    20 reps: nobody waits, so every deal closes when history says, inside the window.
    """
    rows = []
    for i in range(20):
        result, amount = ("won", 1000 * (1 + i % 2)) if i < 10 else ("lost", 0)
        rows += [
            f"D{i:02d},work,2026-01-05 00:00,{amount}",
            f"D{i:02d},{result},2026-01-07,{amount}",
        ]
    log = _log(tmp_path, rows)
    assert prepare_replay(log, _model()).won_amount == 1500.0

    def revenue_gain(process: flowsim.Process) -> tuple[float, float]:
        r = simulate(process, log, scenarios=["always win"], replications=2, workers=1)
        won, revenue = r.scenarios[1].deltas["won"], r.scenarios[1].deltas["revenue"]
        return won.mean, revenue.mean

    # the 10 lost deals become wins; their 0 is not an amount: without one in the model,
    # each brings history's mean won amount
    assert revenue_gain(_model(20)) == (10, 10 * 1500.0)
    # the model's amount comes first
    assert revenue_gain(_model(20, amount="amount 400")) == (10, 10 * 400.0)


def test_a_deals_own_amount_comes_first_and_zero_is_no_amount() -> None:
    def model() -> float:
        return 400.0

    assert win_value(700.0, model, 1500.0) == 700.0
    assert win_value(0.0, model, 1500.0) == 400.0
    assert win_value(float("nan"), None, 1500.0) == 1500.0
    assert win_value(0.0, None, float("nan")) != win_value(0.0, None, float("nan"))  # NaN


OLIST_MODEL = """
process "olist" {{ }}
role sr "Sales rep" headcount {headcount}
stage MQL {{
  owner sr
  effort 1h
  wait lognormal(mean 1363h, sd 180d)
}}
outcome won
outcome lost
MQL -> won 10%
MQL -> lost
"""


def test_olist_open_leads_load_the_reps_and_headcount_matters() -> None:
    log = flowsim.read_log(OLIST, lenient=True)
    leads = pl.read_csv(OLIST)["mql_id"].n_unique() - 1  # one lead skipped: won before contact
    assert log.deals == leads == 7999

    def run(headcount: int) -> flowsim.SimulationResult:
        process = flowsim.parse(OLIST_MODEL.format(headcount=headcount))
        return simulate(process, log, replications=2, workers=1)

    many, few = run(22), run(4)
    # every lead, open or won, takes an hour of a rep's time inside history's window
    # (before: only the 841 won ones, 841 h)
    for result in (many, few):
        assert result.baseline.roles["sr"]["busy_hours"].mean == pytest.approx(leads, abs=1)
    hours = many.horizon_hours
    assert many.baseline.roles["sr"]["utilization"].mean == pytest.approx(leads / (22 * hours))
    # leads arrive at midnight (first_contact_date is a date), up to dozens a day: 4 reps
    # keep them waiting for hours, 22 hardly
    q_many = many.baseline.roles["sr"]["queue_mean"].mean
    q_few = few.baseline.roles["sr"]["queue_mean"].mean
    assert q_few > 5 * q_many


def test_maven_lost_deals_turned_into_wins_bring_revenue() -> None:
    log = flowsim.read_log(MAVEN, lenient=True)
    process = flowsim.discover(log).process
    text = process.to_flow() + '\nscenario "more wins" { Engaging -> Won 80% }\n'
    process = flowsim.parse(text)
    frame = pl.read_csv(MAVEN)
    won_mean = frame.filter(pl.col("deal_stage") == "Won")["close_value"].mean()
    assert prepare_replay(log, process).won_amount == pytest.approx(won_mean)
    result = simulate(process, log, scenarios=["more wins"], replications=3, workers=1)
    d = result.scenarios[1].deltas
    assert d["won"].mean > 300
    # each new win is a lost deal (close_value 0) or an open one without a value: it brings
    # history's mean won value, so revenue rises by that much per extra win in the window
    assert d["revenue"].mean == pytest.approx(d["won"].mean * won_mean, rel=0.05)
