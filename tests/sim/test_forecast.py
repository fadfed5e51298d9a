"""Pipeline forecast and backtest: known answers, targets, no peeking, the CLI."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import flowsim
from flowsim.sim.backtest import backtest, history_at
from flowsim.sim.forecast import forecast, win_probabilities
from flowsim.sim.periods import calendar_periods
from tests.data import DATA

MAVEN = DATA / "maven-crm-sales-opportunities" / "sales_pipeline.csv"
AS_OF = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday

#: one stage, a fixed 10-day stay, 30% won: every open deal closes on day 10, 30% of them won
MODEL = """
process "Renewals" {{
  currency EUR
  {amount}
  {target}
}}
stage work "Work" {{ wait 10d }}
outcome won "Won" {{ result won }}
outcome lost "Lost" {{ result lost }}
work -> won 30%
work -> lost
{scenarios}
"""

SCENARIOS = """
scenario "better close" { work -> won 60% }
scenario "slower" { stage work wait * 4 }
"""


def model(amount: str = "amount 1000", target: str = "", scenarios: str = "") -> flowsim.Process:
    return flowsim.parse(MODEL.format(amount=amount, target=target, scenarios=scenarios))


def history(tmp_path: Path, *, amounts: bool = True, outcomes: bool = False) -> Path:
    """400 deals entering 'work' on 2026-01-05 and 10 won on 2026-01-02 (1,000 each).

    With ``outcomes`` the open deals also close on 2026-01-15, 120 of them won: what a
    backtest from 2026-01-05 should find.
    """
    amount = "1000" if amounts else ""
    rows = ["deal,stage,timestamp,amount"]
    for i in range(10):
        rows += [f"W{i},work,2025-12-20 00:00,{amount}", f"W{i},won,2026-01-02 00:00,{amount}"]
    for i in range(400):
        rows.append(f"D{i:03d},work,2026-01-05 00:00,{amount}")
        if outcomes:
            rows.append(f"D{i:03d},{'won' if i < 120 else 'lost'},2026-01-15 00:00,{amount}")
    path = tmp_path / "deals.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_known_answer_wins_per_week(tmp_path: Path) -> None:
    log = flowsim.read_log(history(tmp_path))
    # the model taken as the truth: simulation noise only (10 closed deals in the history
    # would make a bootstrap refit's conversion rate rightly uncertain by about a third)
    f = forecast(
        model(),
        log,
        horizon_hours=28 * 24,
        replications=100,
        seed=3,
        workers=1,
        uncertainty="simulation",
    )
    assert f.as_of.startswith("2026-01-05T00:00")  # default: the log's last event
    assert f.open_deals == 400 and f.stale_deals == 0
    assert [w.period for w in f.weeks] == ["2026-W02", "2026-W03", "2026-W04", "2026-W05"]
    # every deal closes on 2026-01-15 (week 3): Binomial(400, 0.3) wins there, none elsewhere
    w3 = f.weeks[1].wins
    assert abs(w3.mean - 120) < 4  # sd of the mean over 100 replications: 0.92
    assert w3.p10 < 120 < w3.p90
    assert 0.7 * 9.17 < (w3.p90 - w3.p10) / 2.563 < 1.3 * 9.17  # the binomial's spread
    assert all(w.wins.p90 == 0 for i, w in enumerate(f.weeks) if i != 1)
    assert f.total.wins.mean == w3.mean
    assert f.weeks[1].revenue is not None and f.weeks[1].revenue.mean == 1000 * w3.mean
    # the classic CRM number: 400 × 30% × 1,000
    assert f.weighted.stages[0].win_probability == pytest.approx(0.3)
    assert f.weighted.wins.mean == pytest.approx(120)
    assert f.weighted.revenue is not None and f.weighted.revenue.mean == pytest.approx(120_000)
    assert f.weighted.wins.p10 < 120 < f.weighted.wins.p90


def test_win_probability_through_a_loop() -> None:
    p = flowsim.parse(
        "stage a\nstage b\noutcome won { result won }\noutcome lost { result lost }\n"
        "a -> b 50%\na -> lost\nb -> won 50%\nb -> a\n"
    )
    # x_b = 0.5 + 0.5 x_a and x_a = 0.5 x_b  =>  x_b = 2/3, x_a = 1/3
    assert win_probabilities(p) == pytest.approx({"a": 1 / 3, "b": 2 / 3})


def test_target_probability_and_the_best_scenario(tmp_path: Path) -> None:
    log = flowsim.read_log(history(tmp_path))

    def run(target: str) -> Any:
        p = model(target=target, scenarios=SCENARIOS)
        return forecast(p, log, horizon_hours=28 * 24, replications=40, seed=1, workers=1)

    tiny = run("target 1 EUR per month").target
    huge = run("target 1000000000 per month").target
    assert tiny is not None and huge is not None
    assert [p.period for p in tiny.periods] == ["2026-01", "2026-02"]
    jan = tiny.periods[0]
    assert jan.already_won == 10_000  # the 10 deals won on 2026-01-02
    assert jan.probability == 1.0 and huge.periods[0].probability == 0.0
    assert not tiny.periods[1].complete  # the horizon ends on 2 February
    # 10,000 won + ~120 wins × 1,000 against 140,000: the baseline rarely reaches it; doubling
    # the win rate always does; a stay four times as long ends after the horizon
    mid = run("target 140000 EUR per month").target
    assert mid is not None
    jan = mid.periods[0]
    assert 0 < jan.probability < 0.5
    assert jan.scenarios == {"better close": 1.0, "slower": 0.0}
    assert mid.best_scenario == "better close"
    assert mid.best_gain is not None and mid.best_gain > 0.2


def test_counts_only_without_amounts(tmp_path: Path) -> None:
    log = flowsim.read_log(history(tmp_path, amounts=False))
    p = model(amount="", target="target 5 per week")
    f = forecast(p, log, horizon_hours=14 * 24, replications=5, workers=1)
    assert not f.revenue_known and f.total.revenue is None and f.target is None
    assert f.weighted.revenue is None
    assert any("deal counts only" in n for n in f.notes)
    assert "revenue" not in f.text().split("Weighted")[0]


def test_run_rate_from_a_short_history_and_no_seasonal_naive(tmp_path: Path) -> None:
    """The wins start on 2025-12-21 (4 deals): two whole weeks before 2026-01-05, with 0 and
    10 wins. The run-rate carries 5 a week forward; its bootstrap draws 0 or 10 per week."""
    rows = ["deal,stage,timestamp,amount", "OPEN,work,2026-01-04 00:00,500"]
    rows += [f"F{i},won,2025-12-21 12:00,1000" for i in range(4)]
    rows += [f"W{i},won,2026-01-02 00:00,1000" for i in range(10)]
    path = tmp_path / "short.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    log = flowsim.read_log(path)
    f = forecast(model(), log, horizon_hours=14 * 24, as_of=AS_OF, replications=5, workers=1)
    rate = next(b for b in f.baselines if b.method == "run_rate")
    assert "the last 2 weeks" in rate.description and "13 asked" in rate.description
    assert rate.total.wins.mean == pytest.approx(10) and rate.total.revenue is not None
    assert rate.total.revenue.mean == pytest.approx(10_000)
    assert [w.wins.mean for w in rate.weeks] == pytest.approx([5, 5])
    assert rate.total.wins.p10 == 0 and rate.total.wins.p90 == 20
    assert [b.method for b in f.baselines] == ["run_rate"]
    assert any("seasonal naive: the history's wins cover neither" in n for n in f.notes)


def test_seasonal_naive_is_the_window_one_quarter_earlier(tmp_path: Path) -> None:
    """One deal won every day from 2025-09-01: 126 days before 2026-01-05 (a quarter, not a
    year). Each whole week of a 28-day horizon gets 7 wins from 13 weeks earlier; the run-rate
    carries 7 a week with no spread."""
    rows = ["deal,stage,timestamp,amount", "OPEN,work,2026-01-04 00:00,500"]
    for i in range(126):
        day = datetime(2025, 9, 1, 10, tzinfo=UTC) + timedelta(days=i)
        rows += [f"D{i},work,{day - timedelta(hours=1):%Y-%m-%d %H:%M},{100 + i}"]
        rows += [f"D{i},won,{day:%Y-%m-%d %H:%M},{100 + i}"]
    path = tmp_path / "daily.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    f = forecast(
        model(), flowsim.read_log(path), horizon_hours=28 * 24, as_of=AS_OF, replications=3
    )
    naive = next(b for b in f.baselines if b.method == "seasonal_naive")
    assert naive.point_only and "one quarter (13 weeks) earlier, 2025-10-06" in naive.description
    assert [w.wins.p50 for w in naive.weeks] == [7, 7, 7, 7]
    assert naive.total.revenue is not None  # deals 35..62 were won 2025-10-06 .. 11-02
    assert naive.total.revenue.mean == sum(100 + i for i in range(35, 63))
    rate = next(b for b in f.baselines if b.method == "run_rate")
    assert rate.total.wins.p10 == rate.total.wins.p90 == pytest.approx(28)


def test_calendar_periods_cut_the_window_at_boundaries() -> None:
    start = datetime(2026, 3, 28, 12, tzinfo=UTC)
    weeks = calendar_periods(start, 10 * 24, "week", "Europe/Berlin")
    assert [w.period for w in []] == []
    assert [w.label for w in weeks] == ["2026-W13", "2026-W14", "2026-W15"]
    assert weeks[0].lo == 0 and not weeks[0].whole and weeks[1].whole
    # Monday 30 March 00:00 in Berlin (summer time since the 29th) is 22:00 UTC on the 29th
    assert weeks[1].lo == pytest.approx(34)
    quarters = calendar_periods(start, 10 * 24, "quarter", "UTC")
    assert [q.label for q in quarters] == ["2026-Q1", "2026-Q2"]


def test_history_at_hides_the_future() -> None:
    log = flowsim.read_log(MAVEN)
    when = datetime(2017, 7, 1, tzinfo=UTC)
    process = flowsim.discover(history_at(log, when)).process
    cut = history_at(log, when, process)
    assert cut.frame["entered_at"].max() <= when  # type: ignore[operator]
    closed = cut.frame.filter(pl.col("stage").is_in(["Won", "Lost"]))["deal"].unique()
    open_rows = cut.frame.filter(~pl.col("deal").is_in(closed.to_list()))
    assert open_rows.height > 1000 and open_rows["amount"].null_count() == open_rows.height


def test_backtest_on_maven_fits_on_the_past_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import flowsim.history.discover as disc

    seen: list[datetime] = []
    real = disc.discover

    def spy(log: Any, **kw: Any) -> Any:
        seen.append(log.frame["entered_at"].max())
        return real(log, **kw)

    monkeypatch.setattr(disc, "discover", spy)
    when = datetime(2017, 7, 1, tzinfo=UTC)
    log = flowsim.read_log(MAVEN)
    b = backtest(None, log, when, 60 * 24, replications=8, seed=0, workers=2)
    assert seen and all(t <= when for t in seen)  # discovery saw nothing after as_of
    assert b.forecast.open_deals > 1000
    actual = log.frame.filter(
        (pl.col("stage") == "Won")
        & (pl.col("entered_at") > when)
        & (pl.col("entered_at") <= datetime(2017, 8, 30, tzinfo=UTC))
    )
    assert b.actual_total.wins == actual.height
    assert b.actual_total.revenue == pytest.approx(actual["amount"].sum())
    # the split, straight from the CSV: won in (as_of, as_of + 60 days], engaged by as_of
    # (open at the cutoff) or after it (created after it)
    raw = pl.read_csv(MAVEN, try_parse_dates=True).filter(
        (pl.col("deal_stage") == "Won")
        & (pl.col("close_date") > when.date())
        & (pl.col("close_date") <= datetime(2017, 8, 30).date())
    )
    old = raw.filter(pl.col("engage_date") <= when.date())
    new = raw.filter(pl.col("engage_date") > when.date())
    assert old.height > 300 and new.height > 300  # both parts matter on Maven
    assert b.actual("existing").total.wins == old.height
    assert b.actual("new").total.wins == new.height
    assert b.actual("existing").total.revenue == pytest.approx(old["close_value"].sum())
    assert b.actual("new").total.revenue == pytest.approx(new["close_value"].sum())
    split = b.forecast.split
    assert split is not None and split.open_deals == b.forecast.open_deals - b.forecast.stale_deals
    assert split.existing.wins.mean + split.new.wins.mean == pytest.approx(
        b.forecast.total.wins.mean
    )
    assert {(s.method, s.measure, s.view) for s in b.scores} >= {
        (m, q, v)
        for m in ("monte_carlo", "weighted_pipeline", "run_rate", "seasonal_naive")
        for q in ("wins", "revenue")
        for v in ("week", "month", "total")
    }
    for s in b.scores:
        if s.view != "month":  # July is the only whole month of the window
            assert s.mape is not None and math.isfinite(s.mape), s
            assert s.crps is not None and s.crps >= 0, s
        if s.method == "seasonal_naive":  # a point forecast: no band, CRPS = absolute error
            assert s.coverage is None and s.pit == []
        else:
            assert s.coverage is not None and 0 <= s.coverage <= 1
            assert len(s.pit) == s.periods
    assert "Backtest from 2017-07-01" in b.text()
    with pytest.raises(ValueError, match="after the history's last event"):
        backtest(None, log, datetime(2017, 12, 1, tzinfo=UTC), 60 * 24)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("flowsim", path=str(Path(sys.executable).parent)) or "flowsim"
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, encoding="utf-8", check=False
    )


def test_cli_forecast_backtest_and_json_determinism(tmp_path: Path) -> None:
    flow = tmp_path / "renewals.flow"
    flow.write_text(
        MODEL.format(amount="amount 1000", target="target 100000 per month", scenarios=""),
        encoding="utf-8",
    )
    deals = str(history(tmp_path, outcomes=True))
    common = ("forecast", str(flow), "--history", deals, "-n", "20", "-q")
    one = ("--workers", "1")
    r = _cli(*common, *one, "--as-of", "2026-01-05", "--horizon", "10d")
    assert r.returncode == 0, r.stderr
    assert "Weighted pipeline" in r.stdout and "Target 100,000 EUR per month" in r.stdout
    assert "Backtest from 2026-01-05" in r.stdout
    outs = []
    for workers in ("1", "2"):
        out = tmp_path / f"f{workers}.json"
        r = _cli(
            *common,
            "--as-of",
            "2026-01-05",
            "--horizon",
            "10d",
            "--format",
            "json",
            "--workers",
            workers,
            "-o",
            str(out),
        )
        assert r.returncode == 0, r.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    data = json.loads(outs[0])
    assert data["backtest"]["actual_total"]["wins"] == 120
    assert abs(data["forecast"]["total"]["wins"]["mean"] - 120) < 10
    # a horizon past the end of the data: a forecast only, and a note saying why
    r = _cli(*common, *one, "--as-of", "2026-01-10", "--horizon", "30d", "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["backtest"] is None and "no backtest" in data["forecast"]["notes"][-1]


def test_cli_bad_input(tmp_path: Path) -> None:
    flow = tmp_path / "renewals.flow"
    flow.write_text(MODEL.format(amount="", target="", scenarios=""), encoding="utf-8")
    deals = str(history(tmp_path))
    r = _cli("forecast", str(flow), "--history", deals, "--horizon", "soon")
    assert r.returncode == 2 and "is not a duration" in r.stderr
    r = _cli("forecast", str(flow), "--history", deals, "--as-of", "yesterday")
    assert r.returncode == 2 and "--as-of" in r.stderr
    r = _cli("forecast", str(flow), "--history", str(tmp_path / "none.csv"))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    empty = tmp_path / "other.flow"
    empty.write_text("stage a\noutcome won { result won }\na -> won\n", encoding="utf-8")
    r = _cli("forecast", str(empty), "--history", deals, "-q")
    assert r.returncode == 1 and "nothing to forecast" in r.stderr


def test_new_deals_follow_the_arrival_profile_and_its_trend(tmp_path: Path) -> None:
    """New deals arrive on weekdays only and 20% more each month, the trend carried past the
    history: the wins they bring within the horizon match 30% of the profile's expected
    arrivals (integrated exactly), and "new deals a week" is the profile's mean there."""
    from flowsim.model import RateArrivals
    from flowsim.sim.arrivals import ArrivalClock

    text = MODEL.format(
        amount="amount 1000\n  arrivals 70 per week weekdays Mon-Fri 1 trend +20% per month "
        "from 2025-12-05",
        target="",
        scenarios="",
    )
    p = flowsim.parse(text)
    log = flowsim.read_log(history(tmp_path))
    f = forecast(
        p, log, horizon_hours=28 * 24, replications=60, seed=5, workers=1, uncertainty="simulation"
    )
    a = p.arrivals
    assert isinstance(a, RateArrivals) and a.profile is not None
    clock = ArrivalClock(a.profile, AS_OF)
    assert f.arrivals_per_week == pytest.approx(a.per_hour * clock.integral(0, 28 * 24) / 4)
    assert f.arrivals_per_week > 70 * 1.2  # a month after the trend's date, and growing
    # deals arriving in the first 18 days close (10 days later) inside the horizon
    expected_new_wins = 0.3 * a.per_hour * clock.integral(0, 18 * 24)
    new_wins = f.total.wins.mean - 120  # the 400 open deals bring 120
    assert new_wins == pytest.approx(expected_new_wins, rel=0.06)
