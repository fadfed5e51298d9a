"""The simulation commands' rules, in the API: Python and ``flowsim`` say the same.

- the trust gate: ``flowsim.simulate(p, history)`` and ``flowsim.bottlenecks(p, history)``
  open with the fidelity verdict when the model fails, as the commands do;
- which scenarios run: the chosen ones (an unknown one refused), or a ``--sweep``'s;
- a forecast from a past date is backtested when its horizon fits inside the history, and
  says why not otherwise.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

import flowsim
from flowsim.cli import main
from flowsim.errors import OptionError, UnknownScenario
from flowsim.history import read_log
from flowsim.sim.outlook import EmptyHistory, outlook
from flowsim.sim.sweep import chosen_scenarios

ROOT = Path(__file__).resolve().parents[2]
B2B = ROOT / "examples" / "b2b-cn.flow"
HISTORY = ROOT / "examples" / "history" / "b2b-cn-deals.csv"
OPENING = "The model does not reproduce the history: its "
TZ = "Asia/Shanghai"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def bad_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled model with five times the leads its history has: fidelity fails."""
    path = tmp_path_factory.mktemp("bad") / "b2b-bad.flow"
    text = B2B.read_text(encoding="utf-8")
    path.write_text(text.replace("arrivals 40 per week", "arrivals 200 per week"), "utf-8")
    return path


@pytest.fixture(scope="module")
def history() -> flowsim.DealLog:
    return read_log(HISTORY, tz=TZ)


# --- the trust gate --------------------------------------------------------------------------


def test_simulate_from_python_carries_the_command_s_verdict(
    bad_model: Path, history: flowsim.DealLog
) -> None:
    process = flowsim.load(bad_model)
    result = flowsim.simulate(process, history, replications=2, scenarios=[], tz=TZ)
    assert result.warnings[0].startswith(OPENING)
    assert result.fidelity_check is not None and not result.fidelity_check.trusted
    assert result.fidelity_check.verdict() == result.warnings[0]
    code, out, _ = invoke(
        "simulate", str(bad_model), "--history", str(HISTORY), "--tz", TZ,
        "-n", "2", "--no-scenarios", "--format", "json", "-q",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out)["warnings"] == result.warnings
    assert out == result.to_json() + "\n"
    # the table prints through result.text(): the verdict first, then the KPIs
    code, table, _ = invoke(
        "simulate", str(bad_model), "--history", str(HISTORY), "--tz", TZ,
        "-n", "2", "--no-scenarios", "-q", "--lang", "en",
    )  # fmt: skip
    assert code == 0
    assert table.rstrip("\n") == result.text().rstrip("\n")
    assert table.startswith(OPENING)
    # asked not to, the gate does not run
    unchecked = flowsim.simulate(
        process, history, replications=2, scenarios=[], tz=TZ, check_fidelity=False
    )
    assert unchecked.fidelity_check is None
    assert unchecked.warnings == result.warnings[1:]


def test_bottlenecks_from_python_open_with_the_verdict_in_its_language(
    bad_model: Path, history: flowsim.DealLog
) -> None:
    process = flowsim.load(bad_model)
    report, _ = flowsim.bottlenecks(process, history, replications=2, tz=TZ)
    assert report.verdict is not None and report.verdict.startswith(OPENING)
    assert report.principal.startswith("If the model were right (it is not, see above): ")
    code, out, _ = invoke(
        "bottlenecks", str(bad_model), "--history", str(HISTORY), "--tz", TZ,
        "-n", "2", "--format", "json", "-q",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out)["verdict"] == report.verdict
    assert out == report.to_json() + "\n"
    assert report.text().startswith(report.verdict)
    zh, _ = flowsim.bottlenecks(process, history, replications=2, tz=TZ, lang="zh")
    assert zh.verdict is not None and zh.verdict.startswith("模型未能重现历史数据")


def test_without_history_there_is_nothing_to_check() -> None:
    result = flowsim.simulate(flowsim.load(B2B), replications=1, until="30d", warmup="1d")
    assert result.fidelity_check is None
    assert not any(w.startswith(OPENING) for w in result.warnings)


# --- which scenarios run -----------------------------------------------------------------------


def test_the_chosen_scenarios_and_the_sweeps() -> None:
    process = flowsim.load(B2B)
    known = [s.name for s in process.scenarios]
    assert chosen_scenarios(process)[1] == known
    assert chosen_scenarios(process, baseline_only=True)[1] == []
    assert chosen_scenarios(process, [known[1]])[1] == [known[1]]
    with pytest.raises(UnknownScenario) as caught:
        chosen_scenarios(process, ["faster"])
    assert (caught.value.name, caught.value.known) == ("faster", tuple(known))
    swept, names = chosen_scenarios(process, sweeps=["se.headcount=3..5"])
    assert len(names) == 3  # a sweep runs its own scenarios, one per value
    assert [s.name for s in swept.scenarios] == known + names
    with pytest.raises(OptionError) as bad:
        chosen_scenarios(process, sweeps=["se.headcount=5..3"])
    assert bad.value.option == "sweep"


def test_the_command_words_an_unknown_scenario_as_before() -> None:
    code, _, err = invoke("simulate", str(B2B), "--scenario", "faster", "-n", "1")
    assert code == 2
    assert "no scenario 'faster' in the model (scenarios: '增加两名售前', '方案提速30%')" in err


