"""The arrival profile in the language: `arrivals 40 per week { weekdays ... hours ... }`.

Parsing (weights per day, month and window; ranges; Chinese names; positions), the model's
normalisation (the stated rate stays the mean), and the canonical form.
"""

from __future__ import annotations

import pytest

import flowsim
from flowsim.model import HourWeight, RateArrivals, RateProfile, Trend

TAIL = (
    'stage qualify { owner rep goal "Qualify" exit "Budget known" }\n'
    "role rep\noutcome won\nqualify -> won\n"
)

PROFILE = """process "Inbound" {
  arrivals 40 per week "Asia/Shanghai" {
    weekdays Mon 1.2  Tue 1.1  Wed-Thu 1  Fri 0.7  # Saturday and Sunday: none
    hours 09:00-12:00 1.5  12:00-14:00 0.6  14:00-18:00 1
    months Jan-Feb 0.8  Mar 1.3  Apr-Nov 1  Dec 1.2
    trend +2% per month from 2025-01-01
  }
}
"""


def fmt(text: str) -> str:
    """The canonical form of ``text`` (what ``flowsim fmt`` prints)."""
    return flowsim.parse(text, "<fmt>").to_flow()


def arrivals_of(text: str) -> RateArrivals:
    arrivals = flowsim.parse(text + TAIL).arrivals
    assert isinstance(arrivals, RateArrivals)
    return arrivals


def test_a_profile_reads_as_relative_weights() -> None:
    a = arrivals_of(PROFILE)
    assert (a.count, a.per) == (40, "week")
    p = a.profile
    assert p is not None
    assert p.weekdays == (1.2, 1.1, 1.0, 1.0, 0.7, 0.0, 0.0)  # days not listed: 0
    assert p.hours == (
        HourWeight(start=540, end=720, weight=1.5),
        HourWeight(start=720, end=840, weight=0.6),
        HourWeight(start=840, end=1080, weight=1.0),
    )
    assert p.months == (0.8, 0.8, 1.3, 1, 1, 1, 1, 1, 1, 1, 1, 1.2)
    assert p.trend == Trend(change=0.02, per="month", since="2025-01-01")
    assert p.timezone == "Asia/Shanghai"


def test_each_clause_keeps_its_position() -> None:
    p = arrivals_of(PROFILE).profile
    assert p is not None
    where = {k: (s.line, s.column) for k, s in p.field_spans.items()}
    assert where == {"weekdays": (3, 5), "hours": (4, 5), "months": (5, 5), "trend": (6, 5)}
    assert p.trend is not None and p.trend.span is not None
    assert (p.trend.span.line, p.trend.span.column) == (6, 5)


def test_chinese_day_and_month_names_and_one_line_form() -> None:
    text = (
        "process 线索 arrivals 10 per week weekdays 周一-周五 1 周六 0.5 "
        "months 十一月-十二月 2 一月 1\n"
    )
    p = arrivals_of(text).profile
    assert p is not None
    assert p.weekdays == (1, 1, 1, 1, 1, 0.5, 0)
    assert p.months == (1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2)


def test_ranges_wrap_around_like_calendars() -> None:
    p = arrivals_of("process p arrivals 1 per day months Nov-Feb 2 Mar-Oct 1\n").profile
    assert p is not None and p.months == (2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2)


def test_weights_are_normalised_so_the_stated_rate_is_the_mean() -> None:
    p = arrivals_of(PROFILE).profile
    assert p is not None
    # A week: sum over days and windows of weight x scale x hours = 168 (the mean is 1).
    day_hours = 1.5 * 3 + 0.6 * 2 + 1.0 * 4
    assert p.week_scale() * sum(p.weekdays or ()) * day_hours == pytest.approx(168)
    days = (31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    mean_year = sum(f * d for f, d in zip(p.month_factors(), days, strict=True)) / 365.25
    assert mean_year == pytest.approx(1)


def test_a_flat_rate_exports_as_before() -> None:
    data = flowsim.parse("process p arrivals 25 per week\n" + TAIL).semantic_dump()
    assert data["arrivals"] == {"kind": "rate", "count": 25.0, "per": "week"}


def test_canonical_form_is_a_block_and_round_trips() -> None:
    text = (
        "process p arrivals 40 per week weekdays Tue 1.1 Mon 1.2 Wed 1 Thu 1 "
        "trend 1.50% per year hours 14:00-18:00 1 09:00-12:00 1.5\n" + TAIL
    )
    out = fmt(text)
    assert out.startswith(
        'process "p" {\n'
        "  arrivals 40 per week {\n"
        "    weekdays Mon 1.2  Tue 1.1  Wed-Thu 1\n"
        "    hours 09:00-12:00 1.5  14:00-18:00 1\n"
        "    trend +1.5% per year\n"
        "  }\n"
        "}\n"
    )
    assert fmt(out) == out
    assert flowsim.parse(out) == flowsim.parse(text)


def test_comments_inside_the_block_are_kept() -> None:
    out = fmt(PROFILE + TAIL)
    assert "    weekdays Mon 1.2  Tue 1.1  Wed-Thu 1  Fri 0.7  # Saturday and Sunday: none\n" in out


def test_a_scenario_may_replace_the_arrivals_with_a_profile() -> None:
    text = (
        "process p arrivals 40 per week weekdays Mon-Fri 1\n"
        + TAIL
        + "scenario s { arrivals * 2 }\n"
        + "scenario t { arrivals 10 per day { hours 09:00-17:00 1 } }\n"
    )
    p = flowsim.parse(text)
    doubled = p.with_scenario("s").arrivals
    assert isinstance(doubled, RateArrivals)
    assert doubled.count == 80 and doubled.profile == p.arrivals.profile  # type: ignore[union-attr]
    out = fmt(text)
    assert "  arrivals 10 per day { hours 09:00-17:00 1 }\n" in out
    assert flowsim.parse(out) == p


def test_the_model_refuses_what_the_language_refuses() -> None:
    """Built by hand in Python, a bad profile is a FlowsimError (a ValueError too)."""
    with pytest.raises(flowsim.FlowsimError, match="at least one weekday weight"):
        RateProfile(weekdays=(0,) * 7)
    with pytest.raises(ValueError, match="12 values"):
        RateProfile(months=(1,) * 11)
    with pytest.raises(ValueError, match="not overlap"):
        RateProfile(
            hours=(HourWeight(start=0, end=600, weight=1), HourWeight(start=500, end=700, weight=1))
        )
    with pytest.raises(ValueError, match="greater than -1"):
        Trend(change=-1, per="month")
    with pytest.raises(ValueError, match="calendar date"):
        Trend(change=0.1, per="month", since="2025-02-30")
    with pytest.raises(ValueError, match="time zone"):
        RateProfile(weekdays=(1,) * 7, timezone="Mars/Olympus")


def test_an_empty_profile_is_a_flat_rate() -> None:
    assert RateArrivals(count=1, per="day", profile=RateProfile()).profile is None
