"""Output analysis across replications: means with Student-t confidence intervals.

Every KPI a simulation reports is a mean over independent replications with a 95% interval,
and a what-if is judged by the *paired* differences (scenario − baseline, replication by
replication, on common random numbers): the difference is significant only when its interval
excludes zero. Lone runs without intervals are how simulators mislead; flowsim does not print
them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import ConfigDict

from flowsim._base import FlowsimModel
from flowsim.tdist import t_quantile

__all__ = ["Estimate", "estimate", "paired", "t_quantile"]


class Estimate(FlowsimModel):
    """A KPI over replications: mean and a two-sided confidence interval (None when n < 2)."""

    model_config = ConfigDict(frozen=True)

    mean: float | None
    low: float | None = None
    high: float | None = None
    sd: float | None = None
    n: int = 0
    level: float = 0.95

    @property
    def half_width(self) -> float | None:
        if self.low is None or self.high is None:
            return None
        return (self.high - self.low) / 2

    @property
    def significant(self) -> bool:
        """The interval excludes zero (meaningful for a paired difference)."""
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)

    def __str__(self) -> str:
        if self.mean is None:
            return "n/a"
        if self.half_width is None:
            return f"{self.mean:.4g}"
        return f"{self.mean:.4g} ± {self.half_width:.2g}"


def estimate(values: Sequence[float | None], level: float = 0.95) -> Estimate:
    """Mean and Student-t interval of the finite values (a replication may have no value)."""
    xs = [float(v) for v in values if v is not None and math.isfinite(v)]
    n = len(xs)
    if n == 0:
        return Estimate(mean=None, n=0, level=level)
    mean = math.fsum(xs) / n
    if n == 1:
        return Estimate(mean=mean, n=1, level=level)
    var = math.fsum((x - mean) ** 2 for x in xs) / (n - 1)
    sd = math.sqrt(var)
    half = t_quantile(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return Estimate(mean=mean, low=mean - half, high=mean + half, sd=sd, n=n, level=level)


def paired(
    scenario: Sequence[float | None], baseline: Sequence[float | None], level: float = 0.95
) -> Estimate:
    """The paired difference scenario − baseline over replications both have a value for."""
    diffs = [
        s - b
        for s, b in zip(scenario, baseline, strict=True)
        if s is not None and b is not None and math.isfinite(s) and math.isfinite(b)
    ]
    return estimate(diffs, level)
