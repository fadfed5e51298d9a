"""A bad value given to the façade is a ``flowsim.InputError``: one ``except`` for all of them.

One real bad call per public function, each refused with a message that says what is wrong.
``InputError`` is a ``FlowsimError`` and a ``ValueError``, so code that caught ``ValueError``
before still does; the messages are the ones the command line prints.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import flowsim
from flowsim.errors import OptionError
from flowsim.model import DurationError
from flowsim.sim.sweep import sweep_scenarios

ROOT = Path(__file__).resolve().parents[1]
PROCESS = flowsim.load(ROOT / "examples" / "b2b-cn.flow")
#: simulated history of the example (3,272 records), bundled with the examples
LOG = flowsim.read_log(ROOT / "examples" / "history" / "b2b-cn-deals.csv")
NAIVE = dt.datetime(2025, 9, 1)  # no time zone: an as-of date must have one
LATE = dt.datetime(2025, 11, 20, tzinfo=dt.UTC)  # 90 days on is after the last event

p, log = PROCESS, LOG
BAD_CALLS: dict[str, tuple[Callable[[], Any], str]] = {
    "simulate: no replication": (
        lambda: flowsim.simulate(p, replications=0),
        "replications must be at least 1",
    ),
    "simulate: a negative horizon": (
        lambda: flowsim.simulate(p, until=-1),
        "until: -1 is negative; give a time of 0 or more",
    ),
    "simulate: a naive as_of": (
        lambda: flowsim.simulate(p, log, as_of=NAIVE, replications=1),
        "as_of needs a time zone",
    ),
    "forecast: a zero horizon": (
        lambda: flowsim.forecast(p, log, horizon_hours=0, replications=1),
        "the horizon must be longer than 0 hours",
    ),
    "forecast: no replication": (
        lambda: flowsim.forecast(p, log, replications=0),
        "replications must be at least 1",
    ),
    "forecast: unknown uncertainty": (
        lambda: flowsim.forecast(p, log, uncertainty="none"),  # type: ignore[arg-type]
        "uncertainty must be 'parameters' or 'simulation' (got 'none')",
    ),
    "backtest: a naive as_of": (
        lambda: flowsim.backtest(p, log, NAIVE, replications=1),
        "as_of needs a time zone",
    ),
    "backtest: a horizon past the history": (
        lambda: flowsim.backtest(p, log, LATE, replications=1),
        "the backtest horizon ends 2026-02-18, after the history's last event (2025-11-30)",
    ),
    "rolling_backtest: unknown cutoffs": (
        lambda: flowsim.rolling_backtest(p, log, cutoffs="weekly"),  # type: ignore[arg-type]
        "cutoffs must be 'monthly' or a list of dates, not 'weekly'",
    ),
    "discover: an empty log": (
        lambda: flowsim.discover(log.filter(start="2099-01-01")),
        "the log has no records: nothing to discover",
    ),
    "discover: min_share out of range": (
        lambda: flowsim.discover(log, min_share=0.7),
        "min_share must be in [0, 0.5), not 0.7",
    ),
    "fidelity: a train share above 1": (
        lambda: flowsim.fidelity(p, log, train_share=1.5, replications=1),
        "train_share must be between 0 and 1 (exclusive), not 1.5",
    ),
    "fidelity: unknown arrivals": (
        lambda: flowsim.fidelity(p, log, arrivals="poisson"),  # type: ignore[arg-type]
        "arrivals must be 'model' or 'replay', not 'poisson'",
    ),
    "metrics: unknown funnel mode": (
        lambda: flowsim.metrics(log, funnel="loose"),  # type: ignore[call-overload]
        "funnel must be 'strict' or 'touched', not 'loose'",
    ),
    "metrics: a breakdown by no column": (
        lambda: flowsim.metrics(log, by="colour"),
        "cannot break down by 'colour': the log has no column 'colour'",
    ),
    "conformance: confidence above 1": (
        lambda: flowsim.conformance(log, p, confidence=1.5),
        "confidence must be between 0 and 1, not 1.5",
    ),
    "bottlenecks: unknown objective": (
        lambda: flowsim.bottlenecks(p, objective="speed"),
        "no objective 'speed' (objectives: revenue, won, win-rate, cycle)",
    ),
    "sweep: not KEY=VALUES": (
        lambda: sweep_scenarios(p, "headcount"),
        "a sweep is KEY=VALUES, like se.headcount=2..6 (got 'headcount')",
    ),
    "sweep: an unknown role": (
        lambda: sweep_scenarios(p, "nobody.headcount=2..4"),
        "nobody.headcount=2..4: no role 'nobody' (roles: counsel, csm, rep, se)",
    ),
    "sweep: a range backwards": (
        lambda: sweep_scenarios(p, "arrivals=2..1"),
        "arrivals=2..1: a range is LOW..HIGH[:STEP] with LOW <= HIGH, STEP > 0",
    ),
    "sweep: an unknown key": (
        lambda: sweep_scenarios(p, "colour=1"),
        "colour=1: sweep ROLE.headcount, STAGE.effort, STAGE.wait, SOURCE->TARGET or arrivals",
    ),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_a_bad_value_is_an_input_error_with_its_reason(case: str) -> None:
    call, message = BAD_CALLS[case]
    with pytest.raises(flowsim.FlowsimError, match=f"^{re.escape(message)}") as caught:
        call()
    assert isinstance(caught.value, flowsim.InputError)
    assert isinstance(caught.value, ValueError)  # as before: `except ValueError` still works


def test_the_kinds_of_input_error() -> None:
    assert issubclass(flowsim.InputError, flowsim.FlowsimError)
    assert issubclass(OptionError, flowsim.InputError)
    assert issubclass(DurationError, flowsim.InputError)
    assert "InputError" in flowsim.__all__ and "InputError" in dir(flowsim)


def test_a_bad_value_in_flow_text_is_a_flow_error() -> None:
    """The model's own checks (pydantic validators) reach the user as diagnostics of the text."""
    text = (ROOT / "examples" / "b2b-cn.flow").read_text(encoding="utf-8")
    bad = text.replace('"Asia/Shanghai"', '"Mars/Olympus"', 1)
    with pytest.raises(flowsim.FlowsimError, match="unknown time zone 'Mars/Olympus'") as caught:
        flowsim.parse(bad)
    assert isinstance(caught.value, flowsim.FlowError)
