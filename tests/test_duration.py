"""One reading of durations (flowsim.model.parse_duration) for the API and the command line.

``"90d"``, ``"6h"``, ``"2w"``, ``"30m"`` are the language's units; a number is hours, as the
API has always taken it. Every API function with a duration or horizon takes both, and the
command line reads its options with the same function.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import flowsim
from flowsim.errors import FlowsimError
from flowsim.history.idle import apply_idle_rule
from flowsim.model import UNITS_IN_HOURS, DurationError, parse_duration
from flowsim.report.build import build_report
from flowsim.sim.backtest import backtest

ROOT = Path(__file__).resolve().parent.parent
B2B = ROOT / "examples" / "b2b-cn.flow"

MODEL = """
stage work "Work" { wait 10d }
outcome won "Won" { result won }
outcome lost "Lost" { result lost }
work -> won 30%
work -> lost
"""


@pytest.mark.parametrize(
    ("value", "hours"),
    [
        ("90d", 90 * 24.0),
        ("6h", 6.0),
        ("2w", 2 * 168.0),
        ("30m", 0.5),
        ("1.5d", 36.0),
        (" 12 w ", 12 * 168.0),  # spaces around and between are fine
        ("0h", 0.0),
        (36, 36.0),
        (1.5, 1.5),
        (timedelta(days=2, hours=3), 51.0),
    ],
)
def test_text_numbers_and_timedeltas(value: str | float | timedelta, hours: float) -> None:
    assert parse_duration(value) == hours


def test_the_units_are_the_languages() -> None:
    for unit, hours in UNITS_IN_HOURS.items():
        assert parse_duration(f"1{unit}") == hours


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("3 months", "'3 months' is not a duration; write a number and a unit: 90m, 36h"),
        ("90", "'90' is not a duration"),  # a unit is needed, as in the language
        ("90D", "'90D' is not a duration"),
        ("", "'' is not a duration"),
        ("-5d", "'-5d' is not a duration"),
        (-5, "-5 is negative; give a time of 0 or more"),
        (math.inf, "inf is not finite"),
        (math.nan, "nan is not finite"),
        (True, "True is not a duration"),
        (None, "None is not a duration"),
    ],
)
def test_bad_values_say_what_to_write(value: object, message: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(value, what="until")  # type: ignore[arg-type]
    assert str(caught.value).startswith(f"until: {message}")
    assert isinstance(caught.value, FlowsimError)
    assert isinstance(caught.value, ValueError)  # callers catching ValueError still do


def test_simulate_takes_text_or_hours_alike() -> None:
    process = flowsim.load(B2B)
    by_text = flowsim.simulate(process, until="30d", warmup="1w", replications=2, seed=3)
    by_hours = flowsim.simulate(process, until=720, warmup=168.0, replications=2, seed=3)
    assert (by_text.horizon_hours, by_text.warmup_hours) == (720.0, 168.0)
    assert by_text.model_dump() == by_hours.model_dump()
    with pytest.raises(DurationError, match=r"^until: 'a month' is not a duration"):
        flowsim.simulate(process, until="a month")


def test_bottlenecks_pass_durations_to_simulate() -> None:
    process = flowsim.load(B2B)
    report, result = flowsim.bottlenecks(process, until="60d", replications=2, seed=1)
    assert result.horizon_hours == 60 * 24.0 and report.time


def _history(tmp_path: Path) -> flowsim.DealLog:
    rows = ["deal,stage,timestamp"] + [f"D{i:02d},work,2026-01-{1 + i % 5:02d}" for i in range(40)]
    path = tmp_path / "deals.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return flowsim.read_log(path)


def test_forecast_and_backtest_horizons(tmp_path: Path) -> None:
    process, log = flowsim.parse(MODEL), _history(tmp_path)
    by_text = flowsim.forecast(process, log, horizon_hours="13w", replications=20, seed=2)
    by_hours = flowsim.forecast(process, log, horizon_hours=13 * 168, replications=20, seed=2)
    assert by_text.horizon_hours == 13 * 168.0
    assert by_text.model_dump() == by_hours.model_dump()
    with pytest.raises(DurationError, match=r"^the horizon: 'soon' is not a duration"):
        flowsim.forecast(process, log, horizon_hours="soon")
    with pytest.raises(DurationError, match=r"^the horizon: '2 weeks' is not a duration"):
        backtest(process, log, datetime(2026, 1, 3, tzinfo=UTC), "2 weeks")


def test_the_idle_rule_takes_text_or_hours(tmp_path: Path) -> None:
    log = _history(tmp_path)
    # the log ends on Jan 5: the deals of Jan 1 and 2 have been quiet for 3 days or more
    by_text, rule = apply_idle_rule(log, "3d")
    by_hours, _ = apply_idle_rule(log, 72)
    assert rule.closed == 16 and rule.stage == "Lost (idle 3d)"
    assert by_text.frame.equals(by_hours.frame)
    with pytest.raises(DurationError, match=r"^the idle time: '3 days' is not a duration"):
        apply_idle_rule(log, "3 days")


def test_a_report_refuses_a_bad_until_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(DurationError, match=r"^until: 'next year' is not a duration"):
        build_report(B2B, out=tmp_path / "report", until="next year")
    assert not (tmp_path / "report").exists()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("flowsim", path=str(Path(sys.executable).parent)) or "flowsim"
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, encoding="utf-8", check=False
    )


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("simulate", str(B2B), "--until", "3 months"), "--until"),
        (("simulate", str(B2B), "--warmup", "-1d"), "--warmup"),
        (("bottlenecks", str(B2B), "--until", "1y"), "--until"),
    ],
)
def test_the_cli_reads_durations_the_same_way(args: tuple[str, ...], option: str) -> None:
    r = _cli(*args)
    assert r.returncode == 2
    assert f"Invalid value for {option}: '{args[-1]}' is not a duration; write" in r.stderr
    assert "Traceback" not in r.stderr


def test_the_cli_takes_the_units() -> None:
    r = _cli("simulate", str(B2B), "--until", "6w", "--warmup", "7d", "-n", "2", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert '"horizon_hours": 1008.0' in r.stdout and '"warmup_hours": 168.0' in r.stdout
