"""The principal-bottleneck sentence reads right: one unit per interval, no negative times."""

from __future__ import annotations

from flowsim.sim.bottlenecks import _ci_days
from flowsim.sim.stats import Estimate


def test_a_duration_interval_never_reads_below_zero() -> None:
    e = Estimate(mean=13.3 * 24, low=-147.9, high=32.8 * 24, n=5)
    assert _ci_days(e) == " (95% CI 0.0 days–32.8 days)"
    assert _ci_days(e, "zh") == "（95% 置信区间 0.0 天–32.8 天）"


def test_both_bounds_take_the_unit_of_the_mean() -> None:
    assert _ci_days(Estimate(mean=40.0, low=30.0, high=50.0, n=8)) == " (95% CI 30.0 h–50.0 h)"
    assert _ci_days(Estimate(mean=60.0, low=40.0, high=80.0, n=8)) == (
        " (95% CI 1.7 days–3.3 days)"
    )
    assert _ci_days(Estimate(mean=60.0, n=1)) == ""
