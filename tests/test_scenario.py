"""Scenarios: applying changes gives a new, ordinary process."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowsim
from flowsim.model import Triangular


def test_headcount_scenario(b2b_path: Path) -> None:
    p = flowsim.load(b2b_path)
    s = p.with_scenario("增加两名售前")
    assert s.role("se").headcount == 5
    assert p.role("se").headcount == 3  # the base is untouched
    assert s.scenarios == ()


def test_scaled_effort_and_arrivals(b2b_path: Path) -> None:
    p = flowsim.load(b2b_path)
    s = p.with_scenario("方案提速30%")
    effort = s.node("design").effort  # type: ignore[union-attr]
    assert isinstance(effort, Triangular)
    assert (effort.low, effort.mode, effort.high) == pytest.approx((4 * 0.7, 7.5 * 0.7, 14 * 0.7))
    assert s.arrivals is not None and s.arrivals.per_hour == pytest.approx(40 * 1.2 / 168)
    assert s.graph is not p.graph


def test_transition_change_rebalances_remainder() -> None:
    p = flowsim.parse(
        "stage a\nstage b\noutcome won\noutcome lost\n"
        "a -> b 60%\na -> lost\nb -> won\nscenario s { a -> b 75% }\n"
    )
    s = p.with_scenario("s")
    assert [round(x, 9) for _, x in s.outgoing("a")] == [0.75, 0.25]


def test_transition_change_scales_explicit_siblings() -> None:
    p = flowsim.parse(
        "stage a\nstage b\noutcome won\noutcome lost\n"
        "a -> b 60%\na -> won 20%\na -> lost 20%\nb -> won\nscenario s { a -> b 80% }\n"
    )
    s = p.with_scenario("s")
    assert [round(x, 9) for _, x in s.outgoing("a")] == [0.8, 0.1, 0.1]
    assert flowsim.check(s) == [d for d in flowsim.check(s) if not d.is_error]


def test_replace_distribution_and_headcount_steps() -> None:
    p = flowsim.parse(
        "role r headcount 1\nstage a owner r effort 2h wait 1d\noutcome won\na -> won\n"
        "scenario s { stage a effort 1h wait * 2\n role r headcount 3 from 2025-03-01 headcount 5 }"
    )
    s = p.with_scenario("s")
    stage = s.node("a")
    assert stage.effort.value == 1  # type: ignore[union-attr]
    assert stage.wait.value == 48  # type: ignore[union-attr]
    assert s.role("r").headcount == 3
    assert [(x.date, x.headcount) for x in s.role("r").headcount_steps] == [("2025-03-01", 5)]


def test_unknown_scenario() -> None:
    p = flowsim.parse("stage a\noutcome won\na -> won\nscenario x { arrivals * 2 }")
    with pytest.raises(KeyError, match="known: 'x'"):
        p.with_scenario("y")


def test_a_factor_too_small_for_floats_means_zero_not_a_traceback() -> None:
    """hypothesis found ``effort * 5e-324``: the mean underflowed to 0, a refused mean."""
    from flowsim.model import Empirical, Exponential, Fixed, LogNormal

    assert Exponential(mean=0.5).scaled(5e-324) == Fixed(value=0.0)
    assert LogNormal(mean=0.5, sd=0.2).scaled(5e-324) == Fixed(value=0.0)
    assert Empirical(values=(0.4, 2.0)).scaled(5e-324) == Fixed(value=0.0)
    assert Exponential(mean=0.5).scaled(0.7) == Exponential(mean=0.35)
