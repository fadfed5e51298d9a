"""`flowsim run` with a history long enough: the forecast is backtested from one horizon
before the history's end, and the report shows the fan of that backtest with what happened,
the calibration chart, and the verdict against the baselines."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import flowsim
from flowsim.report.build import build_report

ROOT = Path(__file__).resolve().parents[2]
B2B = ROOT / "examples" / "b2b-cn.flow"
HISTORY = ROOT / "examples" / "history" / "b2b-cn-deals.csv"


def test_the_report_backtests_its_forecast(tmp_path: Path) -> None:
    log = flowsim.read_log(HISTORY, tz="Asia/Shanghai")
    report = build_report(B2B, log, tmp_path / "r", lang="en", replications=2, workers=1, budget=1)
    keys = [s.key for s in report.sections]
    # after the forecast: the backtest's fan, then its calibration
    assert keys.index("forecast") + 1 == keys.index("backtest")
    assert keys.index("backtest") + 1 == keys.index("calibration")
    scored = report.results["backtest"]
    # 26 weeks of history to 2025-11-30: 90 days back, at midnight UTC
    assert scored["as_of"].startswith("2025-09-01T08:00:00+08:00")
    section = next(s for s in report.sections if s.key == "backtest")
    assert "90-day error of the wins: Monte Carlo" in section.text
    assert "Verdict: the Monte Carlo" in section.text
    verdict = scored["verdict"]
    mc = verdict["errors"]["monte_carlo"]
    assert verdict["not_beaten"] == [
        m for m, e in verdict["errors"].items() if m != "monte_carlo" and e is not None and e < mc
    ]
    if verdict["not_beaten"]:
        assert "does not beat" in section.text
    weeks = scored["actual_weeks"]
    svg = (tmp_path / "r" / "backtest.svg").read_text(encoding="utf-8")
    ET.fromstring(svg.encode("utf-8"))  # well-formed
    assert "P25–P75" in svg and "<!-- actual -->" in svg
    assert len(weeks) == 13  # 90 days from a Monday: 12 whole weeks and a part
    calibration = (tmp_path / "r" / "calibration.svg").read_text(encoding="utf-8")
    assert "<!-- calibrated -->" in calibration and "<!-- Monte Carlo -->" in calibration
    saved = json.loads((tmp_path / "r" / "results.json").read_text(encoding="utf-8"))
    assert saved["backtest"]["actual_total"] == scored["actual_total"]
    html = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    assert 'id="calibration"' in html and 'id="backtest"' in html


def test_no_backtest_when_the_history_is_shorter_than_the_horizon(tmp_path: Path) -> None:
    log = flowsim.read_log(HISTORY, tz="Asia/Shanghai").filter(start="2025-10-01")
    report = build_report(B2B, log, tmp_path / "r", replications=2, workers=1, budget=1)
    assert "backtest" not in report.results
    assert not {"backtest", "calibration"} & {s.key for s in report.sections}


def test_monthly_backtests_pool_the_calibration_and_none_skips_them(tmp_path: Path) -> None:
    log = flowsim.read_log(HISTORY, tz="Asia/Shanghai")
    report = build_report(
        B2B, log, tmp_path / "m", lang="en", replications=2, workers=1, budget=1,
        backtest="monthly",
    )  # fmt: skip
    rolled = report.results["rolling_backtest"]
    # a quarter of history behind the first cutoff, 90 days after the last: 2025-09-01 only
    assert [c[:10] for c in rolled["cutoffs"]] == ["2025-09-01"]
    assert report.results["backtest"]["as_of"] == rolled["cutoffs"][-1]
    section = next(s for s in report.sections if s.key == "backtest")
    assert section.text.startswith("Over 1 monthly backtests (2025-09-01 to 2025-09-01)")
    assert "Verdict: on average over these backtests the Monte Carlo" in section.text
    assert {s["method"] for s in rolled["summary"]} >= {"monte_carlo", "run_rate"}
    skipped = build_report(
        B2B, log, tmp_path / "n", replications=2, workers=1, budget=1, backtest="none"
    )
    assert "backtest" not in skipped.results
    assert not {"backtest", "calibration"} & {s.key for s in skipped.sections}
