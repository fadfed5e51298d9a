"""Censored maximum-likelihood fits of the duration families a ``.flow`` file can state.

A stay that ended after ``t`` hours contributes its density ``f(t)``; a stay still running when
the history ends (right-censored after ``c`` hours) contributes its survival ``S(c) = P(T > c)``:

    log L = Σ_exits log f(t_i) + Σ_censored log S(c_j)

Dropping the censored stays (or weighting the exits and renormalising) answers "how long do the
stays that ended take", which is shorter than "how long does a stay take" whenever long stays
are the ones still running. The families are those of the language that fit durations:
exponential (closed form: the total time at risk over the exits), lognormal and gamma (a
Nelder–Mead search from the uncensored fit, on ``(mu, log sigma)`` and ``(log k, log theta)``).

Everything is numpy: the normal tail through ``math.erfc`` element-wise, the gamma tail through
a vectorised series / continued fraction of the regularised incomplete gamma function.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "Family",
    "censored_loglik",
    "censored_mle",
    "family_cdf",
    "log_gamma_sf",
    "nelder_mead",
]

Family = Literal["exponential", "lognormal", "gamma"]
FloatArray = npt.NDArray[np.float64]

_ERFC = np.frompyfunc(math.erfc, 1, 1)
#: Iterations of the incomplete gamma's series / continued fraction (all lanes at once).
_GAMMA_ITERATIONS = 1000


def _erfc(z: FloatArray) -> FloatArray:
    return np.asarray(_ERFC(z), dtype=np.float64)


def _log_norm_sf(z: FloatArray) -> FloatArray:
    """``log P(Z > z)`` for a standard normal, accurate far into the upper tail."""
    out = np.log(np.maximum(0.5 * _erfc(z / math.sqrt(2)), 1e-300))
    far = z > 30  # erfc underflows: the Mills-ratio asymptote
    if far.any():
        zf = z[far]
        out[far] = -0.5 * zf * zf - np.log(zf * math.sqrt(2 * math.pi))
    return out


def _gamma_series(a: float, x: FloatArray) -> FloatArray:
    """Regularised lower incomplete gamma ``P(a, x)`` by its series (converges for x < a + 1)."""
    term = np.full(x.shape, 1.0 / a)
    total = term.copy()
    ap = a
    for _ in range(_GAMMA_ITERATIONS):
        ap += 1
        term = term * x / ap
        total += term
        if np.all(np.abs(term) < np.abs(total) * 1e-15):
            break
    log_front = a * np.log(x) - x - math.lgamma(a)
    out: FloatArray = np.minimum(1.0, total * np.exp(log_front))
    return out


def _log_gamma_cf(a: float, x: FloatArray) -> FloatArray:
    """``log Q(a, x)`` by Lentz's continued fraction (converges for x >= a + 1)."""
    tiny = 1e-300
    b = x + 1 - a
    c = np.full(x.shape, 1 / tiny)
    d = 1 / b
    h = d.copy()
    for i in range(1, _GAMMA_ITERATIONS):
        an = -i * (i - a)
        b = b + 2
        d = an * d + b
        d = np.where(np.abs(d) < tiny, tiny, d)
        c = b + an / c
        c = np.where(np.abs(c) < tiny, tiny, c)
        d = 1 / d
        delta = d * c
        h = h * delta
        if np.all(np.abs(delta - 1) < 1e-15):
            break
    return a * np.log(x) - x - math.lgamma(a) + np.log(h)


def log_gamma_sf(a: float, x: npt.ArrayLike) -> FloatArray:
    """``log Q(a, x)``, the log of the regularised upper incomplete gamma, element-wise.

    Examples
    --------
    >>> float(np.exp(log_gamma_sf(1.0, [2.0])[0]))  # exponential: Q(1, x) = exp(-x)
    0.1353352832366127
    """
    xs = np.asarray(x, dtype=np.float64)
    out = np.zeros(xs.shape)
    pos = xs > 0
    low = pos & (xs < a + 1)
    high = pos & ~low
    if low.any():
        out[low] = np.log1p(-np.minimum(_gamma_series(a, xs[low]), 1 - 1e-16))
    if high.any():
        out[high] = _log_gamma_cf(a, xs[high])
    return out


def family_cdf(family: Family, params: tuple[float, float], x: npt.ArrayLike) -> FloatArray:
    """The fitted CDF at ``x`` (hours): exponential ``(mean, _)``, lognormal ``(mu, sigma)``,
    gamma ``(shape, scale)``."""
    xs = np.asarray(x, dtype=np.float64)
    out = np.zeros(xs.shape)
    pos = xs > 0
    if family == "exponential":
        out[pos] = -np.expm1(-xs[pos] / params[0])
    elif family == "lognormal":
        z = (np.log(xs[pos]) - params[0]) / params[1]
        out[pos] = 1 - 0.5 * _erfc(z / math.sqrt(2))
    else:
        out[pos] = -np.expm1(log_gamma_sf(params[0], xs[pos] / params[1]))
    return out


