"""Simulation fidelity: how far a simulated deal log is from the real one (issue 5, trust gate).

A simulation model earns trust when the logs it produces are close to real history. "Close" is
measured with the framework of Chapela-Campa et al. ("Can I Trust My Simulation Model?",
BPM 2023; "A framework for measuring the quality of business process simulation models",
Information Systems 127, 2025), using the **exact definitions** of its reference
implementation, the Apache-2.0 package ``log-distance-measures`` 2.x, so flowsim's numbers can
be set beside published ones (Simod, Prosimos, AgentSimulator). Formulas: ``docs/fidelity.md``.

How a :class:`DealLog` maps onto the framework's activity instances: each row (a stay of a deal
in a stage) is one instance with activity = ``stage``, start = ``entered_at`` and end =
``left_at``. A row without ``left_at`` (an event log's instant event, a CRM stage change, an
outcome row, a stay still open at export) is an *instant*: end = start. The package itself
cannot take a missing end (its binning raises on ``NaT``); Simod and pix-framework, which feed
it, fill a single-timestamp log the same way (start = end), and excluding such rows would drop
every row of a stage-change CRM export. Outcome rows (won/lost) are ordinary rows, as in
:mod:`flowsim.history.metrics`: their stage is an activity of the n-grams and their time a
timestamp of the temporal measures.

Every measure is deterministic and vectorised (numpy/polars); Python loops run over the seven
weekdays or the n positions of an n-gram, never over events or deals. scipy is not needed: the
1-D Wasserstein distance is :func:`wasserstein_distance` below.

A distance alone says little: :func:`noise_floor` measures the same distances between two
halves of the *real* history, which is as close as any model can be expected to get.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import numpy as np
import numpy.typing as npt
import polars as pl
from pydantic import ConfigDict

from flowsim._base import FlowsimModel
from flowsim.errors import FlowsimError, InputError
from flowsim.history.log import DealLog
from flowsim.history.timestamps import check_timezone

__all__ = [
    "FidelityMeasure",
    "FidelityReport",
    "UnknownMeasure",
    "absolute_event_distribution_distance",
    "case_arrival_distribution_distance",
    "chronological_split",
    "circadian_event_distribution_distance",
    "circadian_workforce_distance",
    "cycle_time_distribution_distance",
    "end_time_split",
    "fidelity_report",
    "n_gram_distance",
    "noise_floor",
    "relative_event_distribution_distance",
    "split_half",
    "wasserstein_distance",
]

US_PER_HOUR = 3_600_000_000
#: the package's penalty for a weekday seen in only one log: the widest hour-of-day distance
MAX_HOUR_OF_DAY = 23.0

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


# --------------------------------------------------------------------------------------------
# 1-D Wasserstein distance


def wasserstein_distance(
    u: npt.ArrayLike,
    v: npt.ArrayLike,
    u_weights: npt.ArrayLike | None = None,
    v_weights: npt.ArrayLike | None = None,
) -> float:
    """First Wasserstein distance between two 1-D empirical distributions.

    The integral of ``|U(x) - V(x)|`` over x, where U and V are the (weighted) empirical CDFs:
    the same computation as ``scipy.stats.wasserstein_distance``, which the reference package
    calls, written in numpy so flowsim does not depend on scipy at run time.
    """
    uv = np.asarray(u, dtype=np.float64).ravel()
    vv = np.asarray(v, dtype=np.float64).ravel()
    if uv.size == 0 or vv.size == 0:
        raise InputError("wasserstein_distance needs at least one value in each sample")
    if not (np.isfinite(uv).all() and np.isfinite(vv).all()):
        raise InputError("wasserstein_distance needs finite values")
    u_sorter = np.argsort(uv, kind="stable")
    v_sorter = np.argsort(vv, kind="stable")
    every = np.sort(np.concatenate([uv, vv]), kind="stable")
    deltas = np.diff(every)
    u_cdf = _cdf(uv[u_sorter], _weights(u_weights, uv.size, u_sorter), every[:-1])
    v_cdf = _cdf(vv[v_sorter], _weights(v_weights, vv.size, v_sorter), every[:-1])
    return float(np.sum(np.abs(u_cdf - v_cdf) * deltas))


def _weights(weights: npt.ArrayLike | None, size: int, sorter: Ints) -> Floats | None:
    if weights is None:
        return None
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.size != size:
        raise InputError(f"{w.size} weights for {size} values")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise InputError("weights must be finite, non-negative and not all zero")
    return w[sorter]


def _cdf(sorted_values: Floats, sorted_weights: Floats | None, at: Floats) -> Floats:
    """The empirical CDF of ``sorted_values`` evaluated at each point of ``at``."""
    idx = np.searchsorted(sorted_values, at, side="right")
    if sorted_weights is None:
        return idx.astype(np.float64) / sorted_values.size
    cum: Floats = np.concatenate([[0.0], np.cumsum(sorted_weights)])
    cdf: Floats = cum[idx] / cum[-1]
    return cdf


# --------------------------------------------------------------------------------------------
# the activity instances of a log


def _instances(log: DealLog, role: str) -> pl.DataFrame:
    """deal, stage, owner, start and end (as timestamps and as int64 microseconds, UTC)."""
    if not isinstance(log, DealLog):
        raise TypeError(f"the {role} log must be a DealLog, not {type(log).__name__}")
    if log.frame.height == 0:
        raise InputError(f"the {role} log ({log.report.source}) has no stays to compare")
    end = pl.col("left_at").fill_null(pl.col("entered_at"))
    return log.frame.select(
        "deal",
        "stage",
        "owner",
        "source_row",
        pl.col("entered_at").alias("start_ts"),
        end.alias("end_ts"),
        pl.col("entered_at").dt.epoch("us").alias("start"),
        end.dt.epoch("us").alias("end"),
    )


def _pair(original: DealLog, simulated: DealLog) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Both logs as instances; :func:`fidelity_report` builds them once for every measure."""
    return _instances(original, "original"), _instances(simulated, "simulated")


