"""Model discovery: learn a ``.flow`` process from a deal log (``flowsim discover``).

``discover(log)`` returns a :class:`Discovery`: a :class:`~flowsim.model.Process` that passes
``flowsim.check`` without errors, written through the formatter like any hand-written model,
and ``notes`` saying what was folded, fitted and assumed. The rules (also in
``docs/metrics.md``, "Discovery"):

- **Counts** come from :func:`flowsim.history.metrics.metrics` (records, directly-follows exits
  per stage); the **stage order** is the metrics' observed order (mean first position).
- **Outcomes** are the log's *final* stages: a stage no deal ever leaves, or a stage whose words
  read won/lost (:func:`~flowsim.dsl.builder.infer_result`) that at most ``min_share`` of its
  visits leave (those continuations are dropped). The result comes from the words.
- **Open deals** (last record in a non-final stage) are censored: their last visit creates no
  edge. Only where that would trap deals (stages that reach no outcome) are their ends read as
  real ends, into an added outcome ``ended`` ("Ended (no outcome recorded)", result other).
- **Transitions** are directly-follows shares per source; edges below ``min_share`` are folded
  into the source's largest edge, which is written without a probability (the remainder).
- **Durations** (hours, closed visits only) are fitted per stage by AIC among exponential,
  lognormal and gamma (maximum likelihood); empirical when fewer than 30 values or when the best
  fit is poor (Kolmogorov–Smirnov distance above 0.1).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from flowsim.checks import KEYWORDS
from flowsim.dsl.builder import infer_result
from flowsim.history.log import DealLog
from flowsim.history.metrics import US_PER_HOUR, metrics
from flowsim.model import (
    UNITS_IN_HOURS,
    WORD_RE,
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
)

__all__ = [
    "MAX_KS",
    "MIN_FIT_SAMPLES",
    "ArrivalProfile",
    "Discovery",
    "Fit",
    "arrival_profile",
    "discover",
    "fit_duration",
    "slug",
]

#: An AIC this close to the best (Burnham & Anderson's rule of thumb) counts as as good.
AIC_TIE = 2.0
#: Fewer closed visits than this: the durations are resampled (empirical), not fitted.
MIN_FIT_SAMPLES = 30
#: The best fit's Kolmogorov–Smirnov distance above this: empirical instead.
MAX_KS = 0.1
#: Values an empirical distribution keeps when there are more observations (quantiles).
EMPIRICAL_POINTS = 20
#: Points of the empirical CDF the KS distance is evaluated at (order statistics).
KS_POINTS = 400
#: Internal name of the outcome added where open deals would otherwise be trapped.
ENDED = "\x00ended"

Family = Literal["exponential", "lognormal", "gamma"]


@dataclass(frozen=True)
class Fit:
    """How one sample of durations (hours) was summarised, and why."""

    distribution: Distribution | None
    n: int
    chosen: str
    aic: dict[str, float] = field(default_factory=dict)
    ks: float | None = None
    reason: str = ""


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class ArrivalProfile:
    """When deals arrive: the weekly rate and its shape over the week and the day.

    ``weekday`` maps ``Mon``..``Sun`` and ``hour`` maps 0..23 to the share of deals whose
    first record falls there, in time zone ``tz`` (the deals' local time: ``--tz``); both
    sum to 1. The .flow language has no syntax for a profile yet, so :meth:`Discovery.to_flow`
    writes it as a comment block above ``arrivals``.
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

    def to_flow(self) -> str:
        """The process as canonical ``.flow`` text (through the formatter).

        The arrival profile goes in as a comment block right above the ``arrivals`` line,
        indented like it, where ``flowsim fmt`` keeps it.
        """
        text = self.process.to_flow()
        if self.arrivals is None:
            return text
        out: list[str] = []
        done = False
        for line in text.splitlines(keepends=True):
            stripped = line.lstrip()
            if not done and stripped.startswith("arrivals "):
                indent = line[: len(line) - len(stripped)]
                out.extend(f"{indent}{c}\n" for c in self.arrivals.comment())
                done = True
            out.append(line)
        return "".join(out)


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


def nice_hours(hours: float) -> float:
    """Round a duration so the file reads as a person would write it.

    One decimal (whole from 100) in the unit that reads naturally (days from 24 h, hours from
    1 h, else minutes), falling back to finer units when the formatter could not print the
    rounded value short (``5.9 * 24`` is not exactly ``141.6``); below a minute, two
    significant digits in hours.
    """
    from flowsim.dsl.formatter import fmt_duration, fmt_number

    if hours <= 0:
        return 0.0
    units = ("d", "h", "m")
    first = 0 if hours >= 24 else 1 if hours >= 1 else 2
    for unit in units[first:]:
        factor = UNITS_IN_HOURS[unit]
        value = hours / factor
        rounded = float(round(value) if value >= 100 else round(value, 1))
        if rounded == 0:
            continue
        candidate = rounded * factor  # as the parser computes `2.5d`: 2.5 * 24.0
        if len(fmt_duration(candidate)) <= len(fmt_number(rounded)) + 1:
            return candidate
    return float(f"{hours:.2g}")


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


def _ks(family: Family, params: tuple[float, float], values: np.ndarray) -> float:
    """Kolmogorov–Smirnov distance, evaluated at up to KS_POINTS order statistics."""
    x = np.sort(values)
    n = len(x)
    idx = np.unique(np.linspace(0, n - 1, min(n, KS_POINTS)).round().astype(int))
    worst = 0.0
    for i in idx:
        # the last index of a run of ties: the ECDF jumps over the whole run there
        j = int(np.searchsorted(x, x[i], side="right"))
        lo = int(np.searchsorted(x, x[i], side="left"))
        f = _cdf(family, params, float(x[i]))
        worst = max(worst, abs(f - j / n), abs(f - lo / n))
    return worst


def _to_model(family: Family, params: tuple[float, float]) -> Distribution:
    if family == "exponential":
        return Exponential(mean=nice_hours(params[0]))
    if family == "lognormal":
        mu, sigma = params
        mean = math.exp(mu + sigma * sigma / 2)
        sd = mean * math.sqrt(math.expm1(sigma * sigma))
    else:
        k, theta = params
        mean, sd = k * theta, math.sqrt(k) * theta
    cls = LogNormal if family == "lognormal" else Gamma
    return cls(mean=nice_hours(mean), sd=nice_hours(sd))


def _empirical(values: np.ndarray) -> Distribution | None:
    x = np.sort(values)
    if len(x) > EMPIRICAL_POINTS:
        x = np.quantile(x, (np.arange(EMPIRICAL_POINTS) + 0.5) / EMPIRICAL_POINTS)
    kept = tuple(nice_hours(float(v)) for v in x)
    if not any(kept):
        return None
    if len(set(kept)) == 1:
        return Fixed(value=kept[0])
    return Empirical(values=kept)


def fit_duration(values: np.ndarray | list[float]) -> Fit:
    """Summarise durations (hours) as the distribution a ``.flow`` file would state.

    Exponential, lognormal and gamma are fitted by maximum likelihood on the values above 0
    and compared by AIC (``2k - 2 log L``); the winner stands unless there are fewer than
    :data:`MIN_FIT_SAMPLES` values or its Kolmogorov–Smirnov distance to all the values
    (zeros included) exceeds :data:`MAX_KS`: then the values are resampled (``empirical``;
    above :data:`EMPIRICAL_POINTS` values, that many midpoint quantiles). Equal values give
    ``fixed``; all zero (or none) gives no distribution.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0 or not (x > 0).any():
        return Fit(None, n, "none", reason="no duration above 0")
    if np.all(x == x[0]):
        return Fit(Fixed(value=nice_hours(float(x[0]))), n, "fixed", reason="all equal")
    if n < MIN_FIT_SAMPLES:
        return Fit(_empirical(x), n, "empirical", reason=f"n = {n} < {MIN_FIT_SAMPLES}")
    pos = x[x > 0]
    m = len(pos)
    logs = np.log(pos)
    mean = float(pos.mean())
    sum_logs = float(logs.sum())
    params: dict[Family, tuple[float, float]] = {"exponential": (mean, 0.0)}
    aic: dict[str, float] = {"exponential": 2 - 2 * (-m * math.log(mean) - m)}
    mu, sigma = float(logs.mean()), float(logs.std())
    if sigma > 0:
        params["lognormal"] = (mu, sigma)
        ll = -sum_logs - m * math.log(sigma) - m / 2 * math.log(2 * math.pi) - m / 2
        aic["lognormal"] = 4 - 2 * ll
    s = math.log(mean) - float(logs.mean())
    if s > 0:
        k = _gamma_shape(s)
        theta = mean / k
        params["gamma"] = (k, theta)
        ll = (k - 1) * sum_logs - m * mean / theta - m * k * math.log(theta) - m * math.lgamma(k)
        aic["gamma"] = 4 - 2 * ll
    best: Family = min(params, key=lambda f: aic[f])
    if aic["exponential"] - aic[best] <= AIC_TIE:
        best = "exponential"  # as good within the AIC's resolution, with one parameter less
    ks = _ks(best, params[best], x)
    if ks > MAX_KS:
        return Fit(_empirical(x), n, "empirical", aic, ks, f"best fit {best} is poor (KS {ks:.2f})")
    return Fit(_to_model(best, params[best]), n, best, aic, ks, "lowest AIC")


# ---- discovery -------------------------------------------------------------------------------


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def _process_name(log: DealLog) -> str:
    name = Path(log.report.source).name
    for ending in (".xes.gz", ".csv.gz", ".parquet", ".xlsx", ".csv", ".tsv", ".txt", ".xes"):
        if name.lower().endswith(ending):
            return name[: -len(ending)] or name
    return name or "discovered"


def _durations(frame: pl.DataFrame) -> dict[str, dict[str, np.ndarray]]:
    """Per stage: closed-visit dwell, and waiting/working where start times exist (hours)."""
    hours = 1 / US_PER_HOUR
    rec = frame.with_columns(
        pl.col("entered_at").shift(-1).over("deal").alias("next_at"),
    ).with_columns(
        (
            (pl.coalesce("left_at", "next_at") - pl.col("entered_at")).dt.total_microseconds()
            * hours
        ).alias("dwell"),
        ((pl.col("started_at") - pl.col("entered_at")).dt.total_microseconds() * hours).alias(
            "waiting"
        ),
        ((pl.col("left_at") - pl.col("started_at")).dt.total_microseconds() * hours).alias(
            "working"
        ),
    )
    out: dict[str, dict[str, np.ndarray]] = {}
    for key, part in rec.partition_by("stage", as_dict=True).items():
        out[str(key[0])] = {
            c: part[c].drop_nulls().to_numpy().astype(float)
            for c in ("dwell", "waiting", "working")
        }
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


def _reach(starts: list[str], adj: dict[str, dict[str, int]]) -> set[str]:
    seen = set(starts)
    todo = list(starts)
    while todo:
        for nxt in adj.get(todo.pop(), {}):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def discover(
    log: DealLog,
    *,
    min_share: float = 0.02,
    name: str | None = None,
    roles: dict[str, str] | None = None,
    tz: str = "UTC",
) -> Discovery:
    """Learn a process from ``log`` (see the module docstring and docs/metrics.md)."""
    if not 0 <= min_share < 0.5:
        raise ValueError(f"min_share must be in [0, 0.5), not {min_share}")
    frame = log.frame
    if frame.height == 0:
        raise ValueError("the log has no records: nothing to discover")
    notes: list[str] = []
    m = metrics(log)
    position = _mean_first_positions(frame)

    # --- outcomes: final stages -------------------------------------------------------------
    results: dict[str, str] = {}
    dropped_after: dict[str, int] = {}
    for stage, sm in m.stages.items():
        words = infer_result(stage, None)
        if sm.exits == 0:
            results[stage] = words
            if words == "other":
                notes.append(
                    f"'{stage}': no deal ever leaves it, so it is an outcome; its words read "
                    "neither won nor lost: result other (add `result won` or `result lost`)"
                )
        elif words in ("won", "lost"):
            share = sm.exits / sm.visits
            if share <= min_share:
                results[stage] = words
                dropped_after[stage] = sm.exits
                notes.append(
                    f"'{stage}' reads as {words}: an outcome; {sm.exits} of {sm.visits} visits "
                    f"({_pct(share)}) continue after it, below min-share: those moves dropped"
                )
            else:
                notes.append(
                    f"'{stage}' reads as {words} but {_pct(share)} of its visits continue "
                    "afterwards: kept as a stage"
                )
    stage_names = sorted((s for s in m.stages if s not in results), key=lambda s: (position[s], s))
    if not stage_names:
        raise ValueError("every stage of the log ends deals: there is no stage to discover")

    # --- entry: the most common first stage (among stages) ----------------------------------
    firsts = Counter(frame.group_by("deal").agg(pl.col("stage").first())["stage"].to_list())
    entry = min(
        (s for s in stage_names if firsts.get(s)),
        key=lambda s: (-firsts[s], s),
        default=stage_names[0],
    )
    n_deals = sum(firsts.values())
    if firsts.get(entry, 0) < n_deals:
        others = n_deals - firsts.get(entry, 0)
        notes.append(
            f"entry '{entry}': {firsts.get(entry, 0)} of {n_deals} deals start there; "
            f"{others} start elsewhere"
        )

    # --- transitions: directly-follows shares, noise folded ---------------------------------
    edges: dict[str, dict[str, int]] = {}
    folded: dict[str, dict[str, int]] = {}
    folded_into: dict[str, str] = {}
    for s in stage_names:
        sm = m.stages[s]
        counts = dict(sm.exits_to)
        if not counts:
            continue
        order = {t: i for i, t in enumerate([*stage_names, *sorted(results)])}
        largest = min(counts, key=lambda t: (-counts[t], order.get(t, len(order)), t))
        small = {t: c for t, c in counts.items() if t != largest and c / sm.exits < min_share}
        for t, c in small.items():
            counts[largest] += c
            del counts[t]
        if small:
            folded[s] = small
            folded_into[s] = largest
            what = ", ".join(f"'{t}' ({_pct(c / sm.exits)}, {c})" for t, c in sorted(small.items()))
            notes.append(f"'{s}': moves below min-share to {what} folded into -> '{largest}'")
        edges[s] = counts

    # --- traps: stages from which no outcome is reachable -----------------------------------
    def trapped() -> list[str]:
        rev: dict[str, dict[str, int]] = {}
        for s, out in edges.items():
            for t in out:
                rev.setdefault(t, {})[s] = 1
        ok = _reach(list(outcome_names), rev)
        return [s for s in stage_names if s not in ok]

    outcome_names = list(results)
    trap = trapped()
    if trap:
        for s in trap:  # first undo folding that led out of the trap
            for t, c in folded.get(s, {}).items():
                if t not in trap:
                    edges[s][folded_into[s]] -= c
                    edges[s][t] = c
                    notes.append(f"'{s}' -> '{t}' kept although rare: it is the way out of a loop")

    # --- reachability: stages and outcomes the entry cannot reach are left out ---------------
    reached = _reach([entry], edges)
    for s in [s for s in stage_names if s not in reached]:
        notes.append(
            f"'{s}' ({m.stages[s].visits} visits) cannot be reached from '{entry}' along the "
            "kept moves: left out"
        )
    for o in [o for o in results if o not in reached]:
        notes.append(f"outcome '{o}' is reached only by folded or dropped moves: left out")
    stage_names = [s for s in stage_names if s in reached]
    outcome_names = [o for o in results if o in reached]
    edges = {s: {t: c for t, c in edges[s].items() if t in reached} for s in stage_names}

    trap = trapped()
    ended: str | None = None
    if trap:
        ended = ENDED
        outcome_names.append(ended)
        results[ended] = "other"
        for s in trap:
            ends = m.stages[s].visits - m.stages[s].exits
            if ends:
                edges[s][ended] = ends
        for s in trapped():  # no deal's history ends there either: assume one would
            edges[s][ended] = 1
        notes.append(
            "no outcome can be reached from "
            + ", ".join(f"'{s}'" for s in trap)
            + ": the deals whose history ends there are read as ended (outcome 'ended', "
            "result other), not as open"
        )

    # --- ids and labels ----------------------------------------------------------------------
    taken: set[str] = set()
    ids = _unique_ids([*stage_names, *(o for o in outcome_names if o != ENDED)], taken, "stage")
    ids[ENDED] = _unique_ids(["ended"], taken, "outcome")["ended"]

    # --- roles from owners -------------------------------------------------------------------
    table = dict(roles if roles is not None else log.roles)
    owned = frame.filter(pl.col("owner").is_not_null())
    owners = sorted(owned["owner"].unique().to_list())
    role_of = {o: table.get(o, o) for o in owners}
    missing = [o for o in owners if table and o not in table]
    if missing:
        notes.append(
            f"{len(missing)} owner(s) not in the owner → role table get a role of their own: "
            + ", ".join(missing[:5])
            + (" ..." if len(missing) > 5 else "")
        )
    role_names = sorted(set(role_of.values()))
    role_ids = _unique_ids(role_names, set(), "role")
    headcount = Counter(role_of.values())
    stage_owner: dict[str, str] = {}
    if owners:
        per = owned.group_by("stage", "owner").len().iter_rows()
        tally: dict[str, Counter[str]] = {}
        for st, ow, n in per:
            tally.setdefault(st, Counter())[role_ids[role_of[ow]]] += n
        for st, votes in tally.items():
            stage_owner[st] = min(votes, key=lambda r: (-votes[r], r))
    role_models = tuple(
        Role(
            id=role_ids[r],
            label=r if r != role_ids[r] else None,
            headcount=headcount[r],
        )
        for r in role_names
    )

    # --- durations ---------------------------------------------------------------------------
    samples = _durations(frame)
    fits: dict[str, dict[str, Fit]] = {}
    stage_models: list[Stage] = []
    for s in stage_names:
        data = samples[s]
        split = len(data["waiting"]) > 0 and len(data["waiting"]) * 2 >= len(data["dwell"])
        if split:
            wait_fit, effort_fit = fit_duration(data["waiting"]), fit_duration(data["working"])
            fits[s] = {"wait": wait_fit, "effort": effort_fit}
        else:
            wait_fit, effort_fit = fit_duration(data["dwell"]), None
            fits[s] = {"wait": wait_fit}
        stage_models.append(
            Stage(
                id=ids[s],
                label=s if s != ids[s] else None,
                owner=stage_owner.get(s),
                effort=effort_fit.distribution if effort_fit else None,
                wait=wait_fit.distribution,
                start=s == entry and s != stage_names[0],
            )
        )
    chosen = Counter(f.chosen for per in fits.values() for f in per.values())
    notes.append(
        "durations (hours of closed visits; wait = time in stage, or entered → started and "
        "effort = started → left where start times exist): "
        + ", ".join(f"{k} {v}" for k, v in sorted(chosen.items()))
        + f" (AIC among exponential, lognormal, gamma; empirical below {MIN_FIT_SAMPLES} values "
        f"or when the best fit's KS distance exceeds {MAX_KS})"
    )

    # --- outcomes, transitions ---------------------------------------------------------------
    rank = {"won": 0, "lost": 1, "other": 2}
    outcome_names.sort(
        key=lambda o: (
            o == ended,
            rank[results[o]],
            -(m.stages[o].entered if o in m.stages else 0),
            o,
        )
    )
    outcome_models = tuple(
        Outcome(
            id=ids[o],
            label="Ended (no outcome recorded)" if o == ended else o if o != ids[o] else None,
            result=results[o],
        )
        for o in outcome_names
    )
    transitions: list[Transition] = []
    for s in stage_names:
        counts = {t: c for t, c in edges[s].items() if c > 0}
        total = sum(counts.values())
        order = {t: i for i, t in enumerate([*stage_names, *outcome_names])}
        ranked = sorted(counts, key=lambda t: (-counts[t], order[t]))
        remainder = ranked[0]
        for t in ranked[1:]:
            transitions.append(
                Transition(
                    source=ids[s], target=ids[t], probability=_probability(counts[t] / total)
                )
            )
        transitions.append(Transition(source=ids[s], target=ids[remainder]))

    # --- arrivals ----------------------------------------------------------------------------
    arrivals = None
    profile = None
    weeks = m.process.observation_weeks
    if weeks:
        rate = n_deals / weeks
        arrivals = RateArrivals(count=nice_rate(rate), per="week")
        notes.append(
            f"arrivals: {n_deals} deals over {weeks:.1f} weeks (first record to the last "
            f"timestamp) = {rate:.3g} per week"
        )
        profile = arrival_profile(frame, weeks, tz)
        day = max(WEEKDAYS, key=lambda d: profile.weekday[d])
        hour = max(range(24), key=lambda h: profile.hour[h])
        notes.append(
            f"arrival profile ({tz}): busiest weekday {day} ({profile.weekday[day]:.0%}), "
            f"busiest hour {hour:02d}:00 ({profile.hour[hour]:.0%}); written as a comment "
            "above arrivals"
        )
    else:
        notes.append("arrivals left out: the log spans no time")

    process = Process(
        name=name or _process_name(log),
        arrivals=arrivals,
        roles=role_models,
        stages=tuple(stage_models),
        outcomes=outcome_models,
        transitions=tuple(transitions),
    )
    return Discovery(process=process, notes=notes, fits=fits, arrivals=profile)
