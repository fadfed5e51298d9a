"""What-if forecasts: a scenario's wins and revenue against the model's, replication by
replication on the same random numbers, so that "two more presales" reads as "+X over the
horizon, 80% interval [a, b]" with an interval that holds the scenario's effect, not the runs'
noise."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import flowsim
from flowsim.errors import UnknownScenario
from flowsim.sim.forecast import forecast

#: a fixed 10-day stay and one new deal a day; the scenarios change nothing, the close rate,
#: or the arrivals
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
scenario "nothing" { stage work wait * 1 }
scenario "better close" { work -> won 60% }
scenario "more leads" { arrivals * 2 }
"""


def history(tmp_path: Path) -> Path:
    """400 deals open from 2026-01-05, and 10 won before."""
    rows = ["deal,stage,timestamp,amount"]
    for i in range(10):
        rows += [f"W{i},work,2025-12-20 00:00,1000", f"W{i},won,2026-01-02 00:00,1000"]
    rows += [f"D{i:03d},work,2026-01-05 00:00,1000" for i in range(400)]
    path = tmp_path / "deals.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def whatif(tmp_path: Path, scenario: str, uncertainty: str = "simulation") -> flowsim.Forecast:
    return forecast(
        flowsim.parse(MODEL),
        flowsim.read_log(history(tmp_path)),
        horizon_hours="28d",
        replications=100,
        seed=1,
        workers=1,
        uncertainty=uncertainty,  # type: ignore[arg-type]
        scenario=scenario,
    )


@pytest.mark.parametrize("uncertainty", ["simulation", "parameters"])
def test_a_scenario_that_changes_nothing_differs_by_exactly_zero(
    tmp_path: Path, uncertainty: str
) -> None:
    f = whatif(tmp_path, "nothing", uncertainty)
    assert f.whatif is not None and f.whatif.scenario == "nothing"
    for d in f.whatif.measures:
        paired = d.paired
        assert (paired.mean, paired.p10, paired.p50, paired.p90) == (0, 0, 0, 0)
        assert (d.mean_low, d.mean_high) == (0, 0)
        assert d.baseline == d.scenario
        # without common random numbers the same model would seem to differ by chance
        assert d.unpaired.p90 - d.unpaired.p10 > 0


def test_the_paired_interval_is_narrower_than_the_unpaired_one(tmp_path: Path) -> None:
    f = whatif(tmp_path, "better close")
    assert f.whatif is not None
    wins = f.whatif.of("wins")
    # 400 open deals at 60% instead of 30% (and 18 new deals closing inside the horizon): about
    # +125 wins; the same uniform draw routes each deal in both runs, so the difference is the
    # deals drawn between 30% and 60%: Binomial(418, 0.3), sd 9.4, against sd 13.4 unpaired
    assert abs(wins.paired.mean - 0.3 * 418) < 4
    assert wins.mean_low < 0.3 * 418 < wins.mean_high
    paired = wins.paired.p90 - wins.paired.p10
    unpaired = wins.unpaired.p90 - wins.unpaired.p10
    assert paired < 0.85 * unpaired
    revenue = f.whatif.of("revenue")
    assert revenue.paired.mean == pytest.approx(1000 * wins.paired.mean)
    # the forecast itself is the model's: the same as without a what-if
    plain = forecast(
        flowsim.parse(MODEL),
        flowsim.read_log(history(tmp_path)),
        horizon_hours="28d",
        replications=100,
        seed=1,
        workers=1,
        uncertainty="simulation",
    )
    assert plain.total == f.total and plain.whatif is None


def test_more_leads_with_parameter_uncertainty(tmp_path: Path) -> None:
    """Each replication runs the scenario on its own bootstrap refit too: twice the arrivals
    add about as many wins as the new deals bring, and pairing keeps the interval tight."""
    f = whatif(tmp_path, "more leads", "parameters")
    assert f.whatif is not None
    wins = f.whatif.of("wins")
    assert wins.paired.p10 >= 0  # more leads never lose a win on the same random numbers
    assert wins.paired.p90 - wins.paired.p10 < 0.5 * (wins.unpaired.p90 - wins.unpaired.p10)
    text = f.text()
    assert "What-if 'more leads' against the model" in text
    assert "Reads: +" in text and "EUR over the next 28 days, 80% interval [" in text


def test_an_unknown_scenario_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UnknownScenario, match="'better close'"):
        whatif(tmp_path, "two more presales")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("flowsim", path=str(Path(sys.executable).parent)) or "flowsim"
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, encoding="utf-8", check=False
    )


def test_cli_forecast_scenario(tmp_path: Path) -> None:
    flow = tmp_path / "renewals.flow"
    flow.write_text(MODEL, encoding="utf-8")
    common = ("forecast", str(flow), "--history", str(history(tmp_path)), "-n", "20", "-q")
    r = _cli(*common, "--horizon", "28d", "--scenario", "better close", "--workers", "1")
    assert r.returncode == 0, r.stderr
    assert "What-if 'better close'" in r.stdout and "80% interval" in r.stdout
    r = _cli(*common, "--scenario", "better close", "--format", "json", "--workers", "1")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)["forecast"]["whatif"]
    assert data["scenario"] == "better close"
    assert [m["measure"] for m in data["measures"]] == ["wins", "revenue"]
    r = _cli(*common, "--scenario", "two more presales")
    assert r.returncode == 2 and "--scenario" in r.stderr and "better close" in r.stderr
    r = _cli(*common, "--scenario", "nothing", "--backtest", "monthly")
    assert r.returncode == 2 and "--scenario goes with a forecast" in r.stderr