def _hour_bins(us: Ints, origin: int) -> Ints:
    """⌊(t − origin) / 1 h⌋, the package's ``discretize_to_hour`` on microseconds."""
    return (us - origin) // US_PER_HOUR


def _floor_hour(us: int) -> int:
    return (us // US_PER_HOUR) * US_PER_HOUR


def _both(frame: pl.DataFrame) -> Ints:
    """Start and end instants of every instance (the package's ``AbsoluteTimestampType.BOTH``)."""
    return np.concatenate([frame["start"].to_numpy(), frame["end"].to_numpy()])


# --------------------------------------------------------------------------------------------
# control flow


def n_gram_distance(
    original: DealLog, simulated: DealLog, n: int = 3, normalize: bool = True
) -> float:
    """N-gram distribution distance: Σ|f_o − f_s| / (Σf_o + Σf_s) over activity n-grams.

    Each trace (a deal's stays ordered by start, then end) is padded with n−1 artificial start
    and n−1 end symbols, and every window of n activities is counted in each log. 0 means the
    same n-gram counts; 1 means no n-gram in common. ``normalize=False`` gives the raw sum.
    """
    return _n_gram(*_pair(original, simulated), n=n, normalize=normalize)


def _n_gram(o: pl.DataFrame, s: pl.DataFrame, *, n: int = 3, normalize: bool = True) -> float:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"n must be a whole number of at least 1, not {n!r}")
    # ties keep the log's own order, as the package's stable sort keeps its table's order
    order = ["deal", "start", "end", "source_row"]
    o, s = o.sort(order, maintain_order=True), s.sort(order, maintain_order=True)
    # activity codes shared by both logs; 0 is the padding symbol
    codes = pl.concat([o["stage"], s["stage"]]).rank("dense").cast(pl.Int64).to_numpy()
    base = int(codes.max()) + 1
    wo, so = _windows(o["deal"], codes[: o.height], n)
    ws, ss = _windows(s["deal"], codes[o.height :], n)
    padded = np.concatenate([wo, ws])
    starts = np.concatenate([so, ss + wo.size])
    key = np.zeros(starts.size, dtype=np.int64)
    for i in range(n):
        # dense-rank the prefix before extending it, so keys never overflow int64
        key = np.unique(key, return_inverse=True)[1].astype(np.int64) * base + padded[starts + i]
    kinds, inverse = np.unique(key, return_inverse=True)
    f_o = np.bincount(inverse[: so.size], minlength=kinds.size)
    f_s = np.bincount(inverse[so.size :], minlength=kinds.size)
    distance = float(np.abs(f_o - f_s).sum())
    if normalize:
        distance /= float(f_o.sum() + f_s.sum())
    return distance