# --- a forecast, backtested when it can be -----------------------------------------------------


def test_a_forecast_is_backtested_when_its_horizon_fits(history: flowsim.DealLog) -> None:
    process = flowsim.load(B2B)
    as_of = dt.datetime(2025, 10, 1, tzinfo=ZoneInfo(TZ))
    scored = outlook(process, history, horizon="30d", as_of=as_of, replications=5)
    assert scored.backtest is not None and scored.forecast is scored.backtest.forecast
    code, out, _ = invoke(
        "forecast", str(B2B), "--history", str(HISTORY), "--tz", TZ, "--as-of", "2025-10-01",
        "--horizon", "30d", "-n", "5", "--format", "json", "-q",
    )  # fmt: skip
    assert code == 0
    assert out == scored.to_json() + "\n"
    late = outlook(process, history, horizon="120d", as_of=as_of, replications=5)
    assert late.backtest is None
    assert late.forecast.notes[-1].startswith(
        "no backtest: the horizon runs past the history's last event (2025-11-30)"
    )
    assert late.text().startswith(late.forecast.text())


def test_a_horizon_of_nothing_and_a_history_of_nothing_are_refused(
    history: flowsim.DealLog,
) -> None:
    process = flowsim.load(B2B)
    with pytest.raises(OptionError) as caught:
        outlook(process, history, horizon=0)
    assert caught.value.option == "horizon"
    empty = history.derive(history.frame.clear())
    with pytest.raises(EmptyHistory, match="no timestamps"):
        outlook(process, empty, horizon="30d")
    code, _, err = invoke("forecast", str(B2B), "--history", str(HISTORY), "--horizon", "0d")
    assert code == 2 and "the horizon must be longer than 0" in err


def test_the_forecast_command_chooses_its_bands_uncertainty(history: flowsim.DealLog) -> None:
    """--uncertainty simulation gives the API's simulation-only forecast; the default says
    its bands hold bootstrap refits; another word is a usage error."""
    process = flowsim.load(B2B)
    plain = outlook(process, history, horizon="14d", replications=4, uncertainty="simulation")
    common = ("forecast", str(B2B), "--history", str(HISTORY), "--tz", TZ, "--horizon", "14d")
    code, out, _ = invoke(*common, "-n", "4", "--uncertainty", "simulation", "--format", "json",
                          "-q")  # fmt: skip
    assert code == 0 and out == plain.to_json() + "\n"
    code, out, _ = invoke(*common, "-n", "4", "-q")
    assert code == 0 and "Bands: parameter and simulation uncertainty (4 bootstrap refits" in out
    code, _, err = invoke(*common, "--uncertainty", "both")
    assert code == 2 and "'both' is not one of" in err


# --- options that do not go together: refused by the API, as the commands refuse them ----------


def test_options_that_need_another_are_refused_in_python_and_by_the_commands(
    history: flowsim.DealLog,
) -> None:
    process = flowsim.load(B2B)
    as_of = dt.datetime(2025, 10, 1, tzinfo=ZoneInfo(TZ))
    with pytest.raises(OptionError, match="--as-of needs --history"):
        flowsim.simulate(process, as_of=as_of, replications=1, until="30d")
    with pytest.raises(OptionError, match="--objective ranks the what-ifs of --suggest"):
        flowsim.bottlenecks(process, objective="won", replications=1, until="30d")
    with pytest.raises(OptionError, match="--backtest-from goes with --backtest monthly"):
        flowsim.rolling_backtest(process, history, [as_of], start=as_of, horizon_hours="14d")
    for args in (
        ("simulate", str(B2B), "--as-of", "2025-10-01", "-n", "1"),
        ("bottlenecks", str(B2B), "--objective", "won", "-n", "1"),
        ("forecast", str(B2B), "--history", str(HISTORY), "--backtest", "2025-10-01",
         "--backtest-from", "2025-09-01", "-q"),
    ):  # fmt: skip
        code, _, err = invoke(*args)
        assert code == 2, err
        assert "Error: --" in err and "Traceback" not in err


def test_fidelity_of_a_discovered_model_is_the_api_s(history: flowsim.DealLog) -> None:
    """``flowsim.fidelity(None, log)`` judges the model discovered from the earlier part:
    the same as discovering it by hand, and as ``flowsim fidelity --discovered``."""
    from flowsim.history.distances import chronological_split

    found = flowsim.fidelity(None, history, replications=1, tz=TZ)
    train = chronological_split(history, 0.5)[0]
    by_hand = flowsim.fidelity(
        flowsim.discover(train, tz=TZ).process, history, replications=1, tz=TZ
    )
    assert found.model_dump() == by_hand.model_dump()
    code, out, _ = invoke(
        "fidelity", str(B2B), "--history", str(HISTORY), "--tz", TZ, "--discovered", "-n", "1",
        "--format", "json",
    )  # fmt: skip
    assert code in (0, 1)  # 1: the model is not trusted, a finding
    shown = json.loads(out)
    assert shown["process"] == found.process
    assert [m["ratio"] for m in shown["measures"]] == [m.ratio for m in found.measures]