def _log_pdf(family: Family, params: tuple[float, float], x: FloatArray) -> FloatArray:
    if family == "exponential":
        return -math.log(params[0]) - x / params[0]
    if family == "lognormal":
        mu, sigma = params
        logs = np.log(x)
        return (
            -logs
            - math.log(sigma)
            - 0.5 * math.log(2 * math.pi)
            - (logs - mu) ** 2 / (2 * sigma * sigma)
        )
    k, theta = params
    return (k - 1) * np.log(x) - x / theta - k * math.log(theta) - math.lgamma(k)


def _log_sf(family: Family, params: tuple[float, float], x: FloatArray) -> FloatArray:
    if family == "exponential":
        return -x / params[0]
    if family == "lognormal":
        return _log_norm_sf((np.log(x) - params[0]) / params[1])
    return log_gamma_sf(params[0], x / params[1])


def censored_loglik(
    family: Family, params: tuple[float, float], exits: FloatArray, censored: FloatArray
) -> float:
    """``Σ log f(exits) + Σ log S(censored)`` (exits and censored times above 0, hours)."""
    total = float(_log_pdf(family, params, exits).sum())
    if len(censored):
        total += float(_log_sf(family, params, censored).sum())
    return total


def nelder_mead(
    f: Callable[[FloatArray], float],
    start: FloatArray,
    step: float = 0.25,
    tol: float = 1e-10,
    max_iter: int = 2000,
) -> FloatArray:
    """Minimise ``f`` from ``start`` by the Nelder–Mead simplex (deterministic).

    Standard coefficients (reflect 1, expand 2, contract 1/2, shrink 1/2); stops when the
    simplex's values agree within ``tol`` (relative) and its points within ``tol`` (absolute).
    """
    n = len(start)
    simplex = np.vstack([start, start + step * np.eye(n)])
    values = np.array([f(p) for p in simplex])
    for _ in range(max_iter):
        order = np.argsort(values, kind="stable")
        simplex, values = simplex[order], values[order]
        spread = abs(values[-1] - values[0])
        if spread <= tol * (abs(values[0]) + 1) and np.ptp(simplex, axis=0).max() <= tol:
            break
        centre = simplex[:-1].mean(axis=0)
        worst = simplex[-1]
        reflected = centre + (centre - worst)
        fr = f(reflected)
        if fr < values[0]:
            expanded = centre + 2 * (centre - worst)
            fe = f(expanded)
            simplex[-1], values[-1] = (expanded, fe) if fe < fr else (reflected, fr)
        elif fr < values[-2]:
            simplex[-1], values[-1] = reflected, fr
        else:
            inside = fr >= values[-1]
            contracted = centre + (0.5 if not inside else -0.5) * (centre - worst)
            fc = f(contracted)
            if fc < min(fr, values[-1]):
                simplex[-1], values[-1] = contracted, fc
            else:  # shrink towards the best point
                simplex[1:] = simplex[0] + 0.5 * (simplex[1:] - simplex[0])
                values[1:] = [f(p) for p in simplex[1:]]
    best = int(np.argmin(values))
    result: FloatArray = simplex[best]
    return result


def _to_free(family: Family, params: tuple[float, float]) -> FloatArray:
    if family == "lognormal":
        return np.array([params[0], math.log(params[1])])
    return np.array([math.log(params[0]), math.log(params[1])])


def _from_free(family: Family, free: FloatArray) -> tuple[float, float]:
    if family == "lognormal":
        return float(free[0]), math.exp(float(free[1]))
    return math.exp(float(free[0])), math.exp(float(free[1]))


def censored_mle(
    family: Family,
    exits: FloatArray,
    censored: FloatArray,
    start: tuple[float, float],
) -> tuple[tuple[float, float], float]:
    """Maximum-likelihood parameters of ``family`` with right-censored stays, and ``log L``.

    Parameters
    ----------
    family : {"exponential", "lognormal", "gamma"}
        Exponential ``(mean, 0)``; lognormal ``(mu, sigma)`` of the log; gamma
        ``(shape, scale)``.
    exits : ndarray
        Durations of the stays that ended (hours, above 0).
    censored : ndarray
        Durations of the stays still running at the end of the history (hours, above 0).
    start : tuple of float
        Where the search starts (the uncensored fit); ignored by the exponential.

    Returns
    -------
    tuple
        The parameters and the censored log-likelihood at them.
    """
    if family == "exponential":
        mean = (float(exits.sum()) + float(censored.sum())) / len(exits)
        params = (mean, 0.0)
        return params, censored_loglik(family, params, exits, censored)
    if len(censored) == 0:  # the caller's uncensored fit is already the maximum
        return start, censored_loglik(family, start, exits, censored)

    def cost(free: FloatArray) -> float:
        if np.abs(free).max() > 700:
            return math.inf
        value = -censored_loglik(family, _from_free(family, free), exits, censored)
        return value if math.isfinite(value) else math.inf

    free = nelder_mead(cost, _to_free(family, start))
    params = _from_free(family, free)
    return params, censored_loglik(family, params, exits, censored)