def _windows(deal: pl.Series, codes: Ints, n: int) -> tuple[Ints, Ints]:
    """The padded activity sequence of all traces end to end, and where each n-window starts.

    A trace of L activities becomes n−1 zeros, its L codes, n−1 zeros, and has L+n−1 windows,
    none crossing into the next trace.
    """
    lengths = deal.rle().struct.field("len").to_numpy().astype(np.int64)
    padded_len = lengths + 2 * (n - 1)
    offsets = np.cumsum(padded_len) - padded_len
    firsts = np.cumsum(lengths) - lengths
    padded = np.zeros(int(padded_len.sum()), dtype=np.int64)
    padded[np.repeat(offsets + (n - 1) - firsts, lengths) + np.arange(codes.size)] = codes
    per_trace = lengths + n - 1
    window_firsts = np.cumsum(per_trace) - per_trace
    starts = np.repeat(offsets - window_firsts, per_trace) + np.arange(int(per_trace.sum()))
    return padded, starts


# --------------------------------------------------------------------------------------------
# time


def absolute_event_distribution_distance(original: DealLog, simulated: DealLog) -> float:
    """Absolute hourly EMD: Wasserstein between the hour bins of all start and end instants.

    Bin = ⌊(t − t0) / 1 h⌋ with t0 the earliest start of either log floored to the hour. Only
    meaningful when the simulation starts at the same wall-clock time as the real log.
    """
    return _absolute(*_pair(original, simulated))


def _absolute(o: pl.DataFrame, s: pl.DataFrame) -> float:
    t0 = _floor_hour(min(int(o["start"].min()), int(s["start"].min())))  # type: ignore[arg-type]
    return wasserstein_distance(_hour_bins(_both(o), t0), _hour_bins(_both(s), t0))


def case_arrival_distribution_distance(original: DealLog, simulated: DealLog) -> float:
    """Case arrival EMD: Wasserstein between the hour bins of each deal's first start.

    Bin = ⌊(a − a0) / 1 h⌋ with a0 the earliest arrival of either log floored to the hour.
    """
    return _arrival(*_pair(original, simulated))


def _arrival(o: pl.DataFrame, s: pl.DataFrame) -> float:
    oa, sa = _arrivals(o), _arrivals(s)
    a0 = _floor_hour(min(int(oa.min()), int(sa.min())))
    return wasserstein_distance(_hour_bins(oa, a0), _hour_bins(sa, a0))


def _arrivals(frame: pl.DataFrame) -> Ints:
    return frame.group_by("deal").agg(pl.col("start").min())["start"].to_numpy()


def relative_event_distribution_distance(original: DealLog, simulated: DealLog) -> float:
    """Relative EMD: Wasserstein between the hour bins of instants relative to their case start.

    Each start and end becomes ⌊(t − case start) / 1 h⌋, case start = the deal's first start.
    Unlike the absolute measure it ignores *when* a deal arrived and keeps *how* it unfolds.
    """
    o, s = _pair(original, simulated)
    return wasserstein_distance(_relative(o), _relative(s))


def _relative(frame: pl.DataFrame) -> Ints:
    rel = frame.select(
        (pl.col("start") - pl.col("start").min().over("deal")).alias("s"),
        (pl.col("end") - pl.col("start").min().over("deal")).alias("e"),
    )
    return np.concatenate([rel["s"].to_numpy(), rel["e"].to_numpy()]) // US_PER_HOUR


