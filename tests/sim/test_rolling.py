"""Rolling-origin backtest: cutoffs, every method scored at each, the summary; on Maven CRM the
actuals and the baselines are cross-checked with polars directly."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

import flowsim
from flowsim.sim.rolling import monthly_cutoffs, rolling_backtest
from tests.data import DATA

MAVEN = DATA / "maven-crm-sales-opportunities" / "sales_pipeline.csv"


def _log(tmp_path: Path, first: str, last: str) -> flowsim.DealLog:
    rows = ["deal,stage,timestamp", f"A,work,{first}", f"A,won,{last}"]
    path = tmp_path / "two.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return flowsim.read_log(path)


def test_monthly_cutoffs_start_a_quarter_in_and_keep_the_horizon_inside(tmp_path: Path) -> None:
    log = _log(tmp_path, "2025-01-10 09:00", "2025-12-20 09:00")
    cuts = monthly_cutoffs(log, 60 * 24)
    # 2025-01-10 + 91 days = 2025-04-11: the first month start after it is May;
    # the last cutoff's 60 days end by 2025-12-20: 2025-10-01 (+60 d = 11-30)
    assert [c.strftime("%Y-%m-%d") for c in cuts] == [f"2025-{m:02d}-01" for m in range(5, 11)]
    assert all(c.tzinfo is not None and c.hour == 0 for c in cuts)
    given = monthly_cutoffs(log, 60 * 24, start=datetime(2025, 3, 1, tzinfo=UTC))
    assert given[0] == datetime(2025, 3, 1, tzinfo=UTC) and given[-1] == cuts[-1]


def test_bad_cutoffs_are_refused(tmp_path: Path) -> None:
    log = _log(tmp_path, "2025-01-10 09:00", "2025-03-01 09:00")
    with pytest.raises(ValueError, match="too short for a monthly cutoff"):
        rolling_backtest(None, log, "monthly", horizon_hours="30d")
    with pytest.raises(ValueError, match="'monthly' or a list of dates"):
        rolling_backtest(None, log, "weekly", horizon_hours="30d")  # type: ignore[arg-type]


def _weekly_wins(frame: pl.DataFrame, lo: datetime, hi: datetime) -> dict[str, int]:
    """Deals won in (lo, hi] per ISO week, straight from the file's records."""
    won = frame.filter(
        (pl.col("stage") == "Won") & (pl.col("entered_at") > lo) & (pl.col("entered_at") <= hi)
    )
    weeks = won.group_by(pl.col("entered_at").dt.strftime("%G-W%V").alias("w")).len()
    return dict(weeks.iter_rows())


def test_rolling_backtest_on_maven_three_monthly_cutoffs() -> None:
    log = flowsim.read_log(MAVEN)
    start = datetime(2017, 10, 1, tzinfo=UTC)
    r = rolling_backtest(
        None, log, "monthly", start=start, horizon_hours="28d", replications=8, workers=2
    )
    assert [b.as_of[:10] for b in r.backtests] == ["2017-10-01", "2017-11-01", "2017-12-01"]
    frame = log.frame
    for b in r.backtests:
        as_of = datetime.fromisoformat(b.as_of)
        end = as_of + timedelta(days=28)
        polars_weeks = _weekly_wins(frame, as_of, end)
        whole = [a for a in b.actual_weeks if a.whole]
        assert len(whole) == 3
        assert [a.wins for a in whole] == [polars_weeks[a.period] for a in whole]
        assert b.actual_total.wins == sum(polars_weeks.values())
        # run-rate: the wins of the 13 weeks before the cutoff, 28 days' worth
        before = frame.filter(
            (pl.col("stage") == "Won")
            & (pl.col("entered_at") > as_of - timedelta(weeks=13))
            & (pl.col("entered_at") <= as_of)
        )
        rate = next(x for x in b.forecast.baselines if x.method == "run_rate")
        assert rate.total.wins.mean == pytest.approx(before.height / 13 * 4)
        # seasonal naive: Maven's wins start 2017-03-01: one quarter (91 days) earlier
        naive = next(x for x in b.forecast.baselines if x.method == "seasonal_naive")
        lag = as_of - timedelta(days=91)
        assert naive.total.wins.mean == sum(_weekly_wins(frame, lag, lag + timedelta(28)).values())
        crps = b.score("seasonal_naive", "wins", "total").crps
        assert crps == pytest.approx(abs(naive.total.wins.mean - b.actual_total.wins))
    _check_summary(r)
    assert "Rolling backtest: 3 cutoffs from 2017-10-01 to 2017-12-01" in r.text()


def _check_summary(r: flowsim.RollingBacktest) -> None:
    """The summary is the per-cutoff scores, aggregated."""
    for method in ("weighted_pipeline", "run_rate", "seasonal_naive"):
        row = r.summary_of(method, "wins", "total")
        mine = [b.score(method, "wins", "total") for b in r.backtests]
        mc = [b.score("monte_carlo", "wins", "total") for b in r.backtests]
        assert row.cutoffs == 3
        assert row.mape == pytest.approx(sum(s.mape or 0 for s in mine) / 3)
        wins = sum((m.mape or 0) <= (s.mape or 0) for m, s in zip(mc, mine, strict=True))
        assert row.mc_mape_wins == pytest.approx(wins / 3)
    week = r.summary_of("monte_carlo", "wins", "week")
    assert sum(week.pit_histogram) == 9  # 3 whole weeks at each of 3 cutoffs
    per_cutoff = [b.score("monte_carlo", "wins", "week").coverage or 0 for b in r.backtests]
    assert week.coverage == pytest.approx(sum(per_cutoff) / 3)
    assert r.summary_of("seasonal_naive", "wins", "week").coverage is None


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("flowsim", path=str(Path(sys.executable).parent)) or "flowsim"
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, encoding="utf-8", check=False
    )


def test_cli_forecast_backtest_monthly(tmp_path: Path) -> None:
    """`flowsim forecast --history LOG --backtest monthly`: the model discovered before each
    cutoff; the JSON's actual wins are the polars counts."""
    out = tmp_path / "rolling.json"
    args = ["forecast", "--history", str(MAVEN), "--backtest", "monthly", "--horizon", "28d"]
    args += ["--backtest-from", "2017-10-01", "-n", "6", "-q", "--format", "json", "-o", str(out)]
    r = _cli(*args)
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    cutoffs = [b["as_of"][:10] for b in data["backtests"]]
    assert cutoffs == ["2017-10-01", "2017-11-01", "2017-12-01"]
    assert data["model"] == "discovered before each cutoff" and data["replications"] == 6
    frame = flowsim.read_log(MAVEN).frame
    for b in data["backtests"]:
        as_of = datetime.fromisoformat(b["as_of"])
        won = _weekly_wins(frame, as_of, as_of + timedelta(days=28))
        assert b["actual_total"]["wins"] == sum(won.values())
    methods = {s["method"] for s in data["summary"]}
    assert methods == {"monte_carlo", "weighted_pipeline", "run_rate", "seasonal_naive"}


def test_cli_forecast_backtest_usage_errors() -> None:
    base = ["forecast", "--history", str(MAVEN)]
    r = _cli(*base)
    assert r.returncode == 2 and "give the model FILE" in r.stderr
    r = _cli(*base, "--backtest", "monthly", "--as-of", "2017-07-01")
    assert r.returncode == 2 and "--as-of and --backtest" in r.stderr
    r = _cli(*base, "--backtest", "2017-06-01,someday")
    assert r.returncode == 2 and "--backtest" in r.stderr
