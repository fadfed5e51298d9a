"""The arrival rate of a right-truncated log: one that holds only the deals that had ended.

An event log extracted as "the completed cases" (BPIC, helpdesk, receipt; the training part
of a split by end time) holds a deal that started at ``t`` only if it also ended by the end of
the history ``T``: its duration ``D`` is at most ``T - t``. Starts thin out towards ``T``, and
deals / weeks is low. A CRM export that keeps open deals is not truncated.

:func:`truncation` decides and corrects (the rule is stated in docs/metrics.md, "Arrivals"):

* **when**: the log holds no open deals (no declared outcome, so no notion of open, or at most
  :data:`MAX_OPEN_SHARE` of the deals short of one), and the starts in the last ``L`` (the
  90% quantile of the durations, at most a quarter of the history) are fewer than the rate
  of the earlier part predicts, by a one-sided Poisson test at :data:`P_VALUE`;
* **how**: the durations' distribution ``F`` from the deals themselves by the product-limit
  estimator for right-truncated data (Lynden-Bell 1971; Woodroofe 1985; in reverse time,
  Lagakos, Barraj & De Gruttola 1988); each start up to ``T - q`` counts ``1 / F(T - t)``
  (at most :data:`MAX_WEIGHT`), where ``q`` is ``F``'s :data:`COVERAGE` quantile (at most half
  of the history), over the weeks up to ``T - q``: the rate is read where nearly every deal
  that started had ended, and the weights correct the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Truncation", "poisson_cdf", "product_limit", "truncation"]

MAX_OPEN_SHARE = 0.01
P_VALUE = 0.001
TAIL_QUANTILE = 0.9
COVERAGE = 0.99
MAX_WEIGHT = 2.0
_WEEK = 7 * 86400.0


@dataclass(frozen=True)
class Truncation:
    """What :func:`truncation` found: whether the log is truncated, the rate per week to
    state (corrected when it is, else deals / weeks), the end of the window the rate is read
    on (seconds, the history's end when not truncated) and a note."""

    truncated: bool
    per_week: float
    window_end: float
    note: str


def poisson_cdf(k: int, mu: float) -> float:
    """P(X ≤ k) for X ~ Poisson(``mu``), summed in log space (no overflow for large ``mu``)."""
    if k < 0:
        return 0.0
    if mu <= 0:
        return 1.0
    i = np.arange(k + 1, dtype=float)
    logs = i * math.log(mu) - mu - np.array([math.lgamma(x + 1) for x in i])
    top = float(logs.max())
    return min(1.0, math.exp(top) * float(np.exp(logs - top).sum()))


def product_limit(durations: np.ndarray, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distribution of durations observed only when at most their window (Lynden-Bell).

    Parameters
    ----------
    durations : numpy.ndarray
        Each deal's duration ``D`` (seconds).
    windows : numpy.ndarray
        Each deal's truncation time ``T - t`` (``D <= T - t`` for every deal).

    Returns
    -------
    tuple of (numpy.ndarray, numpy.ndarray)
        The distinct durations ``d_k`` (ascending) and ``F(d_k) = P(D <= d_k)``, the
        product over ``d_m > d_k`` of ``1 - dN_m / C_m``, where ``dN_m`` deals last ``d_m``
        and ``C_m = #{D <= d_m <= T - t}`` is the reverse-time risk set.
    """
    grid, deaths = np.unique(durations, return_counts=True)
    risk = np.searchsorted(np.sort(durations), grid, side="right") - np.searchsorted(
        np.sort(windows), grid, side="left"
    )
    factors = 1.0 - deaths / risk
    after = np.cumprod(factors[::-1])[::-1]  # ∏_{m >= k}
    return grid, np.append(after[1:], 1.0)


def _cdf(x: np.ndarray, grid: np.ndarray, f: np.ndarray) -> np.ndarray:
    """F at ``x`` from :func:`product_limit`'s step function (0 below the shortest)."""
    at = np.searchsorted(grid, x, side="right") - 1
    return np.where(at >= 0, f[np.clip(at, 0, None)], 0.0)


def _quantile(p: float, grid: np.ndarray, f: np.ndarray) -> float:
    """The smallest duration with F at least ``p``."""
    return float(grid[min(int(np.searchsorted(f, p, side="left")), len(grid) - 1)])


def _thinning(starts: np.ndarray, t0: float, end: float, tail: float) -> tuple[int, float, float]:
    """Starts in the last ``tail`` seconds, the count the earlier part's rate expects there,
    and the one-sided Poisson p-value of so few."""
    cut = end - tail
    late = int((starts > cut).sum())
    rate = float((starts <= cut).sum()) / (cut - t0)
    expected = rate * tail
    return late, expected, poisson_cdf(late, expected)


def truncation(
    starts: np.ndarray, ends: np.ndarray, t0: float, end: float, open_share: float | None
) -> Truncation:
    """The arrival rate of a log whose deals may be right-truncated (module docstring).

    Parameters
    ----------
    starts, ends : numpy.ndarray
        Each deal's first and last record (seconds).
    t0, end : float
        The history's first record and last timestamp (seconds).
    open_share : float or None
        The share of deals short of a declared outcome (None: the log declares none).

    Returns
    -------
    Truncation
        Whether the log is truncated, the rate per week and a note on the evidence.
    """
    plain = len(starts) / ((end - t0) / _WEEK)
    if open_share is not None and open_share > MAX_OPEN_SHARE:
        note = f"not truncated: {open_share:.1%} of the deals are open"
        return Truncation(False, plain, end, note)
    span = end - t0
    grid, f = product_limit(ends - starts, end - starts)
    tail = min(_quantile(TAIL_QUANTILE, grid, f), span / 4)
    if tail <= 0 or len(starts) == 0:
        return Truncation(False, plain, end, "not truncated: the deals take no time")
    late, expected, p = _thinning(starts, t0, end, tail)
    days = tail / 86400
    seen = (
        f"{late} starts in the last {days:.1f} days where the earlier rate expects {expected:.0f}"
    )
    if p >= P_VALUE:
        return Truncation(False, plain, end, f"not truncated: {seen} (p = {p:.2g})")
    lag = min(_quantile(COVERAGE, grid, f), span / 2)
    window = end - lag
    kept = starts[starts <= window]
    weights = np.minimum(1.0 / np.maximum(_cdf(end - kept, grid, f), 1e-12), MAX_WEIGHT)
    rate = float(weights.sum()) / ((window - t0) / _WEEK)
    note = (
        f"right-truncated (only ended deals, none open): {seen} (p = {p:.2g}); "
        f"rate read on the starts up to {lag / 86400:.1f} days before the end, each over the "
        f"share of durations that fit before it (Lynden-Bell): {rate:.3g} per week "
        f"(deals / weeks {plain:.3g})"
    )
    return Truncation(True, rate, window, note)