def cycle_time_distribution_distance(
    original: DealLog, simulated: DealLog, *, bin_size: timedelta = timedelta(hours=1)
) -> float:
    """Cycle-time EMD: Wasserstein between binned deal durations, max(end) − min(start).

    Bin = ⌊(d − d_min) / bin_size⌋, d_min the shortest duration in either log; Simod evaluates
    with bin_size = 1 h, so the result reads in hours.
    """
    return _cycle_time(*_pair(original, simulated), bin_size=bin_size)


def _cycle_time(
    o: pl.DataFrame, s: pl.DataFrame, *, bin_size: timedelta = timedelta(hours=1)
) -> float:
    step = bin_size // timedelta(microseconds=1)
    if step <= 0:
        raise InputError(f"bin_size must be positive, not {bin_size}")
    od, sd = _durations(o), _durations(s)
    d_min = min(int(od.min()), int(sd.min()))
    return wasserstein_distance((od - d_min) // step, (sd - d_min) // step)


def _durations(frame: pl.DataFrame) -> Ints:
    d = frame.group_by("deal").agg((pl.col("end").max() - pl.col("start").min()).alias("d"))
    return d["d"].to_numpy()


# --------------------------------------------------------------------------------------------
# calendar (weekday x hour of day)


def _local(frame: pl.DataFrame, tz: str) -> pl.DataFrame:
    """Every start and end instant with its owner, weekday (0 = Monday), date and hour in tz."""
    instants = pl.concat(
        [
            frame.select(pl.col("start_ts").alias("t"), "owner"),
            frame.select(pl.col("end_ts").alias("t"), "owner"),
        ]
    ).with_columns(pl.col("t").dt.convert_time_zone(tz))
    return instants.select(
        (pl.col("t").dt.weekday() - 1).alias("weekday"),
        pl.col("t").dt.date().alias("date"),
        pl.col("t").dt.hour().cast(pl.Int64).alias("hour"),
        "owner",
    )


def circadian_event_distribution_distance(
    original: DealLog, simulated: DealLog, *, tz: str = "UTC"
) -> float:
    """Circadian EMD: per weekday, Wasserstein between the hours of day (0–23) of all instants.

    The mean over the seven weekdays, where a weekday seen in only one log scores 23 (the widest
    possible distance) and a weekday seen in neither scores 0, as in the reference package (so
    the mean is always over seven). ``tz`` is the zone whose clock defines weekday and hour.
    """
    check_timezone(tz)
    return _circadian(*_pair(original, simulated), tz=tz)


def _circadian(o: pl.DataFrame, s: pl.DataFrame, *, tz: str) -> float:
    ol, sl = _local(o, tz), _local(s, tz)
    distances = []
    for day in range(7):
        oh = ol.filter(pl.col("weekday") == day)["hour"].to_numpy()
        sh = sl.filter(pl.col("weekday") == day)["hour"].to_numpy()
        distances.append(_weekday_distance(oh, sh))
    return float(np.mean(distances))


def _weekday_distance(o: Ints, s: Ints) -> float:
    if o.size and s.size:
        return wasserstein_distance(o, s)
    if o.size or s.size:
        return MAX_HOUR_OF_DAY
    return 0.0


def circadian_workforce_distance(
    original: DealLog, simulated: DealLog, *, tz: str = "UTC"
) -> float | None:
    """Circadian workforce EMD: per weekday, Wasserstein over hours weighted by active owners.

    For each weekday × hour, the workforce is the number of distinct (date, hour, owner) with an
    instant, divided by the number of dates of that weekday the log has instants on; the
    package turns it into ⌊100 × workforce⌋ copies of the hour, i.e. a weighted distribution.
    Weekday rules and mean as in :func:`circadian_event_distribution_distance`. None when
    either log has no owners. Rows without an owner count for the number of days but are no
    worker (the package would count a missing resource as one more worker). Should every
    weight of one side truncate to zero (a workforce below 1/100 everywhere), the untruncated
    workforces are used for that weekday, where the package would fail on an empty sample.
    """
    check_timezone(tz)
    return _workforce_distance(*_pair(original, simulated), tz=tz)


def _workforce_distance(o: pl.DataFrame, s: pl.DataFrame, *, tz: str) -> float | None:
    if o["owner"].null_count() == o.height or s["owner"].null_count() == s.height:
        return None
    ow = _workforce(_local(o, tz))
    sw = _workforce(_local(s, tz))
    distances = []
    for day in range(7):
        a = ow.filter(pl.col("weekday") == day)
        b = sw.filter(pl.col("weekday") == day)
        if a.height and b.height:
            (ah, aw), (bh, bw) = _weighted(a), _weighted(b)
            distances.append(wasserstein_distance(ah, bh, aw, bw))
        else:
            distances.append(_weekday_distance(a["hour"].to_numpy(), b["hour"].to_numpy()))
    return float(np.mean(distances))


def _weighted(frame: pl.DataFrame) -> tuple[Ints, Floats]:
    """Hours and their weights; ⌊100 × workforce⌋ like the package, unless all truncate to 0."""
    workforce = frame["workforce"].to_numpy()
    weights = np.floor(workforce * 100)
    return frame["hour"].to_numpy(), weights if weights.sum() > 0 else workforce


def _workforce(local: pl.DataFrame) -> pl.DataFrame:
    days = local.group_by("weekday").agg(pl.col("date").n_unique().alias("days"))
    active = (
        local.drop_nulls("owner")
        .unique(["date", "hour", "owner"])
        .group_by("weekday", "hour")
        .agg(pl.len().alias("n"))
    )
    return (
        active.join(days, on="weekday")
        .select("weekday", "hour", (pl.col("n") / pl.col("days")).alias("workforce"))
        .sort("weekday", "hour")
    )


# --------------------------------------------------------------------------------------------
# the report


class FidelityMeasure(FlowsimModel):
    """One distance with its unit and a one-line definition (the formula is in the docs)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    value: float | None
    unit: str
    definition: str


class UnknownMeasure(FlowsimError, KeyError):
    """A measure name a fidelity report does not have.

    A ``KeyError`` too, as before; its text is the message itself, not the quoted repr that a
    plain ``KeyError`` prints.

    Parameters
    ----------
    name : str
        The name asked for.
    known : Iterable[str]
        The measures there are, in report order, listed in the message.
    """

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = tuple(known)
        super().__init__(f"no measure {name!r}; measures: {', '.join(self.known) or 'none'}")

    def __str__(self) -> str:
        return str(self.args[0])


class FidelityReport(FlowsimModel):
    """Every fidelity distance between two logs; 0 everywhere means indistinguishable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    original: str
    simulated: str
    original_deals: int
    simulated_deals: int
    tz: str
    measures: dict[str, FidelityMeasure]

    def value(self, name: str) -> float | None:
        """The value of one measure by name (None: not measurable, e.g. no owners).

        Raises
        ------
        UnknownMeasure
            ``name`` is not a measure of the report (a ``FlowsimError`` and a ``KeyError``).
        """
        if name not in self.measures:
            raise UnknownMeasure(name, self.measures)
        return self.measures[name].value

    def text(self) -> str:
        """A plain table: measure, value, unit."""
        lines = [
            f"original:  {self.original}, {self.original_deals} deals",
            f"simulated: {self.simulated}, {self.simulated_deals} deals",
        ]
        width = max(len(name) for name in self.measures)
        for m in self.measures.values():
            shown = "-" if m.value is None else f"{m.value:.4g}"
            lines.append(f"{m.name:<{width}}  {shown:>9}  {m.unit}")
        return "\n".join(lines)


#: name -> (unit, one-line definition) of every measure in a report, in report order
DEFINITIONS: dict[str, tuple[str, str]] = {
    "n_gram_distance": (
        "share 0-1",
        "Σ|f_o − f_s| / (Σf_o + Σf_s) over activity 3-gram counts, traces padded with 2 "
        "start and 2 end symbols",
    ),
    "absolute_event_distribution_distance": (
        "hours",
        "Wasserstein between ⌊(t − t0)/1 h⌋ of all start and end instants, t0 = first start "
        "floored to the hour",
    ),
    "circadian_event_distribution_distance": (
        "hours of day",
        "mean over weekdays of the Wasserstein between hours of day of all instants (one-sided "
        "weekday 23, none 0)",
    ),
    "relative_event_distribution_distance": (
        "hours",
        "Wasserstein between ⌊(t − case start)/1 h⌋ of all start and end instants",
    ),
    "case_arrival_distribution_distance": (
        "hours",
        "Wasserstein between ⌊(a − a0)/1 h⌋ of each deal's first start a",
    ),
    "cycle_time_distribution_distance": (
        "hours",
        "Wasserstein between ⌊(d − d_min)/1 h⌋ of deal durations d = max(end) − min(start)",
    ),
    "circadian_workforce_distance": (
        "hours of day",
        "mean over weekdays of the Wasserstein between hours of day weighted by the average "
        "number of active owners",
    ),
}


def fidelity_report(original: DealLog, simulated: DealLog, *, tz: str = "UTC") -> FidelityReport:
    """All measures between ``original`` (real history) and ``simulated``, with units.

    ``tz`` is the clock of the two circadian measures (weekday, hour of day); the others do
    not depend on it.
    """
    check_timezone(tz)
    o, s = _pair(original, simulated)
    values: dict[str, float | None] = {
        "n_gram_distance": _n_gram(o, s),
        "absolute_event_distribution_distance": _absolute(o, s),
        "circadian_event_distribution_distance": _circadian(o, s, tz=tz),
        "relative_event_distribution_distance": wasserstein_distance(_relative(o), _relative(s)),
        "case_arrival_distribution_distance": _arrival(o, s),
        "cycle_time_distribution_distance": _cycle_time(o, s),
        "circadian_workforce_distance": _workforce_distance(o, s, tz=tz),
    }
    return FidelityReport(
        original=original.report.source,
        simulated=simulated.report.source,
        original_deals=original.deals,
        simulated_deals=simulated.deals,
        tz=tz,
        measures={
            name: FidelityMeasure(name=name, value=values[name], unit=unit, definition=text)
            for name, (unit, text) in DEFINITIONS.items()
        },
    )


# --------------------------------------------------------------------------------------------
# splits and the noise floor


def _arrival_order(log: DealLog) -> pl.Series:
    """The deal ids ordered by their first ``entered_at``, ties by deal id."""
    first = log.frame.group_by("deal").agg(pl.col("entered_at").min().alias("arrival"))
    return first.sort(["arrival", "deal"])["deal"]


def _subset(log: DealLog, deals: pl.Series, label: str) -> DealLog:
    """The log restricted to ``deals``, as a new :class:`DealLog` whose rows are its records.

    The report keeps the parent's source description (format, mapping, formats) and counts
    the part's records as its rows read and used; the parent's import problems stay on the
    parent's report, since they name rows of the original file.
    """
    frame = log.frame.filter(pl.col("deal").is_in(deals.implode()))
    report = log.report.model_copy(
        update={
            "source": f"{log.report.source} ({label})",
            "rows_read": frame.height,
            "rows_used": frame.height,
            "rows_skipped": 0,
            "skipped_by_reason": {},
            "records": frame.height,
            "problems": [],
            "problems_omitted": 0,
        }
    )
    return log.derive(frame, report)


def chronological_split(log: DealLog, train_share: float = 0.5) -> tuple[DealLog, DealLog]:
    """(earlier, later): deals ordered by first ``entered_at``; the later part is the hold-out.

    The earlier ⌊train_share × deals⌋ deals are for fitting a model, the rest for judging it,
    as Simod splits its logs trace-wise: a fit judged on the hold-out is partly a forecast.
    """
    if isinstance(train_share, bool) or not 0.0 < float(train_share) < 1.0:
        raise InputError(f"train_share must be between 0 and 1 (exclusive), not {train_share!r}")
    order = _arrival_order(log)
    cut = int(order.len() * float(train_share))
    if cut < 1 or cut >= order.len():
        raise InputError(
            f"{log.report.source}: {order.len()} deals cannot be split {train_share:.0%} / "
            f"{1 - train_share:.0%} with at least one deal on each side"
        )
    share = f"{train_share:.0%}"
    return (
        _subset(log, order.head(cut), f"first {share} of deals"),
        _subset(log, order.tail(order.len() - cut), f"last {1 - train_share:.0%} of deals"),
    )


def end_time_split(log: DealLog, train_share: float = 0.8) -> tuple[DealLog, DealLog]:
    """(train, test) as the published simulation benchmarks split a log.

    Activity instances (rows) are ordered by their end (``left_at``, else ``entered_at``),
    ties by deal and source row; the first ``train_share`` of them are the training part and
    the rest the test part. A deal with rows on both sides of the cut is dropped from both
    (AgentSimulator's and Simod's ``train_test_split``), so every deal is whole in its part.

    Parameters
    ----------
    log
        The history.
    train_share
        Share of the instances, by end time, before the cut (0 < share < 1).

    Returns
    -------
    tuple of DealLog
        The training part and the test part, each named after the split.
    """
    if isinstance(train_share, bool) or not 0.0 < float(train_share) < 1.0:
        raise InputError(f"train_share must be between 0 and 1 (exclusive), not {train_share!r}")
    ordered = log.frame.select(
        "deal", "source_row", pl.col("left_at").fill_null(pl.col("entered_at")).alias("end")
    ).sort(["end", "deal", "source_row"])
    cut = int(ordered.height * float(train_share))
    side = ordered.with_columns((pl.int_range(pl.len()) >= cut).alias("test"))
    sides = side.group_by("deal").agg(pl.col("test").all().alias("all"), pl.col("test").any())
    train = sides.filter(~pl.col("test"))["deal"].sort()
    test = sides.filter(pl.col("all"))["deal"].sort()
    if train.len() == 0 or test.len() == 0:
        raise InputError(
            f"{log.report.source}: no whole deal on one side of a {train_share:.0%} / "
            f"{1 - train_share:.0%} split by end time"
        )
    share = f"{train_share:.0%}"
    return (
        _subset(log, train, f"first {share} of instances by end, cut deals dropped"),
        _subset(log, test, f"last {1 - train_share:.0%} of instances by end, cut deals dropped"),
    )


def split_half(log: DealLog, *, seed: int = 0) -> tuple[DealLog, DealLog]:
    """Two halves of the deals that cover the same period: (half A, half B).

    A random half of the deals (a permutation by numpy PCG64 seeded with ``seed``; sizes
    differ by at most one) goes to A, the rest to B. Both halves cover the same period,
    calendar and seasonality, and differ by sampling alone, *including* the chance variation
    of arrival times: that is the variation a simulated log shows too, so a floor without it
    (e.g. splitting consecutive pairs of arrivals) would be too strict on the arrival-based
    measures. A chronological split would add drift.
    """
    order = _arrival_order(log)
    if order.len() < 2:
        raise InputError(f"{log.report.source}: a split needs at least two deals")
    n = order.len()
    in_a = np.zeros(n, dtype=bool)
    in_a[np.random.default_rng(seed).permutation(n)[: (n + 1) // 2]] = True
    return (
        _subset(log, order.filter(pl.Series(in_a)), f"half A, seed {seed}"),
        _subset(log, order.filter(pl.Series(~in_a)), f"half B, seed {seed}"),
    )


def noise_floor(log: DealLog, *, seed: int = 0, tz: str = "UTC") -> FidelityReport:
    """The fidelity distances between two halves of the real history (:func:`split_half`).

    How far apart two samples of the same real process are: the level below which a
    simulation's distance to history cannot be told from sampling noise. Half-size samples are
    noisier than the full log, so this floor is a little pessimistic; compare a simulated log
    of about half the history's size (or several seeds) for a like-for-like reading.
    """
    a, b = split_half(log, seed=seed)
    return fidelity_report(a, b, tz=tz)
