"""The headline's numbers: a paired delta as the sentence writes it."""

from __future__ import annotations

from flowsim.report.build import _delta_words
from flowsim.sim.stats import Estimate


def test_a_delta_that_would_round_to_zero_keeps_two_significant_digits() -> None:
    # BPIC 2012 replayed: -20% effort in W_Completeren aanvraag shortens the mean cycle by
    # 3.7 minutes; "-0.0 days" would say nothing
    e = Estimate(mean=-0.0025484, low=-0.0025486, high=-0.0025482, n=5)
    assert _delta_words(e, 1.0, "") == {"delta": "-0.0025", "low": "-0.0025", "high": "-0.0025"}
    assert _delta_words(Estimate(mean=0.0, low=0.0, high=0.0), 1.0, "o") == {
        "odelta": "+0.0",
        "olow": "+0.0",
        "ohigh": "+0.0",
    }
    money = Estimate(mean=5651999.5, low=3569878.2, high=7734120.8, n=2)
    assert _delta_words(money, 1.0, "", "revenue")["delta"] == "+5,652,000"
    assert _delta_words(Estimate(mean=-0.41, low=None, high=None), 1.0, "")["low"] == "n/a"


def test_the_what_if_table_keeps_minutes_visible() -> None:
    from flowsim.sim.table import _delta

    minutes = Estimate(mean=-0.0025484, low=-0.0025486, high=-0.0025482, n=5)
    assert _delta(minutes, fine=True) == "-0.0025 [-0.0025, -0.0025] *"
    assert _delta(minutes) == "-0.0 [-0.0, -0.0] *"  # the simulate table keeps one decimal
    # a row with a visible figure keeps one decimal throughout
    mixed = Estimate(mean=-0.1, low=-0.2, high=0.007, n=5)
    assert _delta(mixed, fine=True) == "-0.1 [-0.2, +0.0]"
