"""Existing against new deals: every forecast splits its wins and revenue into those from
today's open pipeline and those from deals not yet created, and the backtest scores each part
against the actuals split the same way (deals recorded by the as-of date against deals created
after it)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

import flowsim
from flowsim.sim.backtest import backtest
from flowsim.sim.forecast import forecast
from flowsim.sim.rolling import rolling_backtest

AS_OF = datetime(2026, 1, 5, tzinfo=UTC)

#: a fixed 10-day stay, 30% won, and one new deal a day: of the 27 new deals of a 28-day
#: horizon, those arriving on days 1..18 close inside it (5.4 wins expected); the 400 deals
#: open on day 0 all close on day 10 (Binomial(400, 30%): 120 expected)
MODEL = """
process "Renewals" {
  currency EUR
  amount 1000
  arrivals every 1d
}
stage work "Work" { wait 10d }
outcome won "Won" { result won }
outcome lost "Lost" { result lost }
work -> won 30%
work -> lost
"""


def history(tmp_path: Path, *, after: bool = False) -> flowsim.DealLog:
    """400 deals open from 2026-01-05 and 10 won before. With ``after``, what happened next:
    120 of the 400 won on 01-15 (1,000 each); 10 new deals created on 01-08, 4 of them won
    on 01-20 (500 each); and a last record on 03-01 so that a 28-day horizon is inside."""
    rows = ["deal,stage,timestamp,amount"]
    for i in range(10):
        rows += [f"W{i},work,2025-12-20 00:00,1000", f"W{i},won,2026-01-02 00:00,1000"]
    for i in range(400):
        rows.append(f"D{i:03d},work,2026-01-05 00:00,1000")
        if after:
            rows.append(f"D{i:03d},{'won' if i < 120 else 'lost'},2026-01-15 00:00,1000")
    if after:
        for i in range(10):
            rows.append(f"N{i},work,2026-01-08 00:00,500")
            rows.append(f"N{i},{'won' if i < 4 else 'lost'},2026-01-20 00:00,500")
        rows.append("Z,work,2026-03-01 00:00,1")
    path = tmp_path / "deals.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return flowsim.read_log(path)


def test_the_forecast_splits_open_pipeline_and_new_deals(tmp_path: Path) -> None:
    f = forecast(
        flowsim.parse(MODEL),
        history(tmp_path),
        horizon_hours="28d",
        replications=100,
        seed=3,
        workers=1,
        uncertainty="simulation",  # the model taken as the truth
    )
    split = f.split
    assert split is not None and split.open_deals == 400
    old, new = split.existing.wins, split.new.wins
    assert abs(old.mean - 120) < 3  # Binomial(400, 0.3): sd of the mean over 100 runs 0.92
    assert old.p10 < 120 < old.p90
    assert abs(new.mean - 5.4) < 0.7  # Binomial(18, 0.3): sd of the mean 0.19
    assert new.p10 <= 5.4 <= new.p90
    # per replication the parts add up to the total, so their means do
    assert old.mean + new.mean == pytest.approx(f.total.wins.mean)
    assert split.existing.revenue is not None and split.new.revenue is not None
    assert split.existing.revenue.mean == pytest.approx(1000 * old.mean)
    assert split.existing.revenue.mean + split.new.revenue.mean == pytest.approx(
        f.total.revenue.mean if f.total.revenue else 0.0
    )
    # by month: the open deals all close on 01-15, so February has none of theirs
    assert [p.period for p in split.existing_months] == ["2026-01", "2026-02"]
    assert split.existing_months[1].wins.p90 == 0
    assert sum(p.wins.mean for p in split.new_months) == pytest.approx(new.mean)
    text = f.text()
    assert "Where the wins come from" in text
    assert "open pipeline (400 deals)" in text and "new deals (7.0 a week)" in text
    data = f.model_dump(mode="json")["split"]
    assert data["existing"]["wins"]["mean"] == old.mean


def test_without_arrivals_every_win_comes_from_the_open_pipeline(tmp_path: Path) -> None:
    process = flowsim.parse(MODEL.replace("arrivals every 1d", ""))
    f = forecast(process, history(tmp_path), horizon_hours="28d", replications=20, workers=1)
    assert f.split is not None
    assert f.split.new.wins.p90 == 0 and f.split.new.wins.mean == 0
    assert f.split.existing.wins.mean == f.total.wins.mean


def test_the_backtest_scores_each_part_against_its_actuals(tmp_path: Path) -> None:
    b = backtest(
        flowsim.parse(MODEL),
        history(tmp_path, after=True),
        AS_OF,
        "28d",
        replications=40,
        seed=1,
        workers=1,
        uncertainty="simulation",
    )
    old, new = b.actual("existing"), b.actual("new")
    assert (old.total.wins, old.total.revenue) == (120, 120_000)
    assert (new.total.wins, new.total.revenue) == (4, 2_000)
    assert old.total.wins + new.total.wins == b.actual_total.wins
    # the weeks of each part: the open deals won in W03 (01-15), the new ones in W04 (01-20)
    assert [a.wins for a in old.weeks] == [0, 120, 0, 0]
    assert [a.wins for a in new.weeks] == [0, 0, 4, 0]
    parts = {(s.method, s.part) for s in b.split_scores}
    assert parts == {
        ("monte_carlo", "existing"),
        ("monte_carlo", "new"),
        ("weighted_pipeline", "existing"),  # the CRM number values today's pipeline only
    }
    mc_old = b.score("monte_carlo", "wins", "total", "existing")
    assert mc_old.mape is not None and mc_old.mape < 0.1  # about 120 against 120
    assert b.score("weighted_pipeline", "wins", "total", "existing").mape == pytest.approx(0)
    mc_new = b.score("monte_carlo", "wins", "total", "new")
    assert mc_new.crps is not None and mc_new.periods == 1
    assert b.score("monte_carlo", "wins", "total").part == "all"  # the unsplit scores stay
    text = b.text()
    assert "Open pipeline against new deals" in text
    with pytest.raises(KeyError):
        b.score("run_rate", "wins", "total", "new")


def test_the_rolling_backtest_summarises_each_part(tmp_path: Path) -> None:
    cutoffs = [AS_OF, datetime(2026, 1, 6, tzinfo=UTC)]
    r = rolling_backtest(
        flowsim.parse(MODEL),
        history(tmp_path, after=True),
        cutoffs,
        horizon_hours="28d",
        replications=10,
        workers=1,
        uncertainty="simulation",
    )
    row = r.summary_of("monte_carlo", "wins", "total", "new")
    assert row.cutoffs == 2 and row.part == "new"
    assert r.summary_of("weighted_pipeline", "wins", "total", "existing").mape == pytest.approx(0)
    assert "Wins over the horizon by source" in r.text()
    # 2026-01-06: the 10 new deals (created 01-08) are still new
    assert [b.actual("new").total.wins for b in r.backtests] == [4, 4]
