"""Model discovery: learn a ``.flow`` process from a deal log (``flowsim discover``).

``discover(log)`` returns a :class:`Discovery`: a :class:`~flowsim.model.Process` that passes
``flowsim.check`` without errors, written through the formatter like any hand-written model,
and ``notes`` saying what was inferred, folded, fitted and assumed. The rules (in full in
``docs/metrics.md``, "Discovery"):

- **Outcomes** are declared (a mapping's ``[outcomes]``) or the log's closing activities
  (:mod:`flowsim.history.closing`); each deal ends at its first one.
- **Routing** is censoring-aware: deals still open are right-censored, each destination's
  share is its Aalen–Johansen incidence, and what the history cannot place goes to ``ended``
  (or, with the idle rule, to the idle outcome). Rare moves fold into the largest, never
  those into an outcome, never those that keep a stage reachable.
- **Roles** are resource pools (:mod:`flowsim.history.pools`); system steps have no owner.
- **Durations** are fitted by censored maximum likelihood (stays still running count as at
  least that long) and AIC among exponential, lognormal and gamma; empirical (Kaplan–Meier)
  when few, poorly fitted or when the tail is not the history's; written as a person would
  write them. A work item's ``wait`` is its extraneous delay (:mod:`flowsim.history.delays`):
  the time its resource was busy on other deals is the simulation's queue, not the wait.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from flowsim.dsl.formatter import fmt_calendar
from flowsim.dsl.keywords import KEYWORDS
from flowsim.errors import InputError
from flowsim.history.arrivals import fit_arrivals
from flowsim.history.calendars import (
    CELL_SHARE,
    DAY_SHARE,
    MIN_CELL_EVENTS,
    pool_calendar,
    working_hours,
)
from flowsim.history.closing import closing_stages, cut_after_close
from flowsim.history.concurrency import find_blocks, with_blocks
from flowsim.history.delays import waiting_anatomy
from flowsim.history.fitting import Family, censored_mle
from flowsim.history.log import DealLog
from flowsim.history.metrics import US_PER_HOUR, metrics
from flowsim.history.pools import SIMILARITY, Pool, resource_pools
from flowsim.history.survival import cumulative_incidence, kaplan_meier
from flowsim.history.truncation import Truncation, truncation
from flowsim.model import (
    UNITS_IN_HOURS,
    WORD_RE,
    Calendar,
    Distribution,
    Empirical,
    Exponential,
    Fixed,
    Gamma,
    LogNormal,
    Outcome,
    Process,
    RateArrivals,
    Role,
    Stage,
    Transition,
    infer_result,
)

__all__ = [
    "MAX_KS",
    "MAX_TAIL",
    "MIN_ENTRY_SHARE",
    "MIN_FIT_SAMPLES",
    "TAIL_RATIO",
    "TAIL_SHARES",
    "TAIL_SUPPORT",
    "ArrivalProfile",
    "Discovery",
    "Fit",
    "arrival_profile",
    "discover",
    "fit_duration",
    "km_weights",
    "slug",
]

#: An AIC this close to the best (Burnham & Anderson's rule of thumb) counts as as good.
AIC_TIE = 2.0
#: Fewer closed visits than this: the durations are resampled (empirical), not fitted.
MIN_FIT_SAMPLES = 30
#: The best fit's Kolmogorov–Smirnov distance above this: empirical instead.
MAX_KS = 0.1
#: A fit whose 99th percentile is beyond this many times the longest stay seen invents stays
#: the history never had (a heavy tail): the stays are resampled instead.
MAX_TAIL = 2.0
#: Where the tail check reads the history: the first ended stays with Kaplan–Meier S at or
#: below these shares (the longest 10% and 2% of the stays).
TAIL_SHARES = (0.1, 0.02)
#: Ended stays the tail check needs at or beyond a point to read the history's tail there.
TAIL_SUPPORT = 20
#: The fit's share of stays beyond that point must be within this factor of the history's.
TAIL_RATIO = 2.0
#: Values an empirical distribution keeps when there are more observations (quantiles).
EMPIRICAL_POINTS = 20
#: Points of the empirical CDF the KS distance is evaluated at (order statistics).
KS_POINTS = 400
#: Internal name of the outcome added where open deals would otherwise be trapped.
ENDED = "\x00ended"


@dataclass(frozen=True)
class Fit:
    """How one sample of durations (hours) was summarised, and why."""

    distribution: Distribution | None
    n: int
    chosen: str
    aic: dict[str, float] = field(default_factory=dict)
    ks: float | None = None
    reason: str = ""
    #: stays still running at the end of the history (right-censored), beside the ``n`` ended
    censored: int = 0


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class ArrivalProfile:
    """When deals arrive: the weekly rate and its shape over the week and the day.

    ``weekday`` maps ``Mon``..``Sun`` and ``hour`` maps 0..23 to the share of deals whose
    first record falls there, in time zone ``tz`` (the deals' local time: ``--tz``); both
    sum to 1. This is the raw evidence; the profile the model states (where the log supports
    one) is ``process.arrivals.profile`` (:mod:`flowsim.history.arrivals`).
    """

    per_week: float
    deals: int
    tz: str
    weekday: dict[str, float]
    hour: dict[int, float]

    def comment(self) -> list[str]:
        """The profile as ``#`` comment lines (without indentation)."""

        def pct(x: float) -> str:
            return f"{round(100 * x)}%"

        busy_hours = [h for h in range(24) if self.hour.get(h, 0.0) > 0]
        lines = [
            f"# arrival profile: {self.deals} deals by their first record, {self.per_week:.3g} "
            f"per week, time zone {self.tz}",
            "#   weekday  " + "  ".join(f"{d} {pct(self.weekday[d])}" for d in WEEKDAYS),
        ]
        for start in range(0, len(busy_hours), 8):
            chunk = busy_hours[start : start + 8]
            label = "#   hour     " if start == 0 else "#            "
            lines.append(label + "  ".join(f"{h:02d}h {pct(self.hour[h])}" for h in chunk))
        if len(busy_hours) < 24:
            lines.append("#   (hours not listed: no arrivals)")
        return lines


def arrival_profile(frame: pl.DataFrame, weeks: float, tz: str = "UTC") -> ArrivalProfile:
    """The weekday and hour-of-day shares of the deals' first records, in ``tz``."""
    firsts = (
        frame.group_by("deal")
        .agg(pl.col("entered_at").min())
        .select(local=pl.col("entered_at").dt.convert_time_zone(tz))
    )
    n = firsts.height
    days = Counter(firsts["local"].dt.weekday().to_list())  # 1 = Monday
    hours = Counter(firsts["local"].dt.hour().to_list())
    return ArrivalProfile(
        per_week=n / weeks,
        deals=n,
        tz=tz,
        weekday={d: days.get(i + 1, 0) / n for i, d in enumerate(WEEKDAYS)},
        hour={h: hours.get(h, 0) / n for h in range(24)},
    )


@dataclass(frozen=True)
class Discovery:
    """A discovered process and the notes on what was folded, fitted and assumed."""

    process: Process
    notes: list[str]
    fits: dict[str, dict[str, Fit]] = field(default_factory=dict)
    arrivals: ArrivalProfile | None = None

    def text(self) -> str:
        """The discovered process as ``.flow`` text (what ``flowsim discover`` writes)."""
        return self.to_flow()

    def to_json(self, *, indent: int | None = 2) -> str:
        """The process (its model as JSON), the notes and each fitted duration's choice."""
        import json

        data = {
            "process": self.process.model_dump(mode="json"),
            "notes": self.notes,
            "fits": self.to_frame().to_dicts(),
        }
        return json.dumps(data, indent=indent, ensure_ascii=False, sort_keys=True, default=str)

    def to_frame(self) -> pl.DataFrame:
        """The fitted durations, one row per (stage, part): family chosen, deals, censored,
        Kolmogorov–Smirnov distance and the reason."""
        rows = [
            {
                "stage": stage,
                "part": part,
                "chosen": f.chosen,
                "n": f.n,
                "censored": f.censored,
                "ks": f.ks,
                "reason": f.reason,
            }
            for stage, parts in sorted(self.fits.items())
            for part, f in parts.items()
        ]
        schema = {
            "stage": pl.String,
            "part": pl.String,
            "chosen": pl.String,
            "n": pl.Int64,
            "censored": pl.Int64,
            "ks": pl.Float64,
            "reason": pl.String,
        }
        return pl.DataFrame(rows, schema=schema)

    def _repr_html_(self) -> str:
        from flowsim.result import html_table

        return html_table(f"discovered: {self.process.name}", self.to_frame())

    def to_flow(self) -> str:
        """The process as canonical ``.flow`` text (through the formatter); the arrival
        profile the log supports is part of its ``arrivals``."""
        return self.process.to_flow()


# ---- ids -------------------------------------------------------------------------------------


def slug(text: str, *, prefix: str = "stage") -> str:
    """A valid .flow identifier for ``text``: itself when it is one, else a slug.

    A slug folds accents to ASCII (``Négociation`` → ``negociation``), keeps letters of any
    script (Chinese stays Chinese), lower-cases, joins words with ``_``, and puts ``prefix_``
    before a leading digit; keywords get ``_{prefix}`` appended.
    """
    text = text.strip()
    if WORD_RE.fullmatch(text) and text not in KEYWORDS:
        return text
    folded = "".join(
        c for c in unicodedata.normalize("NFKD", text) if unicodedata.category(c) != "Mn"
    )
    out = re.sub(r"\W+", "_", folded.lower()).strip("_")
    if not out:
        return prefix
    if out[0].isdigit() or out[0] == "_":
        out = f"{prefix}_{out}"
    if out in KEYWORDS:
        out = f"{out}_{prefix}"
    return out


def _unique_ids(names: list[str], taken: set[str], prefix: str) -> dict[str, str]:
    ids: dict[str, str] = {}
    for name in names:
        base = slug(name, prefix=prefix)
        ident, k = base, 2
        while ident in taken:
            ident, k = f"{base}_{k}", k + 1
        taken.add(ident)
        ids[name] = ident
    return ids


# ---- numbers that read like a person wrote them ---------------------------------------------


def _unit_of(hours: float) -> str:
    return "d" if hours >= 24 else "h" if hours >= 1 else "m"


def nice_hours(hours: float, unit: str | None = None) -> float:
    """Round a duration so the file reads as a person would write it.

    One decimal (whole from 100) in the unit that reads naturally (days from 24 h, hours from
    1 h, else minutes) or in ``unit`` when given (a spread in its mean's unit); below that,
    two significant digits in that unit; below a minute, two significant digits in hours,
    never finer than 0.0001 h (0.36 s: a sales process is not timed to the millisecond;
    less is 0).
    """
    if hours <= 0:
        return 0.0
    if unit is None or hours < UNITS_IN_HOURS[unit]:  # 0.1d does not read: 2.4h
        unit = _unit_of(hours)
    factor = UNITS_IN_HOURS[unit]
    value = hours / factor
    rounded = float(round(value) if value >= 100 else round(value, 1))
    if rounded == 0:
        rounded = float(f"{value:.2g}")
    if rounded * factor < 1 / 60:  # below a minute: two digits in hours, from 0.0001h (0.36 s)
        return float(f"{hours:.2g}") if hours >= 1e-4 else 0.0
    return rounded * factor  # as the parser computes `2.5d`: 2.5 * 24.0


def nice_rate(per_week: float) -> float:
    """Arrivals per week: whole from 100, else three significant digits."""
    if per_week >= 100:
        return float(round(per_week))
    return float(f"{per_week:.3g}")


def _probability(share: float) -> float:
    """A share as the probability a ``.flow`` file would say: 0.1 percentage points."""
    pct = round(share * 100, 1)
    if pct == 0:
        pct = float(f"{share * 100:.2g}")
    return float(f"{pct:g}") / 100


# ---- fitting ---------------------------------------------------------------------------------


def _digamma(x: float) -> float:
    out = 0.0
    while x < 6:
        out -= 1 / x
        x += 1
    f = 1 / (x * x)
    return out + math.log(x) - 0.5 / x - f * (1 / 12 - f * (1 / 120 - f * (1 / 252)))


def _trigamma(x: float) -> float:
    out = 0.0
    while x < 6:
        out += 1 / (x * x)
        x += 1
    f = 1 / (x * x)
    return out + 1 / x + f / 2 + f / x * (1 / 6 - f * (1 / 30 - f / 42))


def _gamma_shape(s: float) -> float:
    """MLE shape k of a gamma: solve log k - digamma(k) = s (Minka's start, Newton steps)."""
    k = (3 - s + math.sqrt((s - 3) ** 2 + 24 * s)) / (12 * s)
    for _ in range(50):
        step = (math.log(k) - _digamma(k) - s) / (1 / k - _trigamma(k))
        new = k - step
        k = new if new > 0 else k / 2
        if abs(step) < 1e-10 * k:
            break
    return k


def _gammainc(a: float, x: float) -> float:
    """Regularised lower incomplete gamma P(a, x) (series below a + 1, else continued fraction)."""
    if x <= 0:
        return 0.0
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        term = total = 1 / a
        ap = a
        for _ in range(500):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-14:
                break
        return min(1.0, total * math.exp(log_front))
    b = x + 1 - a
    c = 1 / 1e-300
    d = 1 / b
    h = d
    for i in range(1, 500):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = 1e-300 if abs(d) < 1e-300 else d
        c = b + an / c
        c = 1e-300 if abs(c) < 1e-300 else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-14:
            break
    return max(0.0, 1 - math.exp(log_front) * h)


def _cdf(family: Family, params: tuple[float, float], x: float) -> float:
    if x <= 0:
        return 0.0
    if family == "exponential":
        return 1 - math.exp(-x / params[0])
    if family == "lognormal":
        mu, sigma = params
        return 0.5 * (1 + math.erf((math.log(x) - mu) / (sigma * math.sqrt(2))))
    k, theta = params
    return _gammainc(k, x / theta)


def _ks(family: Family, params: tuple[float, float], values: np.ndarray, cum: np.ndarray) -> float:
    """Kolmogorov–Smirnov distance to an empirical CDF, at up to KS_POINTS order statistics.

    ``values`` sorted; ``cum[j]`` the empirical CDF just after the first ``j`` values (so
    ``cum[0] = 0``): the plain ECDF, or Kaplan–Meier's ``1 - S`` when stays are censored (it
    then ends below 1, at the share of stays known to have ended).
    """
    x = values
    n = len(x)
    idx = np.unique(np.linspace(0, n - 1, min(n, KS_POINTS)).round().astype(int))
    worst = 0.0
    for i in idx:
        # the last index of a run of ties: the ECDF jumps over the whole run there
        j = int(np.searchsorted(x, x[i], side="right"))
        lo = int(np.searchsorted(x, x[i], side="left"))
        f = _cdf(family, params, float(x[i]))
        worst = max(worst, abs(f - cum[j]), abs(f - cum[lo]))
    return worst


def _to_model(family: Family, params: tuple[float, float]) -> Distribution | None:
    """The fitted distribution as written; None when its mean rounds to nothing (instant)."""
    if family == "exponential":
        mean = nice_hours(params[0])
        return Exponential(mean=mean) if mean > 0 else None
    if family == "lognormal":
        mu, sigma = params
        mean = math.exp(mu + sigma * sigma / 2)
        sd = mean * math.sqrt(math.expm1(sigma * sigma))
    else:
        k, theta = params
        mean, sd = k * theta, math.sqrt(k) * theta
    nice_mean = nice_hours(mean)
    nice_sd = nice_hours(sd, _unit_of(mean))
    if nice_mean == 0:
        return None
    if nice_sd == 0:
        return Fixed(value=nice_mean)
    cls = LogNormal if family == "lognormal" else Gamma
    return cls(mean=nice_mean, sd=nice_sd)


def _empirical(values: np.ndarray, weights: np.ndarray) -> Distribution | None:
    """The values (sorted, with weights summing to 1), or that many midpoint quantiles.

    Unequal weights (censored stays) always give the quantiles: the values themselves would
    weigh each stay alike.
    """
    x = values
    equal = bool(np.allclose(weights, weights[0]))
    if len(x) > EMPIRICAL_POINTS or not equal:
        cum = np.cumsum(weights)
        probs = (np.arange(EMPIRICAL_POINTS) + 0.5) / EMPIRICAL_POINTS
        if equal:
            x = np.quantile(x, probs)
        else:
            x = x[np.minimum(np.searchsorted(cum, probs), len(x) - 1)]
    kept = tuple(nice_hours(float(v)) for v in x)
    if not any(kept):
        return None
    if len(set(kept)) == 1:
        return Fixed(value=kept[0])
    return Empirical(values=kept)


def _km_sample(x: np.ndarray, censored: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The censoring-aware sample behind an empirical duration, and the KM CDF at the exits.

    ``x`` sorted exits. Returns the values, their weights (summing to 1) and ``cum`` for
    :func:`_ks` (``1 - S`` just after each exit). The exits weigh their Kaplan–Meier jumps,
    normalised over the stays that end by the longest ended one: the share ``S`` left beyond
    it (stays outlasting every ended one) is what the routing sends to the ``ended`` outcome
    (Aalen–Johansen), so it is not put into the durations as well.
    """
    jumps = _km_jumps(x, censored)
    cum = np.concatenate(([0.0], np.cumsum(jumps)))
    return x, jumps / jumps.sum(), cum


def km_weights(durations: np.ndarray, censored: np.ndarray) -> np.ndarray:
    """Weights of the exits ``durations`` that make their distribution censoring-aware.

    Kaplan–Meier: each exit at ``t`` weighs ``S(t-) / n(t)`` (``n``: visits still in the stage
    at ``t``, censored ones included until their time), normalised to sum to 1. A deal still
    open after 30 days lowers the weight of no exit before 30 days and shares in every later
    one: without it, the long stays of open deals vanish and the stage looks faster than it is.

    Examples
    --------
    >>> km_weights(np.array([1.0, 2.0, 3.0]), np.array([]))
    array([0.33333333, 0.33333333, 0.33333333])
    >>> km_weights(np.array([1.0, 3.0]), np.array([2.0]))  # the open deal shares in t=3
    array([0.33333333, 0.66666667])
    """
    n = len(durations)
    if len(censored) == 0:
        return np.full(n, 1 / n) if n else np.zeros(0)
    out = _km_jumps(durations, censored)
    total = out.sum()
    return out / total if total > 0 else np.full(n, 1 / n)


def _km_jumps(durations: np.ndarray, censored: np.ndarray) -> np.ndarray:
    """The Kaplan–Meier jump ``S(t-) / n(t)`` at each exit (summing to ``1 - S`` at the end)."""
    n = len(durations)
    times = np.concatenate((durations, censored))
    event = np.concatenate((np.ones(n, bool), np.zeros(len(censored), bool)))
    order = np.lexsort((~event, times))  # by time, exits before censorings at a tie
    at_risk = len(times) - np.arange(len(times))
    factor = np.where(event[order], 1 - 1 / at_risk, 1.0)
    before = np.concatenate(([1.0], np.cumprod(factor)[:-1]))
    jump = np.where(event[order], before / at_risk, 0.0)
    weights = np.empty(len(times))
    weights[order] = jump
    out: np.ndarray = weights[:n]
    return out


def _weighted_fits(
    pos: np.ndarray, w: np.ndarray
) -> tuple[dict[Family, tuple[float, float]], dict[str, float]]:
    """ML parameters and AIC of each family on the positive values ``pos`` (weights sum 1).

    With equal weights these are the usual maximum-likelihood fits; Kaplan–Meier weights
    make them the fits of the censoring-aware distribution.
    """
    m = len(pos)
    logs = np.log(pos)
    mean = float(w @ pos)
    mlog = float(w @ logs)
    params: dict[Family, tuple[float, float]] = {"exponential": (mean, 0.0)}
    aic: dict[str, float] = {"exponential": 2 - 2 * m * (-math.log(mean) - 1)}
    sigma = math.sqrt(max(0.0, float(w @ (logs - mlog) ** 2)))
    if sigma > 0:
        params["lognormal"] = (mlog, sigma)
        ll = m * (-mlog - math.log(sigma) - math.log(2 * math.pi) / 2 - 0.5)
        aic["lognormal"] = 4 - 2 * ll
    s = math.log(mean) - mlog
    if s > 0:
        k = _gamma_shape(s)
        theta = mean / k
        params["gamma"] = (k, theta)
        ll = m * ((k - 1) * mlog - mean / theta - k * math.log(theta) - math.lgamma(k))
        aic["gamma"] = 4 - 2 * ll
    return params, aic


def fit_duration(values: np.ndarray | list[float], censored: np.ndarray | None = None) -> Fit:
    """Summarise durations (hours) as the distribution a ``.flow`` file would state.

    ``values`` are the stays that ended; ``censored`` the stays still running when the history
    ends (right-censored: "at least this long"). The rule, in full in docs/metrics.md:

    - exponential, lognormal and gamma are fitted by maximum likelihood on the values above 0,
      the censored stays entering through their survival (:mod:`flowsim.history.fitting`),
      and compared by AIC (``2k - 2 log L``); exponential wins within :data:`AIC_TIE`;
    - the winner stands unless there are fewer than :data:`MIN_FIT_SAMPLES` ended stays, its
      Kolmogorov–Smirnov distance to the Kaplan–Meier CDF (the ECDF without censoring; zeros
      included) exceeds :data:`MAX_KS`, or its tail disagrees with the history's
      (:func:`_tail_problem`): then the stays are resampled (``empirical``: the values up to
      :data:`EMPIRICAL_POINTS` equally weighted ones, else that many Kaplan–Meier quantiles).

    Equal values give ``fixed``; all zero (or none) gives no distribution.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    c = np.zeros(0) if censored is None else np.asarray(censored, dtype=float)
    c = c[np.isfinite(c) & (c > 0)]
    return replace(_fit(x, c), censored=len(c))


def _fit(x: np.ndarray, c: np.ndarray) -> Fit:
    """:func:`fit_duration` on finite ended stays ``x`` and censored stays ``c`` above 0."""
    n = len(x)
    if n == 0 or not (x > 0).any():
        return Fit(None, n, "none", reason="no duration above 0")
    x = np.sort(x, kind="stable")
    if x[0] == x[-1] and not (c > x[0]).any():
        return Fit(Fixed(value=nice_hours(float(x[0]))), n, "fixed", reason="all equal")
    if len(c):
        sample, w, cum = _km_sample(x, c)
    else:
        sample, w = x, np.full(n, 1 / n)
        cum = np.concatenate(([0.0], np.cumsum(w)))
    if n < MIN_FIT_SAMPLES:
        why = f"n = {n} < {MIN_FIT_SAMPLES}"
        return Fit(_empirical(sample, w), n, "empirical", reason=why)
    params, aic = _censored_fits(x[x > 0], c)
    best: Family = min(params, key=lambda f: aic[f])
    if aic["exponential"] - aic[best] <= AIC_TIE:
        best = "exponential"  # as good within the AIC's resolution, with one parameter less
    ks = _ks(best, params[best], x, cum)
    if ks > MAX_KS:
        why = f"best fit {best} is poor (KS {ks:.2f})"
        return Fit(_empirical(sample, w), n, "empirical", aic, ks, why)
    problem = _tail_problem(best, params[best], x, c)
    if problem:
        return Fit(_empirical(sample, w), n, "empirical", aic, ks, problem)
    return Fit(_to_model(best, params[best]), n, best, aic, ks, "lowest AIC")


def _censored_fits(
    exits: np.ndarray, censored: np.ndarray
) -> tuple[dict[Family, tuple[float, float]], dict[str, float]]:
    """Each family's parameters and AIC: the plain ML fits of the ended stays, refitted by
    censored maximum likelihood (from there) when some stays are still running."""
    params, aic = _weighted_fits(exits, np.full(len(exits), 1 / len(exits)))
    if len(censored) == 0:
        return params, aic
    for family in list(params):
        params[family], ll = censored_mle(family, exits, censored, params[family])
        aic[family] = 2 * (1 if family == "exponential" else 2) - 2 * ll
    return params, aic


def _tail_problem(
    family: Family, params: tuple[float, float], exits: np.ndarray, censored: np.ndarray
) -> str:
    """Why a fit's tail is not the history's ("" when it is), the rule that survives heavy tails.

    Two checks. (1) Its 99th percentile beyond :data:`MAX_TAIL` times the longest stay seen
    (ended or still running) invents stays the history never had. (2) Where the history
    measures its own tail, the fit's share of stays longer than ``t`` must be within
    :data:`TAIL_RATIO` times the Kaplan–Meier share, either way, at each ``t`` of: the first
    ended stay with Kaplan–Meier ``S`` at or below each of :data:`TAIL_SHARES`, moved down to
    the last point with :data:`TAIL_SUPPORT` ended stays at or beyond it (fewer say too little),
    where ``S <= 1/2``. A fit that matches the body but makes the longest 10% or 2% of the stays
    several times rarer (or commoner) than they were is refused, as AIC and KS, both ruled by
    the body, would not refuse it.
    """
    longest = max(float(exits[-1]), float(censored.max()) if len(censored) else 0.0)
    tail = _p99(family, params)
    if tail > MAX_TAIL * longest:
        return (
            f"best fit {family} has a heavy tail (p99 {tail:.3g} h, longer than {MAX_TAIL:g} x "
            f"the longest stay seen, {longest:.3g} h)"
        )
    if len(exits) < TAIL_SUPPORT:
        return ""
    curve = kaplan_meier(
        np.concatenate((exits, censored)),
        np.concatenate((np.ones(len(exits), bool), np.zeros(len(censored), bool))),
    )
    supported = float(exits[-TAIL_SUPPORT])
    for share in TAIL_SHARES:
        below = np.flatnonzero(curve.survival <= share)
        t = min(float(curve.times[below[0]]), supported) if len(below) else supported
        s_km = curve.at(t)
        s_fit = 1.0 - _cdf(family, params, t)
        if s_km <= 0.5 and (s_fit * TAIL_RATIO < s_km or s_fit > TAIL_RATIO * s_km):
            return (
                f"best fit {family} misses the tail: {s_fit:.2%} of its stays are longer than "
                f"{t:.3g} h, {s_km:.2%} of the history's"
            )
    return ""


def _p99(family: Family, params: tuple[float, float]) -> float:
    """The 99th percentile of a fitted family (gamma: the Wilson–Hilferty approximation)."""
    z = 2.3263478740408408
    if family == "exponential":
        return params[0] * math.log(100)
    if family == "lognormal":
        return math.exp(params[0] + z * params[1])
    k, theta = params
    return k * theta * max(0.0, 1 - 1 / (9 * k) + z * math.sqrt(1 / (9 * k))) ** 3


# ---- discovery -------------------------------------------------------------------------------

#: A stage that starts at least this share of the deals (or ``min_support``, when larger) is
#: an entry of the discovered entry mix; rarer first stages are mapped to the nearest entry.
MIN_ENTRY_SHARE = 0.005


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def _small_pct(share: float) -> str:
    """A share for a note: 0.1 points, or two significant digits below 1% (0.022%)."""
    return _pct(share) if share >= 0.01 or share == 0 else f"{100 * share:.2g}%"


def _deals(n: int) -> str:
    return f"{n} deal{'' if n == 1 else 's'}"


def _process_name(log: DealLog) -> str:
    name = Path(log.report.source).name
    for ending in (".xes.gz", ".csv.gz", ".parquet", ".xlsx", ".csv", ".tsv", ".txt", ".xes"):
        if name.lower().endswith(ending):
            return name[: -len(ending)] or name
    return name or "discovered"


def _durations(
    frame: pl.DataFrame, as_of: datetime | None, calendars: dict[str, Calendar] | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """Per stage, in hours: the ended stays and the censored ones (still running at ``as_of``).

    ``dwell`` entered → left (or the deal's next record) and ``open`` entered → ``as_of`` for
    the deal's last record when it has not left; where start times exist, ``waiting`` entered
    → started with ``waiting_open`` (not started by ``as_of``) and ``working`` started → left
    with ``working_open`` (started, not finished by ``as_of``). Only a deal's last record can
    be running: the frame is cut at each deal's close, so that record's deal is open.
    ``calendars`` (stage → its owner's calendar): ``working`` is counted in working hours
    (the simulation runs effort on that calendar; :func:`~flowsim.history.calendars.working_hours`).
    """
    hours = 1 / US_PER_HOUR
    end = pl.lit(as_of, dtype=pl.Datetime("us", "UTC"))

    def span(a: pl.Expr, b: pl.Expr) -> pl.Expr:
        return (b - a).dt.total_microseconds() * hours

    def running(condition: pl.Expr, since: str) -> pl.Expr:
        if as_of is None:
            return pl.lit(None, pl.Float64)
        return pl.when(condition).then(span(pl.col(since), end)).otherwise(None)

    rec = frame.with_columns(pl.col("entered_at").shift(-1).over("deal").alias("next_at"))
    still = pl.col("next_at").is_null() & pl.col("left_at").is_null()
    rec = rec.with_columns(
        open=running(still, "entered_at"),
        waiting_open=running(still & pl.col("started_at").is_null(), "entered_at"),
        working_open=running(still & pl.col("started_at").is_not_null(), "started_at"),
        dwell=span(pl.col("entered_at"), pl.coalesce("left_at", "next_at")),
        waiting=span(pl.col("entered_at"), pl.col("started_at")),
        working=span(pl.col("started_at"), pl.col("left_at")),
    )
    columns = ("dwell", "open", "waiting", "waiting_open", "working", "working_open")
    out: dict[str, dict[str, np.ndarray]] = {}
    for key, part in rec.partition_by("stage", as_dict=True).items():
        cal = (calendars or {}).get(str(key[0]))
        if cal is not None:
            part = part.with_columns(working=pl.Series(working_hours(part, cal)).fill_nan(None))
        out[str(key[0])] = {c: part[c].drop_nulls().to_numpy().astype(float) for c in columns}
    return out


def _mean_first_positions(frame: pl.DataFrame) -> dict[str, float]:
    """The metrics' observed order key: mean over deals of a stage's first 0-based position."""
    pos = frame.select("deal", "stage").with_columns(pl.int_range(pl.len()).over("deal").alias("p"))
    agg = (
        pos.group_by("deal", "stage")
        .agg(pl.col("p").min())
        .group_by("stage")
        .agg(pl.col("p").mean())
    )
    return {str(s): float(v) for s, v in agg.iter_rows()}


def _reach(starts: list[str], adj: dict[str, dict[str, float]]) -> set[str]:
    seen = set(starts)
    todo = list(starts)
    while todo:
        for nxt in adj.get(todo.pop(), {}):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


RoleMode = Literal["pools", "per-person", "none"]
#: How a work item's wait is read, in logs with start times and resources: the extraneous
#: delay after it (contention left to the simulation's queue), the whole gap after it, or the
#: observed schedule → start of the item itself (before issue 14's item 4).
WaitMode = Literal["extraneous", "gap", "observed"]
_ASK_MAPPING = ": add it to a mapping's [outcomes] table to say won or lost)"


@dataclass
class _Work:
    """What discovery knows while it builds the model (one place instead of many locals)."""

    frame: pl.DataFrame
    results: dict[str, str]
    stages: list[str]
    visits: dict[str, int]
    notes: list[str]
    edges: dict[str, dict[str, float]] = field(default_factory=dict)
    folded: dict[str, dict[str, float]] = field(default_factory=dict)
    folded_into: dict[str, str] = field(default_factory=dict)


def _outcomes(log: DealLog) -> tuple[pl.DataFrame, dict[str, str], list[str], set[str]]:
    """The log cut at each deal's close, the outcomes with their results, notes, and the
    outcomes the log declares or names (not inferred from stages no deal leaves)."""
    closing = closing_stages(log.frame, log.outcomes)
    notes = list(closing.notes)
    frame, same, later = cut_after_close(log.frame, closing.results)
    if same or later:
        notes.append(
            f"{same + later} records after a deal's close (its first outcome record) are not "
            f"modelled: {same} at the instant of the close (its own bookkeeping), {later} later "
            "(moves out of an outcome: `flowsim conformance` lists them as after-outcome)"
        )
    results = dict(closing.results)
    nexts = frame.with_columns(nxt=pl.col("stage").shift(-1).over("deal"))
    left = set(nexts.filter(pl.col("nxt").is_not_null())["stage"].unique().to_list())
    for stage in sorted(set(frame["stage"].unique().to_list()) - left - set(results)):
        if closing.declared:
            continue
        results[stage] = infer_result(stage, None)
        notes.append(
            f"'{stage}': no deal ever leaves it, so it is an outcome (result {results[stage]}"
            + (
                ": add it to a mapping's [outcomes] table to say won or lost)"
                if results[stage] == "other"
                else ")"
            )
        )
    # an outcome only its place in the traces reveals ("other") does not make the deals
    # without it open: only declared outcomes and outcomes named won or lost do; the idle
    # rule's outcome closes deals the source holds open, so they stay open here
    idle = log.idle[0] if log.idle is not None else None
    known = {
        s for s, r in closing.results.items() if (closing.declared or r != "other") and s != idle
    }
    return frame, results, notes, known


def _rare_stages(
    frame: pl.DataFrame, results: dict[str, str], min_support: float, notes: list[str]
) -> pl.DataFrame:
    """Leave out the stages fewer than ``min_support`` of the deals visit (their records)."""
    if min_support <= 0:
        return frame
    n = frame["deal"].n_unique()
    per = frame.group_by("stage").agg(pl.col("deal").n_unique().alias("deals"))
    rare = sorted(s for s, d in per.iter_rows() if d < min_support * n and s not in results)
    if rare:
        notes.append(
            f"left out below min-support {min_support:g} of the deals: "
            + ", ".join(f"'{s}'" for s in rare)
            + " (their visits are read as absent: the moves around them join)"
        )
        frame = frame.filter(~pl.col("stage").is_in(rare))
    return frame


def _exits(
    frame: pl.DataFrame,
    results: dict[str, str],
    as_of: datetime | None,
    raw: dict[str, dict[str, float]],
) -> dict[str, dict[str, float]]:
    """Per stage, the expected number of its visits that go to each next stage or outcome.

    Visits of deals still open at the end of the history are censored at ``as_of``: the
    Aalen–Johansen cumulative incidence of each destination ``F_k`` (the competing-risks
    estimate ``flowsim metrics`` reports) times the visits. What the history cannot place
    (``S`` at the longest observed stay, deals that never moved) goes to :data:`ENDED`.
    ``raw`` receives the plain counts (histories that end in a stage counted to ENDED).
    """
    rec = frame.with_columns(
        nxt=pl.col("stage").shift(-1).over("deal"),
        nxt_at=pl.col("entered_at").shift(-1).over("deal"),
    ).filter(~pl.col("stage").is_in(list(results)))
    hours = 1 / US_PER_HOUR
    end = (
        pl.lit(as_of, dtype=pl.Datetime("us", "UTC")) if as_of is not None else pl.col("entered_at")
    )
    rec = rec.with_columns(
        d=(
            (pl.coalesce("nxt_at", end) - pl.col("entered_at")).dt.total_microseconds() * hours
        ).clip(0),
        cause=pl.col("nxt").fill_null(""),
    )
    out: dict[str, dict[str, float]] = {}
    for (stage,), part in rec.partition_by("stage", as_dict=True, maintain_order=True).items():
        causes = sorted(c for c in part["cause"].unique().to_list() if c)
        n = part.height
        counts = {c or ENDED: float(k) for c, k in part.group_by("cause").len().iter_rows()}
        raw[str(stage)] = counts
        if "" not in part["cause"]:
            out[str(stage)] = counts
            continue
        inc = cumulative_incidence(part["d"].to_numpy(), part["cause"].to_numpy(), causes)
        row = {c: inc[c] * n for c in causes if inc[c] > 0}
        if inc["still"] * n > 0:
            row[ENDED] = inc["still"] * n
        out[str(stage)] = row
    return out


def _fold(w: _Work, order: dict[str, int], min_share: float) -> None:
    """Fold the moves below ``min_share`` of a stage's exits into its largest move.

    Moves into an outcome are never folded: however rare, they carry the deal's result, and
    folding them into a loop or a forward move would make the model win more than history.
    """
    for s in w.stages:
        counts = dict(w.edges.get(s, {}))
        if not counts:
            continue
        total = sum(counts.values())
        largest = min(counts, key=lambda t: (-counts[t], order.get(t, len(order)), t))
        small = {
            t: c
            for t, c in counts.items()
            if t != largest and c / total < min_share and t not in w.results
        }
        for t, c in small.items():
            counts[largest] += c
            del counts[t]
        if small:
            w.folded[s] = small
            w.folded_into[s] = largest
            what = ", ".join(
                f"'{_name(t)}' ({_pct(c / total)}, {c:.0f})" for t, c in sorted(small.items())
            )
            w.notes.append(
                f"'{s}': moves below min-share to {what} folded into -> '{_name(largest)}'"
            )
        w.edges[s] = counts


def _name(stage: str) -> str:
    return "ended" if stage == ENDED else stage


def _unfold(w: _Work, s: str, t: str, why: str) -> None:
    c = w.folded[s].pop(t)
    w.edges[s][w.folded_into[s]] -= c
    w.edges[s][t] = c
    w.notes.append(f"'{s}' -> '{_name(t)}' kept although rare: {why}")


def _keep_reachable(w: _Work, entries: list[str], spare: list[str]) -> None:
    """Undo the folding that would cut a stage off from the entries (rare behaviour is kept).

    ``spare``: stages that start a few deals (below the entry share); a stage no entry
    reaches but one of them does is kept (that one becomes an entry too).
    """
    while True:
        reached = _reach(entries, w.edges)
        lost = [s for s in w.stages if s not in reached]
        ways = [
            (c, s, t)
            for s in sorted(reached)
            for t, c in w.folded.get(s, {}).items()
            if t not in reached
        ]
        if not lost or not ways:
            break
        _, s, t = max(ways, key=lambda x: (x[0], x[1], x[2]))
        _unfold(w, s, t, "it is the way into a stage")
    origin = ", ".join(f"'{e}'" for e in [*entries, *spare])
    for s in [s for s in w.stages if s not in _reach([*entries, *spare], w.edges)]:
        w.notes.append(f"'{s}' ({w.visits[s]} visits) cannot be reached from {origin}: left out")
        w.stages.remove(s)
        w.edges.pop(s, None)


def _trapped(w: _Work, outcomes: list[str]) -> list[str]:
    rev: dict[str, dict[str, float]] = {}
    for s, out in w.edges.items():
        for t in out:
            rev.setdefault(t, {})[s] = 1
    ok = _reach(outcomes, rev)
    return [s for s in w.stages if s not in ok]


def _routes(
    w: _Work, entries: list[str], spare: list[str], as_of: datetime | None, min_share: float
) -> list[str]:
    """Fill ``w.edges`` (censoring-aware, folded, every stage reachable from ``entries`` or
    else from ``spare``, see :func:`_keep_reachable`); the outcomes used."""
    raw: dict[str, dict[str, float]] = {}
    exits = _exits(w.frame, w.results, as_of, raw)
    w.edges = {s: dict(exits.get(s, {})) for s in w.stages}
    order = {t: i for i, t in enumerate([*w.stages, *sorted(w.results), ENDED])}
    _fold(w, order, min_share)
    outcomes = [*w.results, ENDED]
    trap = _trapped(w, outcomes)
    for s in trap:  # first undo folding that led out of a trap
        for t in list(w.folded.get(s, {})):
            if t not in trap:
                _unfold(w, s, t, "it is the way out of a loop")
    _keep_reachable(w, entries, spare)
    kept = {*w.stages, *w.results, ENDED}
    w.edges = {
        s: {t: c for t, c in w.edges.get(s, {}).items() if t in kept and c > 0} for s in w.stages
    }
    trap = _trapped(w, outcomes)
    for s in trap:  # a loop no history leaves: the histories that end there end the deal
        w.edges[s] = {t: c for t, c in raw.get(s, {}).items() if t in kept}
        w.edges[s][ENDED] = max(1.0, raw.get(s, {}).get(ENDED, 0.0))
    if trap:
        w.notes.append(
            "no outcome can be reached from "
            + ", ".join(f"'{s}'" for s in trap)
            + ": a move to 'ended' (no outcome recorded) is added"
        )
    used = {t for out in w.edges.values() for t in out}
    if ENDED in used:
        ended = sorted(s for s in w.stages if ENDED in w.edges[s])
        w.notes.append(
            "deals still open at the end of the history are censored (Aalen–Johansen, as "
            "`flowsim metrics` estimates); the share no move can account for goes to 'ended' "
            "(no outcome recorded) from "
            + ", ".join(
                f"'{s}' ({_pct(w.edges[s][ENDED] / sum(w.edges[s].values()))})" for s in ended
            )
        )
    return [o for o in outcomes if o in used]


def _first_stages(frame: pl.DataFrame, stages: list[str], notes: list[str]) -> Counter[str]:
    """How many deals start at each stage: the stage of each deal's first record.

    Parameters
    ----------
    frame : polars.DataFrame
        The log's records, each deal's in time order.
    stages : list of str
        The stages of the model (outcomes are not stages).
    notes : list of str
        Receives a note when some deals' first record is an outcome (no entry for them).

    Returns
    -------
    Counter
        Deals per first stage, for stages only.
    """
    firsts = Counter(frame.group_by("deal").agg(pl.col("stage").first())["stage"].to_list())
    known = set(stages)
    closed = sum(n for s, n in firsts.items() if s not in known)
    if closed:
        notes.append(
            f"{closed} deals start at an outcome (their first record closes them): they "
            "have no entry stage and are left out of the entry mix"
        )
    return Counter({s: n for s, n in firsts.items() if s in known})


def _split_entries(firsts: Counter[str], least: float) -> tuple[list[str], list[str]]:
    """The first stages at or above ``least`` of the deals (largest first), and the rest.

    Parameters
    ----------
    firsts : Counter
        Deals per first stage.
    least : float
        The smallest share of the deals an entry of the mix starts.

    Returns
    -------
    tuple of (list of str, list of str)
        The entries kept and the rarer first stages, each by share (largest first), then name.
    """
    n = sum(firsts.values())
    ranked = sorted(firsts, key=lambda s: (-firsts[s], s))
    kept = [s for s in ranked if firsts[s] >= least * n - 1e-9]
    return kept, [s for s in ranked if s not in kept]


def _nearest(w: _Work, rare: str, entries: list[str], firsts: Counter[str]) -> str | None:
    """The kept entry with the shortest route to ``rare`` (ties: the larger), or None."""
    best: tuple[int, int, str] | None = None
    for e in entries:
        hops, level = 0, {e}
        seen = set(level)
        while level and rare not in level:
            level = {t for s in level for t in w.edges.get(s, {}) if t not in seen}
            seen |= level
            hops += 1
        if rare in level and (best is None or (hops, -firsts[e], e) < best):
            best = (hops, -firsts[e], e)
    return best[2] if best is not None else None


def _entry_mix(
    w: _Work, firsts: Counter[str], kept: list[str], rare: list[str], least: float
) -> dict[str, int]:
    """Deals per entry of the mix: a rare first stage's deals go to the nearest kept entry
    that reaches it (notes say which), or it stays an entry when none does.

    Parameters
    ----------
    w : _Work
        The discovery so far (the routes in ``w.edges``; notes are added to ``w.notes``).
    firsts : Counter
        Deals per first stage.
    kept, rare : list of str
        The first stages at or above ``least`` of the deals, and the rarer ones.
    least : float
        The smallest share of the deals an entry starts (for the notes).

    Returns
    -------
    dict
        Deals per entry stage, the largest first.
    """
    deals = {s: firsts[s] for s in kept if s in w.stages}
    n = sum(firsts.values())
    for s in rare:
        if s not in w.stages:
            continue
        target = _nearest(w, s, list(deals), firsts)
        why = (
            f"'{s}' starts {_deals(firsts[s])} ({_small_pct(firsts[s] / n)}, "
            f"below {_small_pct(least)})"
        )
        if target is None:
            deals[s] = firsts[s]
            w.notes.append(f"{why}: kept as an entry, as no more common entry leads to it")
        else:
            deals[target] += firsts[s]
            w.notes.append(f"{why}: mapped to the nearest entry '{target}', which leads to it")
    return dict(sorted(deals.items(), key=lambda x: (-x[1], x[0])))


def _shares(deals: dict[str, int]) -> dict[str, float]:
    """Entry shares as a ``.flow`` file writes them (0.1 points, ``start 0.7%``), adding up
    to 100%: the largest entry takes what the rounded others leave. Computed in percent and
    divided by 100 as the parser does, so the written file reads back to the same model."""
    n = sum(deals.values())
    if len(deals) < 2:
        return {s: 1.0 for s in deals}
    first, *others = deals
    pct = {s: float(f"{_probability(deals[s] / n) * 100:.12g}") for s in others}
    rest = float(f"{100 - math.fsum(pct.values()):.12g}")
    return {first: rest / 100, **{s: p / 100 for s, p in pct.items()}}


def _mix_note(deals: dict[str, int], shares: dict[str, float], least: float) -> str:
    return (
        "entry mix from each deal's first stage (first stages starting at least "
        f"{_small_pct(least)} of the deals): "
        + ", ".join(f"'{s}' {_small_pct(shares[s])} ({_deals(deals[s])})" for s in deals)
    )


def _last_timestamp(frame: pl.DataFrame) -> datetime | None:
    value = frame.select(
        pl.max_horizontal(
            pl.col("entered_at").max(), pl.col("left_at").max(), pl.col("started_at").max()
        )
    ).item()
    return value if isinstance(value, datetime) else None


def _work_stages(frame: pl.DataFrame, stages: list[str], notes: list[str]) -> list[str]:
    """The stages people work in: owned, and not instant events of a log with lifecycles.

    In an event log with start/complete lifecycles (BPIC 2012's W_ work items), the stages
    recorded as single instants (its A_ and O_ state changes) are system steps; so is a stage
    none of whose records names a resource. They get no owner.
    """
    lifecycle = frame.select(pl.col("left_at").is_not_null().any()).item()
    per = (
        frame.filter(pl.col("stage").is_in(stages))
        .group_by("stage")
        .agg(
            owned=pl.col("owner").is_not_null().mean(),
            instant=pl.col("left_at").is_null().mean(),
        )
    )
    system = sorted(
        s for s, owned, instant in per.iter_rows() if owned == 0 or (lifecycle and instant >= 0.9)
    )
    if system:
        notes.append(
            "system steps (no resource, or instant events in a log with lifecycles) get no "
            "owner: " + ", ".join(f"'{s}'" for s in system)
        )
    return [s for s in stages if s not in system]


def _deal_owners(frame: pl.DataFrame) -> pl.DataFrame:
    """A CRM log's records with the deal's owner where a record names none.

    A CRM names one owner per deal (Olist names the closer on the won record only); an event
    log with lifecycles names the resource of each work item, and is left as it is.
    """
    if frame.select(pl.col("left_at").is_not_null().any()).item():
        return frame
    return frame.with_columns(
        pl.col("owner").backward_fill().forward_fill().over("deal").alias("owner")
    )


def _teams_of(pool: Pool, teams: dict[str, str]) -> set[str]:
    return {teams.get(m, m) for m in pool.members}


def _roles(
    log: DealLog,
    frame: pl.DataFrame,
    stages: list[str],
    table: dict[str, str] | None,
    mode: RoleMode,
    notes: list[str],
    tz: str = "UTC",
) -> tuple[tuple[Role, ...], dict[str, str]]:
    """The roles (pools, one per person, or none) and each work stage's owner role id."""
    if mode == "none" or frame.select(pl.col("owner").is_null().all()).item():
        return (), {}
    frame = _deal_owners(frame)
    work = _work_stages(frame, stages, notes)
    teams = dict(table if table is not None else log.roles)
    pools = resource_pools(frame, work, teams or None, cluster=mode == "pools")
    if not pools:
        return (), {}
    if mode == "per-person" or (teams and all(len(_teams_of(p, teams)) == 1 for p in pools)):
        ids = _unique_ids([p.label for p in pools], set(), "role")
        role_ids = [ids[p.label] for p in pools]
    else:
        role_ids = [f"pool_{k}" for k in range(1, len(pools) + 1)]
    how = (
        "one per person or per role of the owner → role table"
        if mode == "per-person"
        else f"pools of resources by activity profile (cosine ≥ {SIMILARITY:g})"
        + (", the owner → role table's teams as units" if teams else "")
    )
    owner: dict[str, str] = {}
    for s in work:
        best = max(range(len(pools)), key=lambda k: (pools[k].work.get(s, 0), -k))
        if pools[best].work.get(s, 0):
            owner[s] = role_ids[best]
    people = sum(len(p.members) for p in pools)
    notes.append(
        f"roles: {len(pools)} from {people} people, {how}; headcount = the members active in "
        "the period (a typical week: the median of the members active that week): "
        + ", ".join(
            f"{r} '{p.label}' headcount {p.headcount} ({p.weekly} in a typical week)"
            for r, p in list(zip(role_ids, pools, strict=True))[:8]
        )
        + (" ..." if len(pools) > 8 else "")
    )
    calendars = _calendars(frame, pools, role_ids, tz, notes)
    models = tuple(
        Role(
            id=r,
            label=p.label if p.label != r else None,
            headcount=p.headcount,
            calendar=calendars[r],
        )
        for r, p in zip(role_ids, pools, strict=True)
    )
    return models, owner


def _calendars(
    frame: pl.DataFrame, pools: list[Pool], role_ids: list[str], tz: str, notes: list[str]
) -> dict[str, Calendar | None]:
    """Each pool's working calendar (:mod:`flowsim.history.calendars`), with a note."""
    found = {
        r: pool_calendar(frame, list(p.members), tz) for r, p in zip(role_ids, pools, strict=True)
    }
    if all(c.events == 0 for c in found.values()):
        notes.append(
            "calendars: none (no work items with start and end times of day: the log "
            "shows when deals changed stage, not when people work)"
        )
        return {r: None for r in role_ids}
    notes.append(
        f"calendars ({tz}; a weekday x hour works where the pool's work-item starts and ends "
        f"reach {CELL_SHARE:.0%} of its mean busy hour and {MIN_CELL_EVENTS} instants, a "
        f"weekday where those hold {DAY_SHARE:.0%} of them, an hour on half the working "
        "days): "
        + "; ".join(
            f"{r} {fmt_calendar(c.calendar)} ({c.events} instants)"
            if c.calendar is not None
            else f"{r} none: {c.reason} ({c.events} instants)"
            for r, c in found.items()
        )
    )
    return {r: c.calendar for r, c in found.items()}


def _process_calendar(
    roles: tuple[Role, ...], stages: list[Stage], notes: list[str]
) -> tuple[tuple[Role, ...], Calendar | None]:
    """One process calendar when every pool has the same one and every stage with effort
    has an owner (the process calendar is also the ownerless stages' working time)."""
    first = roles[0].calendar if roles else None
    if (
        first is None
        or any(r.calendar != first for r in roles)
        or any(s.owner is None and s.effort for s in stages)
    ):
        return roles, None
    notes.append("calendars: every pool has the same one: written as the process calendar")
    return tuple(r.model_copy(update={"calendar": None}) for r in roles), first


def _extraneous(w: _Work, waits: WaitMode) -> dict[str, np.ndarray] | None:
    """Per stage, the extraneous delays after its work items (hours), with a note; None when
    ``waits`` is "observed" or the log has no resources on started work items."""
    frame = w.frame
    if (
        waits == "observed"
        or not frame.select(
            (pl.col("started_at").is_not_null() & pl.col("owner").is_not_null()).any()
        ).item()
    ):
        return None
    parts = waiting_anatomy(frame)
    gap, busy = float(parts["gap"].sum()), float(parts["contention"].sum())
    w.notes.append(
        "waits of work items (the engine's wait follows the effort): the extraneous delay "
        f"of the {parts.height} gaps from a work item's end to its deal's next item's start "
        f"(a deal's first item: also schedule → start); {busy / gap if gap else 0:.1%} of their "
        f"{gap:.0f} h the resource was busy on other deals (contention, left to the "
        "simulation's queues), not fitted into wait; off-calendar time stays in it (a wait is "
        "calendar time: only effort runs on the owner's calendar)"
    )
    column = "extraneous" if waits == "extraneous" else "gap"
    return {
        str(k[0]): part[column].to_numpy().astype(float)
        for k, part in parts.partition_by("stage", as_dict=True).items()
    }


def _stage_models(
    w: _Work,
    ids: dict[str, str],
    owner: dict[str, str],
    mix: dict[str, float],
    as_of: datetime | None,
    waits: WaitMode = "extraneous",
    calendars: dict[str, Calendar] | None = None,
) -> tuple[list[Stage], dict[str, dict[str, Fit]]]:
    """Each stage's model and fits; ``calendars`` (role id → calendar): the effort of a stage
    whose owner has one is counted in its working hours."""
    on = {s: calendars[r] for s, r in owner.items() if calendars and r in calendars}
    samples = _durations(w.frame, as_of, on)
    delays = _extraneous(w, waits)
    fits: dict[str, dict[str, Fit]] = {}
    models: list[Stage] = []
    for s in w.stages:
        data = samples[s]
        split = len(data["waiting"]) > 0 and len(data["waiting"]) * 2 >= len(data["dwell"])
        if split:  # deals still waiting or still worked on are censored, not left out
            if delays is not None:  # the queue for the owner is the engine's to add
                wait_fit = fit_duration(delays.get(s, np.zeros(0)))
            else:
                wait_fit = fit_duration(data["waiting"], data["waiting_open"])
            effort_fit = fit_duration(data["working"], data["working_open"])
            fits[s] = {"wait": wait_fit, "effort": effort_fit}
        else:  # the time in stage: deals still in it are censored, not left out
            wait_fit, effort_fit = fit_duration(data["dwell"], data["open"]), None
            fits[s] = {"wait": wait_fit}
        models.append(
            Stage(
                id=ids[s],
                label=s if s != ids[s] else None,
                owner=owner.get(s),
                effort=effort_fit.distribution if effort_fit else None,
                wait=wait_fit.distribution,
                # one entry: `start` only when it is not the first stage anyway; a mix: shares
                start=s in mix and (len(mix) > 1 or s != w.stages[0]),
                start_share=mix[s] if s in mix and len(mix) > 1 else None,
            )
        )
    chosen = Counter(f.chosen for per in fits.values() for f in per.values())
    running = sum(f.censored for per in fits.values() for f in per.values())
    w.notes.append(
        "durations (hours; wait = time in stage, or entered → started and effort = started → "
        "left where start times exist, in the owner's working hours where it has a calendar; "
        f"{running} stays still running at the end of the "
        "history are censored: they count as at least that long): "
        + ", ".join(f"{k} {v}" for k, v in sorted(chosen.items()))
        + " (censored maximum likelihood, AIC among exponential, lognormal, gamma; empirical "
        f"(Kaplan–Meier) below {MIN_FIT_SAMPLES} ended stays, when the best fit's KS distance "
        f"exceeds {MAX_KS} or when its tail is not the history's)"
    )
    return models, fits


def _transitions(w: _Work, ids: dict[str, str], outcomes: list[str]) -> list[Transition]:
    order = {t: i for i, t in enumerate([*w.stages, *outcomes])}
    out: list[Transition] = []
    for s in w.stages:
        counts = {t: c for t, c in w.edges[s].items() if c > 0}
        total = sum(counts.values())
        ranked = sorted(counts, key=lambda t: (-counts[t], order[t]))
        for t in ranked[1:]:
            out.append(
                Transition(
                    source=ids[s], target=ids[t], probability=_probability(counts[t] / total)
                )
            )
        out.append(Transition(source=ids[s], target=ids[ranked[0]]))
    return out


def _truncation(
    frame: pl.DataFrame, first: datetime, last: datetime, known: set[str]
) -> Truncation:
    """Whether the deals of ``frame`` are right-truncated at ``last``, and the rate then.

    A deal is open when its last record is not one of the ``known`` outcomes (a log that
    declares none has no notion of open deals); a deal runs from its first record to its last
    record's end.
    """
    ends = pl.max_horizontal(pl.col("entered_at"), pl.col("left_at"))
    per = (
        frame.sort("entered_at")
        .group_by("deal")
        .agg(pl.col("entered_at").min().alias("t0"), ends.max().alias("t1"), pl.col("stage").last())
    )
    share = None
    if known:
        share = per.filter(~pl.col("stage").is_in(sorted(known))).height / max(per.height, 1)
    seconds = [(per[c].dt.epoch("us").to_numpy() / 1e6) for c in ("t0", "t1")]
    return truncation(seconds[0], seconds[1], first.timestamp(), last.timestamp(), share)


def _arrivals(
    frame: pl.DataFrame,
    n_deals: int,
    weeks: float | None,
    tz: str,
    calendar: Calendar | None,
    known: set[str],
    notes: list[str],
) -> tuple[RateArrivals | None, ArrivalProfile | None]:
    """The arrival rate (corrected when the log is right-truncated,
    :mod:`flowsim.history.truncation`) and the profile the log supports
    (:mod:`flowsim.history.arrivals`)."""
    if not weeks:
        notes.append("arrivals left out: the log spans no time")
        return None, None
    firsts = frame.group_by("deal").agg(pl.col("entered_at").min())["entered_at"].to_list()
    first = frame["entered_at"].min()
    assert isinstance(first, datetime)
    last = first + timedelta(weeks=weeks)
    default_tz = (calendar.timezone if calendar is not None else None) or "UTC"
    cut = _truncation(frame, first, last, known)
    notes.append(f"arrival rate: {cut.note}")
    window = datetime.fromtimestamp(cut.window_end, UTC)
    fit = fit_arrivals(
        firsts, first, last, tz, default_tz, (cut.per_week, window) if cut.truncated else None
    )
    trend = fit.profile is not None and fit.profile.trend is not None
    rate = n_deals / weeks
    notes.append(
        f"arrivals: {n_deals} deals over {weeks:.1f} weeks (first record to the last "
        f"timestamp) = {rate:.3g} per week"
        + (f"; {fit.per_week:.3g} per week on the trend's date" if trend else "")
    )
    notes.append(f"arrival profile ({tz}): " + "; ".join(fit.notes))
    arrivals = RateArrivals(count=nice_rate(fit.per_week), per="week", profile=fit.profile)
    return arrivals, arrival_profile(frame, weeks, tz)


def _routes_and_entries(
    w: _Work, as_of: datetime | None, min_share: float, min_support: float
) -> tuple[list[str], dict[str, float]]:
    """The routes (every stage a deal starts at is kept) and the entry mix, with notes.

    Parameters
    ----------
    w : _Work
        The discovery so far; ``w.edges`` and ``w.stages`` are settled here.
    as_of : datetime or None
        The end of the history (deals still open are censored there).
    min_share : float
        Moves below this share of a stage's exits fold into its largest.
    min_support : float
        A first stage is an entry when it starts at least this share of the deals (at least
        :data:`MIN_ENTRY_SHARE`); rarer ones are mapped to the nearest entry.

    Returns
    -------
    tuple of (list of str, dict)
        The outcomes used, and each entry stage's share (the largest first).
    """
    firsts = _first_stages(w.frame, w.stages, w.notes)
    least = max(min_support, MIN_ENTRY_SHARE)
    kept, rare = _split_entries(firsts, least)
    outcome_names = _routes(w, kept or w.stages[:1], rare, as_of, min_share)
    deals = _entry_mix(w, firsts, kept, rare, least) or {w.stages[0]: 0}
    shares = _shares(deals)
    if len(deals) > 1:
        w.notes.append(_mix_note(deals, shares, least))
    return outcome_names, shares


def discover(
    log: DealLog,
    *,
    min_share: float = 0.02,
    min_support: float = 0.0,
    name: str | None = None,
    roles: dict[str, str] | None = None,
    role_mode: RoleMode = "pools",
    tz: str = "UTC",
    waits: WaitMode = "extraneous",
) -> Discovery:
    """Learn a process from ``log`` (see the module docstring and docs/metrics.md).

    Parameters
    ----------
    log : DealLog
        The deal history.
    min_share : float, default 0.02
        Folds a stage's moves rarer than this share of its exits into its largest move
        (``0 <= min_share < 0.5``).
    min_support : float, default 0.0
        Leaves out stages fewer than this share of the deals visit (``0 <= min_support < 1``).
    name : str, optional
        The process's name (default: the log's file name).
    roles : dict of str to str, optional
        Owner → team: names the resource pools.
    role_mode : {"pools", "per-person", "none"}, default "pools"
        The roles are resource pools (people with the same activity profile), one per person,
        or none.
    tz : str, default "UTC"
        The time zone of the arrival profile (weekday, hour of day) and of working hours.
    waits : {"extraneous", "gap", "observed"}, default "extraneous"
        How a work item's wait is read in a log with start times and resources: the
        extraneous delay after it (the gap to its deal's next record less the time the next
        item's resource was busy on other deals, which the simulation's queue adds;
        :mod:`flowsim.history.delays`), the whole gap after it, or its own schedule → start.

    Returns
    -------
    Discovery
        ``process`` (a :class:`Process`: stages, outcomes, transitions with probabilities,
        fitted durations, roles, arrivals), ``to_flow()`` (its ``.flow`` text with comments on
        the evidence), ``fits`` (every distribution tried), ``arrivals`` and ``notes``.

    Raises
    ------
    InputError
        ``min_share`` or ``min_support`` out of range, an empty log, or a log whose every
        stage ends deals.

    Examples
    --------
    >>> import flowsim
    >>> log = flowsim.read_log("examples/history/b2b-cn-deals.csv", tz="Asia/Shanghai")
    >>> found = flowsim.discover(log, tz="Asia/Shanghai")
    >>> [s.id for s in found.process.stages], [o.result for o in found.process.outcomes]
    (['初步接触', '需求分析', '方案设计', '谈判签约'], ['won', 'lost'])
    >>> found.arrivals.deals, round(found.arrivals.per_week, 1)
    (1049, 40.4)
    >>> print(found.to_flow().splitlines()[0])
    process "b2b-cn-deals" {
    """
    if not 0 <= min_share < 0.5:
        raise InputError(f"min_share must be in [0, 0.5), not {min_share}")
    if not 0 <= min_support < 1:
        raise InputError(f"min_support must be in [0, 1), not {min_support}")
    if log.frame.height == 0:
        raise InputError("the log has no records: nothing to discover")
    frame, results, notes, known = _outcomes(log)
    frame = _rare_stages(frame, results, min_support, notes)
    position = _mean_first_positions(frame)
    stage_names = sorted((s for s in position if s not in results), key=lambda s: (position[s], s))
    if not stage_names:
        raise InputError("every stage of the log ends deals: there is no stage to discover")
    visits = {str(s): int(n) for s, n in frame.group_by("stage").len().iter_rows()}
    w = _Work(frame, results, stage_names, visits, notes)
    n_deals = frame["deal"].n_unique()
    as_of = _last_timestamp(log.frame)
    outcome_names, mix = _routes_and_entries(w, as_of, min_share, min_support)

    taken: set[str] = set()
    ids = _unique_ids([*w.stages, *(o for o in outcome_names if o != ENDED)], taken, "stage")
    ids[ENDED] = _unique_ids(["ended"], taken, "outcome")["ended"]
    role_models, owner = _roles(log, frame, w.stages, roles, role_mode, notes, tz)
    calendars = {r.id: r.calendar for r in role_models if r.calendar is not None}
    stage_models, fits = _stage_models(w, ids, owner, mix, as_of, waits, calendars)
    role_models, calendar = _process_calendar(role_models, stage_models, notes)

    rank = {"won": 0, "lost": 1, "other": 2}
    entered = {str(s): int(n) for s, n in frame.group_by("stage").len().iter_rows()}
    outcome_names.sort(
        key=lambda o: (o == ENDED, rank[results.get(o, "other")], -entered.get(o, 0), o)
    )
    idle_stage, idle_hours = log.idle if log.idle is not None else (None, None)
    outcome_models = tuple(
        Outcome(
            id=ids[o],
            label="Ended (no outcome recorded)" if o == ENDED else o if o != ids[o] else None,
            result=results.get(o, "other"),
            idle=idle_hours if o == idle_stage else None,
        )
        for o in outcome_names
    )
    weeks = metrics(log, survival=False).process.observation_weeks
    arrivals, profile = _arrivals(frame, n_deals, weeks, tz, calendar, known, notes)
    process = Process(
        name=name or _process_name(log),
        arrivals=arrivals,
        calendar=calendar,
        roles=role_models,
        stages=tuple(stage_models),
        outcomes=outcome_models,
        transitions=tuple(_transitions(w, ids, outcome_names)),
    )
    blocks = find_blocks(frame, w.stages, notes)
    if blocks:
        process = with_blocks(
            process, blocks, ids, notes, lambda hours: fit_duration(hours).distribution
        )
    return Discovery(process=process, notes=notes, fits=fits, arrivals=profile)
