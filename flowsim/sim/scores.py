"""Scores of a probabilistic forecast against what happened (Gneiting & Katzfuss, 2014).

Every forecast here is a set of samples per period (the Monte Carlo's replications, a
baseline's bootstrap draws, or a single value for a point forecast), so all methods are
scored the same way:

* **absolute percentage error** of the point forecast: |F − A| / A (undefined when A = 0);
* **interval coverage**: whether the actual lies inside the central P10–P90 (or P25–P75)
  band of the samples; over many periods a calibrated forecast holds 80% (50%) of them;
* **CRPS**, the continuous ranked probability score, from the samples by the standard
  estimator E|X − y| − ½ E|X − X′| (lower is better; in the actual's unit). For a single
  sample it is the absolute error, so a point forecast and a distribution are comparable;
* **PIT**, the probability integral transform F(y): flat over [0, 1] when calibrated,
  U-shaped when the bands are too narrow, one-sided when the forecast is biased. Counts are
  discrete, so the PIT is randomised inside the jump of F at y (F(y−) + V·(F(y) − F(y−)),
  V uniform), which is uniform for a calibrated discrete forecast.
"""

from __future__ import annotations

import numpy as np

from flowsim.errors import InputError

__all__ = ["ape", "covered", "crps_sample", "pit", "pit_histogram"]


def crps_sample(samples: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """CRPS of each column of ``samples`` (draws × periods) against ``actual`` (periods).

    E|X − y| − ½ E|X − X′| over the empirical distribution of the draws; E|X − X′| from
    the sorted draws, Σ (2i − m − 1) x₍ᵢ₎ · 2 / m², in O(m log m) per period.
    """
    x = np.sort(np.asarray(samples, dtype=float).reshape(len(samples), -1), axis=0)
    y = np.asarray(actual, dtype=float).reshape(-1)
    m = x.shape[0]
    if m == 0:
        raise InputError("a forecast needs at least one sample")
    first = np.abs(x - y).mean(axis=0)
    weights = (2 * np.arange(1, m + 1) - m - 1).astype(float)
    spread = 2 * (weights @ x) / (m * m)
    out: np.ndarray = first - 0.5 * spread
    return out


def covered(samples: np.ndarray, actual: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Per period, whether the actual lies inside the ``[lo, hi]`` quantile band of the draws."""
    x = np.asarray(samples, dtype=float).reshape(len(samples), -1)
    y = np.asarray(actual, dtype=float).reshape(-1)
    q = np.quantile(x, [lo, hi], axis=0)
    out: np.ndarray = (q[0] <= y) & (y <= q[1])
    return out


def ape(point: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """|F − A| / A per period; NaN where the actual is 0 (no percentage error exists)."""
    f = np.asarray(point, dtype=float)
    a = np.asarray(actual, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = np.where(a != 0, np.abs(f - a) / np.where(a != 0, a, 1.0), np.nan)
    return out


def pit(samples: np.ndarray, actual: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The randomised PIT of each actual under its column's empirical distribution."""
    x = np.asarray(samples, dtype=float).reshape(len(samples), -1)
    y = np.asarray(actual, dtype=float).reshape(-1)
    below = (x < y).mean(axis=0)
    at_most = (x <= y).mean(axis=0)
    out: np.ndarray = below + rng.random(y.shape) * (at_most - below)
    return out


def pit_histogram(values: np.ndarray, bins: int = 10) -> list[int]:
    """Counts of PIT values in ``bins`` equal bins over [0, 1] (1.0 falls in the last)."""
    v = np.clip(np.asarray(values, dtype=float), 0.0, 1.0)
    idx = np.minimum((v * bins).astype(int), bins - 1)
    return [int(c) for c in np.bincount(idx, minlength=bins)]
