"""Student's t quantiles without scipy: the base of every t interval flowsim reports.

The simulation's replication intervals (:mod:`flowsim.sim.stats`) and the measured journey's
score intervals (:mod:`flowsim.history.feedback.stats`) both use :func:`t_quantile`; it sits
in the base layer so both can.
"""

from __future__ import annotations

import math
from statistics import NormalDist

from flowsim.errors import InputError

__all__ = ["t_quantile"]


def t_quantile(q: float, df: float) -> float:
    """Quantile ``q`` (0.5 < q < 1) of Student's t with ``df`` degrees of freedom.

    G. W. Hill, "Algorithm 396: Student's t-quantiles", CACM 13(10), 1970: accurate to ~1e-7
    for the confidence levels used here, without scipy.
    """
    if not 0.5 < q < 1:
        raise InputError("q must be in (0.5, 1)")
    if df <= 0:
        raise InputError("df must be positive")
    p = 2 * (1 - q)  # two-sided tail probability
    if df == 1:
        return math.tan(math.pi * (q - 0.5))
    if df == 2:
        return math.sqrt(2 / (p * (2 - p)) - 2)
    if math.isinf(df):
        return NormalDist().inv_cdf(q)
    a = 1 / (df - 0.5)
    b = 48 / (a * a)
    c = ((20700 * a / b - 98) * a - 16) * a + 96.36
    d = ((94.5 / (b + c) - 3) / b + 1) * math.sqrt(a * math.pi / 2) * df
    x = d * p
    y = x ** (2 / df)
    if y > 0.05 + a:
        x = NormalDist().inv_cdf(p / 2)
        y = x * x
        if df < 5:
            c += 0.3 * (df - 4.5) * (x + 0.6)
        c = (((0.05 * d * x - 5) * x - 7) * x - 2) * x + b + c
        y = (((((0.4 * y + 6.3) * y + 36) * y + 94.5) / c - y - 3) / b + 1) * x
        y = math.expm1(a * y * y)
    else:
        y = (
            (1 / (((df + 6) / (df * y) - 0.089 * d - 0.822) * (df + 2) * 3) + 0.5 / (df + 4)) * y
            - 1
        ) * (df + 1) / (df + 2) + 1 / y
    return math.sqrt(df * y)
