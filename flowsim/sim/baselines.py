"""The baselines a pipeline forecast must beat: run-rate and seasonal naive.

Both read only the wins recorded by ``as_of`` (when each deal was won, and its amount; the
series starts at the first win recorded, so "the history covers" means it holds wins) and
say nothing about the open pipeline, so they are the yardstick a model has to beat
(Gneiting & Katzfuss 2014; the sales-ops practice in ``forecasting.md``):

Windows are half-open like the backtest's actuals, (start, end]: a win at ``as_of`` is known
then and counts in the past.

* **run-rate**: the last ``weeks`` weeks before ``as_of`` (13 by default: one quarter),
  carried forward. Its point forecast is their average per hour × the period's hours. Its
  distribution is a bootstrap of those weeks: each draw strings together weeks drawn with
  replacement (wins and revenue of the same week together), one per 168 hours of the
  horizon, and a period gets its share of the weeks it overlaps. So the band is as wide as
  the week-to-week variation of the recent past.
* **seasonal naive**: the same window one year earlier (52 weeks, 364 days, so weekdays
  line up) when the history reaches back that far, else one quarter earlier (13 weeks,
  91 days) when the history covers that and the horizon fits inside it; otherwise it is not
  available, and the forecast says so. A point forecast: one value per period, scored by
  its absolute error as its CRPS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from flowsim.sim.periods import Period, bin_sums

__all__ = ["BaselineDraws", "run_rate", "seasonal_naive"]

#: the bootstrap draws of a probabilistic baseline
DRAWS = 2000


@dataclass(frozen=True)
class BaselineDraws:
    """One baseline's forecast: per view an array (draw, wins/revenue, period) and its points."""

    method: str
    description: str
    point_only: bool
    draws: dict[str, np.ndarray]
    points: dict[str, np.ndarray]  # per view (wins/revenue, period)


def _hours(won: pl.DataFrame, origin: datetime) -> tuple[np.ndarray, np.ndarray]:
    """Each win's hours after ``origin`` and its amount (0 when unknown)."""
    hours = ((won["entered_at"].dt.epoch("us") - int(origin.timestamp() * 1e6)) / 3.6e9).to_numpy()
    amounts = won["amount"].cast(pl.Float64).to_numpy()
    return hours.astype(float), np.where(np.isnan(amounts), 0.0, amounts)


def run_rate(
    won: pl.DataFrame,
    first: datetime,
    when: datetime,
    views: dict[str, list[Period]],
    horizon_hours: float,
    *,
    weeks: int = 13,
    seed: int = 0,
) -> BaselineDraws | str:
    """The trailing ``weeks`` weeks carried forward (see the module docstring).

    ``won`` holds the wins known at ``when`` (``entered_at``, ``amount``); ``first`` is the
    first win's time. Fewer weeks are used when the history is shorter; less than one
    whole week before ``when``: a string saying why there is no run-rate.
    """
    have = int((when - first) / timedelta(days=7))
    n = min(weeks, have)
    if n < 1:
        return "run-rate: the history holds less than one whole week of wins before the as-of date"
    hours, amounts = _hours(won, when - timedelta(days=7 * n))
    per_week = np.zeros((2, n))
    inside = (hours > 0) & (hours <= 168 * n)  # (when - n weeks, when], like the actuals
    idx = (np.ceil(hours[inside] / 168) - 1).astype(int)
    per_week[0] = np.bincount(idx, minlength=n)
    per_week[1] = np.bincount(idx, weights=amounts[inside], minlength=n)
    steps = max(1, math.ceil(horizon_hours / 168))
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x7A7E,)))
    pick = rng.integers(0, n, size=(DRAWS, steps))
    draws: dict[str, np.ndarray] = {}
    points: dict[str, np.ndarray] = {}
    mean = per_week.mean(axis=1) / 168  # per hour
    for view, periods in views.items():
        share = _overlap(periods, steps)  # (period, step): hours of the step in the period / 168
        draws[view] = np.stack([per_week[m][pick] @ share.T for m in (0, 1)], axis=1)
        points[view] = np.outer(mean, [p.hi - p.lo for p in periods])
    described = f"the last {n} weeks before the as-of date carried forward" + (
        f" (the history holds only {n}, {weeks} asked)" if n < weeks else ""
    )
    return BaselineDraws("run_rate", described, False, draws, points)


def _overlap(periods: list[Period], steps: int) -> np.ndarray:
    """Per period and week-long step of the horizon, the share of the step inside the period."""
    lo = np.array([p.lo for p in periods])[:, None]
    hi = np.array([p.hi for p in periods])[:, None]
    start = 168.0 * np.arange(steps)[None, :]
    out: np.ndarray = np.clip(np.minimum(hi, start + 168) - np.maximum(lo, start), 0, None) / 168
    return out


def seasonal_naive(
    won: pl.DataFrame,
    first: datetime,
    when: datetime,
    views: dict[str, list[Period]],
    horizon_hours: float,
) -> BaselineDraws | str:
    """The same window one year (364 days) or one quarter (91 days) earlier, as it happened.

    A string saying why when the history covers neither.
    """
    lags = [(364, "one year (52 weeks)"), (91, "one quarter (13 weeks)")]
    fits = [(d, n) for d, n in lags if first <= when - timedelta(d) and horizon_hours <= 24 * d]
    if not fits:
        return (
            "seasonal naive: the history's wins cover neither the same window one year (364 days) "
            f"nor one quarter (91 days) before the as-of date with a {horizon_hours / 24:g}-day "
            "horizon"
        )
    days, name = fits[0]
    origin = when - timedelta(days=days)
    hours, amounts = _hours(won, origin)
    after = hours > 0  # (origin, origin + horizon], like the actuals after as_of
    hours, amounts = hours[after], amounts[after]
    points = {
        view: np.stack([bin_sums(hours, None, periods), bin_sums(hours, amounts, periods)])
        for view, periods in views.items()
    }
    draws = {view: p[None, :, :] for view, p in points.items()}
    described = f"the same window {name} earlier, {origin:%Y-%m-%d} on"
    return BaselineDraws("seasonal_naive", described, True, draws, points)
