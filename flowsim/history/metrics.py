"""Funnel metrics from a deal log: stages, transitions (the performance map), process KPIs.

``metrics(log, process=None)`` returns :class:`FunnelMetrics`. Every figure is defined, with
its formula and units, in ``docs/metrics.md``; the short version:

- records are sorted by ``(deal, entered_at, source_row)`` (the :class:`DealLog` order); the
  *next* record of a deal is the one after it in that order;
- a deal is **won/lost/other** when its last record's stage is an outcome (with a process: an
  ``Outcome`` id or label, case-insensitive, its ``result``; without: a stage name that
  :func:`flowsim.model.infer_result` reads as won or lost), else it is **open** and
  right-censored at ``as_of`` (default: the log's last timestamp);
- **dwell** of a record = ``(left_at or next.entered_at) - entered_at``; the last record of an
  open deal without ``left_at`` is censored at ``as_of``;
- a **transition** ``a -> b`` is a pair of consecutive records of one deal (directly-follows),
  its duration ``next.entered_at - entered_at``: on an event log (one timestamp per event)
  exactly pm4py's ``discover_dfg`` / ``discover_performance_dfg``.

Everything is vectorised with polars (window expressions and group-bys); Python loops run over
*distinct stages* or groups only, never over rows or deals.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import polars as pl
from pydantic import ConfigDict, Field

from flowsim._base import FlowsimModel
from flowsim._extras import missing
from flowsim.errors import InputError
from flowsim.history.branches import branch_next, lanes
from flowsim.history.consistency import check_funnel
from flowsim.history.log import DealLog
from flowsim.history.records import Records, group_bounds, records
from flowsim.history.subset import FilterStep
from flowsim.history.survival import Steps, competing_risks
from flowsim.model import Outcome, Process, infer_result
from flowsim.overlay import EdgeFigures, Overlay, StageFigures

if TYPE_CHECKING:
    import pandas as pd

    from flowsim.history.subset import DealRuns

__all__ = [
    "CURVE_RESOLUTION",
    "Curves",
    "CycleTime",
    "Durations",
    "FunnelMetrics",
    "Header",
    "ProcessMetrics",
    "StageMetrics",
    "StageSurvival",
    "TransitionMetrics",
    "metrics",
    "thin_curve",
]

Funnel = Literal["strict", "touched"]
#: How :meth:`FunnelMetrics.to_json` writes the Kaplan–Meier curves.
Curves = Literal["steps", "full"]

#: The tables of :meth:`FunnelMetrics.to_frame`.
MetricsView = Literal["stages", "transitions", "process"]
#: The JSON's curves keep a step each time S(t) falls to a new multiple of this.
CURVE_RESOLUTION = 0.001
Result = Literal["won", "lost", "other"]
US_PER_HOUR = 3_600_000_000
US_PER_DAY = 24 * US_PER_HOUR
NONE_GROUP = "(none)"


class _M(FlowsimModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Durations(_M):
    """Summary of durations: count, mean, median and 90th percentile (linear interpolation)."""

    n: int = 0
    mean: float | None = None
    median: float | None = None
    p90: float | None = None


class Header(_M):
    """What was measured: the import's accounting, deal counts, the censoring time, the mode."""

    source: str
    rows_read: int
    rows_used: int
    rows_skipped: int
    skipped_by_reason: dict[str, int]
    records: int
    deals: int
    open: int
    won: int
    lost: int
    other: int
    as_of: datetime | None
    funnel: Funnel
    funnel_rule: str
    first_stage: str | None
    stage_order: list[str] = Field(description="Order used for skips, backward moves, strict.")
    order_from: Literal["process", "observed"]
    unmatched_stages: list[str] = Field(
        default_factory=list, description="Stages in the log that the process does not name."
    )
    filters: list[FilterStep] = Field(
        default_factory=list,
        description="Filters applied after the import (--where, --from/--to, --stages), in "
        "order, with the deals and records each kept.",
    )


class StageMetrics(_M):
    """Figures for one stage (or outcome) of the log. Times in hours, shares in [0, 1]."""

    stage: str
    kind: Literal["stage", "outcome"]
    result: Result | None = None
    position: int | None = Field(default=None, description="Index in Header.stage_order.")
    entered: int = Field(description="Distinct deals with at least one record of the stage.")
    reached: int = Field(description="Deals counted at the stage in the funnel mode.")
    visits: int = Field(description="Records of the stage (every entry).")
    reentries: int = Field(description="visits - entered: entries after a deal's first (rework).")
    still_open: int = Field(description="Open deals whose last record is this stage.")
    exits: int = Field(description="Visits followed by another record of the deal.")
    exits_to: dict[str, int] = Field(default_factory=dict)
    next_step_conversion: dict[str, float] = Field(
        default_factory=dict, description="exits_to[t] / exits."
    )
    cohort_conversion: float | None = Field(
        default=None, description="reached / reached(first stage)."
    )
    leakage: float | None = Field(default=None, description="Exits to lost outcomes / exits.")
    win_probability: float | None = Field(
        default=None, description="Won / closed among closed deals that entered the stage."
    )
    time_latest: Durations = Field(default_factory=Durations)
    time_cumulative: Durations = Field(default_factory=Durations)
    censored_visits: int = 0
    waiting: Durations | None = None
    working: Durations | None = None


class TransitionMetrics(_M):
    """One directly-follows pair: how often, and how long from one entry to the next."""

    source: str
    target: str
    count: int
    share: float = Field(description="count / exits of the source.")
    mean_hours: float
    median_hours: float
    move: Literal["forward", "skip", "backward", "repeat", "outcome", "unordered"]


class CycleTime(_M):
    """First record to outcome record, in days (open deals: age at as_of, censored)."""

    deals: int
    mean_days: float | None = None
    median_days: float | None = None
    p90_days: float | None = None


class WipPoint(_M):
    """Work in progress at one moment: deals started and not yet closed."""

    at: datetime
    open_deals: int


class ProcessMetrics(_M):
    """Whole-process figures."""

    win_rate: float | None = Field(description="won / (won + lost).")
    win_rate_all_deals: float | None = Field(description="won / deals (open and other included).")
    cycle_time: dict[str, CycleTime]
    observation_start: datetime | None
    observation_weeks: float | None
    arrivals_per_week: float | None
    throughput_per_week: float | None
    deals_with_amount: int
    mean_won_amount: float | None
    mean_won_cycle_days: float | None
    sales_velocity_per_day: float | None = Field(
        description="open × win_rate × mean_won_amount / mean_won_cycle_days."
    )
    weighted_pipeline: float | None = Field(
        description="Σ open amount × win_probability(current stage)."
    )
    weighted_pipeline_unpriced: int = Field(
        description="Open deals left out of the weighted pipeline: no amount or no probability."
    )
    skips: int
    backward_moves: int
    repeats: int
    deals_with_skips: int
    deals_with_backward_moves: int
    wip: list[WipPoint] = Field(
        default_factory=list,
        description="Open deals at the end of each week (every 4th week past 10 years).",
    )


class StageSurvival(_M):
    """Kaplan–Meier time in stage and cumulative incidence of exits, per stage (visits)."""

    visits: int
    exits: int
    censored: int
    median_hours: float | None = Field(description="First t with S(t) <= 0.5.")
    times_hours: Steps = Field(description="Distinct exit times (the curve's steps).")
    survival: Steps = Field(description="S(t) = P(still in stage after t hours).")
    p_advance: float = Field(description="Aalen–Johansen F(moved on, not to a lost outcome).")
    p_lost: float = Field(description="Aalen–Johansen F(exit to a lost outcome).")
    p_unknown: float = Field(description="F(left the stage, next record not seen).")
    p_still: float = Field(description="S at the last time: still in the stage, censored.")

    def at(self, hours: float) -> float:
        """``S(hours)``: the probability of still being in the stage after that many hours."""
        j = int(np.searchsorted(np.asarray(self.times_hours), hours, side="right")) - 1
        return 1.0 if j < 0 else self.survival[j]


class FunnelMetrics(_M):
    """Everything :func:`metrics` measures; see ``docs/metrics.md`` for each definition."""

    header: Header
    stages: dict[str, StageMetrics]
    transitions: list[TransitionMetrics]
    process: ProcessMetrics
    survival: dict[str, StageSurvival]

    def to_frame(self, kind: MetricsView = "stages") -> pl.DataFrame:
        """A polars view: one row per stage (default), per transition, or one row of process
        figures (each duration flattened to ``n``, ``mean``, ``median``, ``p90``).

        Parameters
        ----------
        kind : {"stages", "transitions", "process"}
            The table.

        Returns
        -------
        polars.DataFrame
            The stage table has the stage's name as its first column, ``stage``.
        """
        rows, columns = self._rows(kind)
        if not rows:
            return pl.DataFrame(schema=columns)
        return pl.DataFrame(rows, infer_schema_length=None)

    def to_pandas(self, kind: MetricsView = "stages") -> pd.DataFrame:
        """:meth:`to_frame`'s table as a pandas DataFrame (needs the ``pandas`` extra).

        Parameters
        ----------
        kind : {"stages", "transitions", "process"}
            The table.

        Returns
        -------
        pandas.DataFrame
            The stage table is indexed by ``stage``; the others have a plain range index.
        """
        try:
            import pandas as pd
        except ImportError as err:
            raise missing(err, "FunnelMetrics.to_pandas()") from err

        rows, _ = self._rows(kind)
        if kind == "stages":
            return pd.DataFrame(rows).set_index("stage") if rows else pd.DataFrame()
        return pd.DataFrame(rows)

    def _rows(self, kind: MetricsView) -> tuple[list[dict[str, Any]], list[str]]:
        """The rows of the ``kind`` table, and the columns it has when it has no rows."""
        if kind == "stages":
            return self._stage_rows(), ["stage"]
        if kind == "transitions":
            rows = [t.model_dump() for t in self.transitions]
            return rows, list(TransitionMetrics.model_fields)
        if kind == "process":
            data = self.process.model_dump(exclude={"cycle_time"})
            for result, ct in self.process.cycle_time.items():
                for f, v in ct.model_dump().items():
                    data[f"cycle_{result}_{f}"] = v
            return [data], list(data)
        raise InputError(f"unknown frame kind {kind!r}: stages, transitions or process")

    def to_overlay(self, process: Process | None = None) -> Overlay:
        """The flowchart overlay: per stage entered, mean latest dwell, leakage, moving-on share."""

        def key(name: str) -> str:
            if process is None:
                return name
            return process.find_node(name) or name

        stages: dict[str, StageFigures] = {}
        for s in self.stages.values():
            if s.kind == "outcome":
                stages[key(s.stage)] = StageFigures(entered=float(s.entered))
                continue
            stages[key(s.stage)] = StageFigures(
                entered=float(s.entered),
                dwell_hours=s.time_latest.mean,
                dwell_p90_hours=s.time_latest.p90,
                leakage=s.leakage,
                conversion=None if s.leakage is None else 1.0 - s.leakage,
            )
        edges = tuple(
            EdgeFigures(
                source=key(t.source), target=key(t.target), count=float(t.count), share=t.share
            )
            for t in self.transitions
        )
        return Overlay(source=f"history: {self.header.source}", stages=stages, edges=edges)

    def text(self) -> str:
        """The funnel as a terminal table (what ``flowsim metrics`` prints)."""
        from flowsim.history.table import metrics_table

        return metrics_table(self)

    def to_json(self, *, indent: int | None = 2, curves: Curves = "steps") -> str:
        """Deterministic JSON: sorted keys, floats rounded to 6 significant digits.

        ``curves="steps"`` (default) writes each Kaplan–Meier curve at the steps where
        ``S(t)`` crosses a multiple of :data:`CURVE_RESOLUTION` (at most 1,000 points a
        stage, the last step always kept): ``StageSurvival.at(t)`` read from it differs from
        the full curve by less than 0.001. ``curves="full"`` writes every step (one per
        distinct exit time: 10 MB of a 200k-deal log's JSON).
        """
        data = self.model_dump(mode="json")
        if curves == "steps":
            data["survival"] = {stage: _thinned(curve) for stage, curve in data["survival"].items()}
        return json.dumps(_round(data), sort_keys=True, indent=indent, ensure_ascii=False)

    def _stage_rows(self) -> list[dict[str, Any]]:
        """One flat dict a stage: its figures, and n, mean, median, p90 of each duration."""
        rows = []
        for s in self.stages.values():
            row: dict[str, Any] = s.model_dump(
                exclude={
                    "exits_to",
                    "next_step_conversion",
                    "time_latest",
                    "time_cumulative",
                    "waiting",
                    "working",
                }
            )
            for name in ("time_latest", "time_cumulative", "waiting", "working"):
                d = getattr(s, name) or Durations()
                for f in ("n", "mean", "median", "p90"):
                    row[f"{name}_{f}" + ("" if f == "n" else "_hours")] = getattr(d, f)
            rows.append(row)
        return rows

    def _repr_html_(self) -> str:
        """Jupyter shows the funnel as one compact table (every value HTML-escaped).

        Stage names and the source come from a user's CRM export, so they are escaped; the
        full figures stay in :meth:`to_frame` and :meth:`to_json`.
        """
        from html import escape

        def pct(x: float | None) -> str:
            return "" if x is None else f"{x:.0%}"

        def hours(x: float | None) -> str:
            if x is None:
                return ""
            return f"{x / 24:.1f} d" if x >= 24 else f"{x:.1f} h"

        h = self.header
        caption = (
            f"{escape(h.source)}: {h.deals} deals ({h.won} won, {h.lost} lost, {h.open} open),"
            f" win rate {pct(self.process.win_rate) or 'n/a'}"
        )
        cols = ("stage", "entered", "reached", "conversion", "leakage", "median time", "win prob.")
        head = "".join(f"<th>{c}</th>" for c in cols)
        rows = []
        # Funnel order (stages by position, then outcomes), not the dict's order.
        ordered = sorted(
            self.stages.values(),
            key=lambda s: (s.kind == "outcome", s.position is None, s.position or 0, s.stage),
        )
        for s in ordered:
            cells = (
                escape(s.stage),
                str(s.entered),
                str(s.reached),
                pct(s.cohort_conversion),
                pct(s.leakage),
                "" if s.kind == "outcome" else hours(s.time_latest.median),
                pct(s.win_probability),
            )
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        return (
            f'<table class="flowsim-metrics"><caption>{caption}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )


def thin_curve(times: Sequence[float], surv: Sequence[float]) -> tuple[list[float], list[float]]:
    """The steps of a survival curve where it first falls to a new multiple of the resolution.

    Between two kept steps the curve stays within one :data:`CURVE_RESOLUTION` band, so the
    thinned step function is within that of the full one everywhere; the last step is kept
    (``p_still`` reads it).

    Examples
    --------
    >>> thin_curve([1.0, 2.0, 3.0, 4.0, 5.0], [0.9995, 0.9991, 0.5, 0.4999, 0.4])
    ([3.0, 5.0], [0.5, 0.4])
    """
    s = np.asarray(surv, dtype=np.float64)
    if len(s) == 0:
        return [], []
    level = np.ceil(np.round(s / CURVE_RESOLUTION, 6)).astype(np.int64)
    before = np.concatenate(([round(1.0 / CURVE_RESOLUTION)], level[:-1]))
    keep = level < before
    keep[-1] = True
    t = np.asarray(times, dtype=np.float64)
    return t[keep].tolist(), s[keep].tolist()


def _thinned(curve: dict[str, Any]) -> dict[str, Any]:
    times, surv = thin_curve(curve["times_hours"], curve["survival"])
    return {**curve, "times_hours": times, "survival": surv}


def _round(value: Any) -> Any:
    if isinstance(value, float):
        if value == 0 or not math.isfinite(value):
            return value
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_round(v) for v in value]
    return value


# ----------------------------------------------------------------------------------------------


@overload
def metrics(
    log: DealLog,
    process: Process | None = None,
    *,
    funnel: Funnel = "touched",
    as_of: datetime | None = None,
    by: None = None,
    survival: bool = True,
    lenient: bool = False,
    check: bool = True,
) -> FunnelMetrics: ...


@overload
def metrics(
    log: DealLog,
    process: Process | None = None,
    *,
    funnel: Funnel = "touched",
    as_of: datetime | None = None,
    by: str,
    survival: bool = True,
    lenient: bool = False,
    check: bool = True,
) -> dict[str, FunnelMetrics]: ...


def metrics(
    log: DealLog,
    process: Process | None = None,
    *,
    funnel: Funnel = "touched",
    as_of: datetime | None = None,
    by: str | None = None,
    survival: bool = True,
    lenient: bool = False,
    check: bool = True,
) -> FunnelMetrics | dict[str, FunnelMetrics]:
    """Measure the funnel of ``log`` (see ``docs/metrics.md``).

    Parameters
    ----------
    log : DealLog
        The deal history (:func:`read_log`).
    process : Process, optional
        The design: its stage order and outcomes name the funnel's steps (without it, the
        order and the won/lost stages are read from the log).
    funnel : {"touched", "strict"}, default "touched"
        ``"touched"`` counts a deal at every stage it ever entered; ``"strict"`` only where it
        passed every earlier stage of the order first.
    as_of : datetime, optional
        Censors open deals (default: the log's last timestamp).
    by : str, optional
        ``"owner"``, ``"month"``, ``"quarter"`` or a column of the log: splits the deals by the
        value on their first record and returns one :class:`FunnelMetrics` per group, all
        censored at the same ``as_of``.
    survival : bool, default True
        False leaves out the Kaplan–Meier curves (``FunnelMetrics.survival`` is then empty):
        their step lists hold one point per distinct exit time, about a third of the time on a
        4M-record log, for figures a terminal table never shows.
    lenient : bool, default False
        With a ``process`` the log is checked as ``flowsim metrics --process`` checks it
        (:func:`~flowsim.history.consistency.check_funnel`: every stage named by the process,
        no record after a deal's close); a problem raises :class:`~flowsim.history.LogError`
        with its rows, or with ``lenient`` those rows are skipped and counted in the header.
    check : bool, default True
        False measures the log as it is (stages the process lacks are then listed as
        ``header.unmatched_stages``).

    Returns
    -------
    FunnelMetrics or dict of str to FunnelMetrics
        Per stage: entries, conversions, leakage, win probability, times (censoring-aware);
        per transition; for the whole process: win rate, cycle times, arrivals, throughput,
        velocity, pipeline. A dict by group with ``by``.

    Raises
    ------
    InputError
        An unknown ``funnel``, or a ``by`` that names no column.
    LogError
        With a ``process``, not ``lenient``: records of stages it lacks, or after a close.

    Examples
    --------
    >>> import flowsim
    >>> process = flowsim.load("examples/b2b-cn.flow")
    >>> log = flowsim.read_log("examples/history/b2b-cn-deals.csv", tz="Asia/Shanghai")
    >>> funnel = flowsim.metrics(log, process)
    >>> funnel.header.deals, funnel.header.won, funnel.header.lost, funnel.header.open
    (1049, 149, 838, 62)
    >>> round(funnel.process.win_rate, 3), funnel.stages["contact"].exits_to
    (0.151, {'lost': 416, 'needs': 622})
    """
    if funnel not in ("strict", "touched"):
        raise InputError(f"funnel must be 'strict' or 'touched', not {funnel!r}")
    if process is not None and check:
        log = check_funnel(log, process, lenient=lenient)
    frame = log.frame
    if as_of is None:
        as_of = _last_timestamp(frame)
    # the one owner of this call's helper threads: shut down on return, and on error too
    with ThreadPoolExecutor(max_workers=2) as pool:
        if by is None:
            return _measure(pool, frame, log, process, funnel, as_of, survival)
        return _measure_by(pool, log, process, funnel, as_of, survival, by)


def _measure_by(
    pool: Executor,
    log: DealLog,
    process: Process | None,
    funnel: Funnel,
    as_of: datetime | None,
    survival: bool,
    by: str,
) -> dict[str, FunnelMetrics]:
    """One :class:`FunnelMetrics` per group of ``by`` (see :func:`metrics`)."""
    from flowsim.history.subset import DealRuns, in_order

    log = in_order(log)
    frame = log.frame
    runs = DealRuns.of(log)
    keys = _group_keys(log, runs, by)
    # one pass splits the records by group, each part in the log's order
    group = keys.gather(runs.spread(np.arange(len(runs))))
    starts = np.zeros(frame.height, dtype=np.bool_)
    starts[runs.starts] = True
    tagged = frame.with_columns(group, pl.Series("\x00start", starts))
    parts = tagged.partition_by("group", as_dict=True, maintain_order=True)
    out: dict[str, FunnelMetrics] = {}
    for (name,), part in sorted(parts.items(), key=lambda item: str(item[0][0])):
        # whole deals in the log's order: each part knows where its deals start
        part_log = log.derive(part.drop("group", "\x00start"))
        part_log.remember_first_records(part["\x00start"].to_numpy())
        out[str(name)] = _measure(pool, part_log.frame, part_log, process, funnel, as_of, survival)
    return out


def _last_timestamp(frame: pl.DataFrame) -> datetime | None:
    if frame.height == 0:
        return None
    row = frame.select(
        pl.max_horizontal(
            pl.col("entered_at").max(), pl.col("left_at").max(), pl.col("started_at").max()
        )
    )
    value = row.item()
    return value if isinstance(value, datetime) else None


def _group_keys(log: DealLog, runs: DealRuns, by: str) -> pl.Series:
    """Each deal's group (one value per run of ``runs``), from the deal's first record.

    ``month`` and ``quarter`` are of the first record's ``entered_at``; any other name is a
    field or a column of the source, its first non-empty value in the deal's records
    (:func:`flowsim.history.subset.deal_values`).
    """
    from flowsim.history.subset import FilterError, deal_values

    if by in ("month", "quarter"):
        first = log.frame["entered_at"].gather(runs.starts).dt
        keys = (
            first.strftime("%Y-%m")
            if by == "month"
            else first.year().cast(pl.String) + "-Q" + first.quarter().cast(pl.String)
        )
    else:
        try:
            keys = deal_values(log, by)["value"]
        except FilterError as err:
            raise InputError(f"cannot break down by {by!r}: {err}; or month, quarter") from None
    return keys.fill_null(NONE_GROUP).rename("group")


def _durations(series: pl.Series) -> Durations:
    s = series.drop_nulls()
    if s.len() == 0:
        return Durations()
    stats = pl.select(
        pl.lit(s).mean().alias("mean"),
        pl.lit(s).median().alias("median"),
        pl.lit(s).quantile(0.9, "linear").alias("p90"),
    ).row(0)
    return Durations(n=s.len(), mean=stats[0], median=stats[1], p90=stats[2])


def _classify(
    stages: list[str], process: Process | None, outcomes: dict[str, str] | None = None
) -> tuple[dict[str, str], dict[str, Result], list[str]]:
    """Log stage value → name used in the output, outcome results, unmatched names.

    Without a process, the import's declared ``outcomes`` (stage value → won/lost) name the
    outcomes when there are any; else a stage whose name reads won or lost is one.
    """
    rename: dict[str, str] = {}
    results: dict[str, Result] = {}
    unmatched: list[str] = []
    if process is None:
        for name in stages:
            r = outcomes.get(name, "") if outcomes else infer_result(name, None)
            if r in ("won", "lost"):
                results[name] = r  # type: ignore[assignment]
        return rename, results, unmatched
    for name in stages:
        node_id = process.find_node(name)
        if node_id is None:
            unmatched.append(name)
            continue
        if node_id != name:
            rename[name] = node_id
        node = process.node(node_id)
        if isinstance(node, Outcome):
            results[node_id] = node.result
    return rename, results, unmatched


_RESULT_CODE: dict[str, int] = {"won": 1, "lost": 2, "other": 3}
#: exit causes of a visit, as codes for :func:`competing_risks` (0 = censored)
_CAUSES = ("advance", "lost", "unknown")


def _stats(codes: np.ndarray, values: np.ndarray, names: list[str]) -> dict[str, Durations]:
    """Durations of ``values`` (hours; NaN = missing, left out) per stage code, one group-by."""
    keep = ~np.isnan(values)
    agg = (
        pl.DataFrame({"k": codes[keep], "v": values[keep]})
        .group_by("k")
        .agg(
            pl.len().alias("n"),
            pl.col("v").mean().alias("mean"),
            pl.col("v").median().alias("median"),
            pl.col("v").quantile(0.9, "linear").alias("p90"),
        )
    )
    return {
        names[k]: Durations(n=n, mean=mean, median=median, p90=p90)
        for k, n, mean, median, p90 in agg.iter_rows()
    }


def _quantile(seg: np.ndarray, q: float) -> float:
    """Linear-interpolation quantile of an already sorted array (polars' ``"linear"``)."""
    at = q * (len(seg) - 1)
    lo = math.floor(at)
    hi = min(lo + 1, len(seg) - 1)
    return float(seg[lo] + (at - lo) * (seg[hi] - seg[lo]))


def _sorted_groups(
    codes: np.ndarray, micros: np.ndarray, groups: int, valid: np.ndarray | None = None
) -> list[tuple[int, np.ndarray]] | None:
    """``(code, its valid micros sorted)`` for every code present, from ONE sort of int64s.

    Code in the high bits, the duration in the low ones: a single ``np.sort`` replaces a
    group-by with a median and a quantile per group (each of which sorts or selects again).
    Invalid entries are packed with the code ``groups``, which sorts after every real one, so
    nothing is compressed or copied before the sort. None when a valid value is negative or
    too wide to pack; callers then take the polars path.
    """
    if len(micros) == 0:
        return []
    room = 62 - max(1, groups.bit_length())
    packed = micros.copy() if valid is None else np.where(valid, micros, 0)
    if int(packed.min()) < 0 or int(packed.max()) >= (1 << room):
        return None
    packed |= codes << room
    if valid is not None:
        packed[~valid] = groups << room
    packed.sort()
    bounds = np.searchsorted(packed, np.arange(groups + 1, dtype=np.int64) << room)
    return [
        (code, packed[a:b] - (code << room))
        for code, (a, b) in enumerate(itertools.pairwise(bounds))
        if b > a
    ]


def _durations_by(
    codes: np.ndarray, micros: np.ndarray, valid: np.ndarray, names: list[str]
) -> dict[str, Durations]:
    """Durations in hours per stage code from int64 µs (``valid`` masks missing values)."""
    parts = _sorted_groups(codes, micros, len(names), valid)
    if parts is None:
        return _stats(codes[valid], micros[valid] / US_PER_HOUR, names)
    out: dict[str, Durations] = {}
    for code, part in parts:
        hours = part / US_PER_HOUR
        out[names[code]] = Durations(
            n=len(hours),
            mean=float(hours.mean()),
            median=_quantile(hours, 0.5),
            p90=_quantile(hours, 0.9),
        )
    return out


def _deal_results(record_res: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Each deal's result code (0 = open): its first outcome record's.

    With declared outcomes (a process, or a mapping's ``[outcomes]``) a deal closes at its
    first outcome record. Records after it at the same instant (an event log's closing step:
    BPIC 2012 cancels the offers with the application) do not reopen it, nor, once the import
    let them through (``--lenient`` drops later ones), do later records.
    """
    deal_res: np.ndarray = record_res[ends].copy()
    if len(record_res) == 0:
        return deal_res
    n = len(record_res)
    at = np.where(record_res > 0, np.arange(n, dtype=np.int64), n)
    first = np.minimum.reduceat(at, starts) if len(starts) else at[:0]
    closed = first <= ends
    deal_res[closed] = record_res[first[closed]]
    return deal_res


def _per_code(values: np.ndarray, codes: np.ndarray, size: int) -> list[int]:
    """How many of ``values`` (a boolean mask over ``codes``) fall on each code."""
    counts: list[int] = np.bincount(codes[values], minlength=size).tolist()
    return counts


def _micros_of(when: datetime) -> int:
    return int(pl.Series([when]).cast(pl.Datetime("us", "UTC")).to_physical()[0])


@dataclass(frozen=True)
class _Base:
    """What every figure is computed from: the records, their stages' results, each deal's."""

    r: Records
    names: list[str]
    results: dict[str, Result]
    unmatched: list[str]
    res_of: np.ndarray  # result code of each stage code (0: not an outcome)
    deal_res: np.ndarray  # each deal's result code (0: open)
    dwell_us: np.ndarray  # each record's time in stage (left_at, else the next entry)
    move_us: np.ndarray  # each record's time to the next entry
    open_ends: np.ndarray  # the last record of each open deal (of each branch: see _ends)
    censored: np.ndarray  # ... of those, the ones still running (no left_at)
    stopped: np.ndarray  # branch records a closed deal's outcome cut short (no left_at)
    stopped_us: np.ndarray  # ... the close that stopped each

    @property
    def size(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class _Firsts:
    """The first and latest record of each (deal, stage) pair."""

    order_k: np.ndarray
    gstarts: np.ndarray
    first_rows: np.ndarray
    last_rows: np.ndarray
    first_code: np.ndarray  # the stage of each first record
    first_pos: np.ndarray  # its position in the deal


def _measure(
    pool: Executor,
    frame: pl.DataFrame,
    log: DealLog,
    process: Process | None,
    funnel: Funnel,
    as_of: datetime | None,
    with_survival: bool = True,
) -> FunnelMetrics:
    """Every figure of one funnel; the longest jobs run on ``pool``'s threads meanwhile.

    numpy's sorts and ufuncs and polars release the GIL, so both cores work, as they do for
    the polars and DuckDB baselines (bench/). The Kaplan–Meier curves, the performance DFG
    and time in stage start as soon as their inputs exist; this thread computes the rest.
    """
    # a log as imported is sorted, and its import found where each deal starts
    first_records = log.first_records() if frame is log.frame else None
    if first_records is None and not frame["deal"].is_sorted():
        frame = frame.sort(["deal", "entered_at", "source_row"], maintain_order=True)
    b = _base(pool, frame, log, process, first_records)
    as_of_us = _micros_of(as_of) if as_of is not None else 0
    km_job = pool.submit(_km, b, as_of_us) if with_survival else None
    has_next = ~b.r.is_last
    dfg_job = pool.submit(_dfg_of, b.r, has_next, b.move_us, b.size)
    f = _firsts(b)
    has_end = b.r.has_left | has_next
    times_job = pool.submit(
        _stage_times, b.r, b.names, has_end, b.dwell_us, f.order_k, f.gstarts, f.first_code,
        f.last_rows,
    )  # fmt: skip
    entered_n = np.bincount(f.first_code, minlength=b.size)
    entered = {b.names[i]: int(c) for i, c in enumerate(entered_n) if c}
    order, first_stage, order_from = _stage_order(b, f, entered_n, process)
    position = {s: i for i, s in enumerate(order)}
    lane_list = lanes(process, order) if process is not None and process.parallels else None
    if funnel == "touched":
        reached = dict(entered)
    else:
        code_of = {s: i for i, s in enumerate(b.names)}
        reached = _strict_reached(order, code_of, entered, f, b.r, lane_list)
    visits = np.bincount(b.r.stage, minlength=b.size)
    # every record but those with no next (a deal's last; in a parallel block a branch's last)
    exits_n = visits - np.bincount(b.r.stage[b.r.is_last], minlength=b.size)
    transitions, exits_to = _transitions(dfg_job.result(), b, exits_n, position, lane_list)
    header = _header(log, b, as_of, funnel, first_stage, order, order_from)
    win_p = _win_probability(b, f)
    proc = _process_figures(frame, b, as_of, position, win_p, lane_list)
    first_reached = reached.get(first_stage, 0) if first_stage is not None else 0
    stages = _stage_figures(
        b, entered, reached, first_reached, position, visits, exits_n, exits_to, win_p,
        times_job.result(),
    )  # fmt: skip
    survival: dict[str, StageSurvival] = km_job.result() if km_job is not None else {}
    return FunnelMetrics(
        header=header, stages=stages, transitions=transitions, process=proc, survival=survival
    )


def _base(
    pool: Executor,
    frame: pl.DataFrame,
    log: DealLog,
    process: Process | None,
    first_records: np.ndarray | None,
) -> _Base:
    """The records, what closes each deal, and each record's dwell and move times."""
    r = records(
        frame,
        lambda raw: _classify(raw, process, log.outcomes)[0],
        executor=pool,
        first_records=first_records,
    )
    _, results, unmatched = _classify(r.raw_names, process, log.outcomes)
    names = r.names
    if process is not None and process.parallels:
        r = _per_branch(r, process)
    res_of = np.array([_RESULT_CODE.get(results.get(s, ""), 0) for s in names], dtype=np.int8)
    if process is not None or log.outcomes:  # declared outcomes close a deal
        deal_res = _deal_results(res_of[r.stage], r.starts, r.ends)
    else:  # names that merely read won/lost (BPIC's O_DECLINED mid-deal) close nothing
        deal_res = res_of[r.stage[r.ends]]
    next_at = r.next_at
    dwell_us = np.where(r.has_left, r.left, next_at)
    dwell_us -= r.entered
    # a transition lasts until the next entry, whatever left_at says
    if r.has_left.any():
        move_us = next_at
        move_us -= r.entered
    else:
        move_us = dwell_us
    open_ends, stopped = _ends(r, deal_res)
    censored = open_ends[~r.has_left[open_ends]]
    stopped_us = r.entered[r.ends[r.deal[stopped]]]
    return _Base(
        r, names, results, unmatched, res_of, deal_res, dwell_us, move_us, open_ends, censored,
        stopped, stopped_us,
    )  # fmt: skip


def _per_branch(r: Records, process: Process) -> Records:
    """The records with each one's next read per branch of the process's parallel blocks
    (:func:`flowsim.history.branches.branch_next`, the rule conformance reads moves by)."""
    stage = pl.Series("stage", r.names, dtype=pl.String).gather(r.stage)
    nxt = branch_next(pl.Series("deal", r.deal), stage, process)
    next_stage = np.where(nxt >= 0, r.stage[nxt] if r.n else nxt, -1)
    return dataclasses.replace(r, next_stage=next_stage, next_row=nxt)


def _ends(r: Records, deal_res: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The records an open deal is still at, and the branch records a close cut short.

    Without a parallel block: each open deal's last record, and none. Read per branch, an
    open deal is at every record with no next (one per branch still working or waiting for
    the join); a closed deal's branch record with no next and no ``left_at`` was stopped by
    the outcome another branch reached (its stay has no end of its own).
    """
    if r.next_row is None:
        return r.ends[deal_res == 0], np.zeros(0, dtype=np.int64)
    no_next = r.is_last
    is_open = deal_res[r.deal] == 0
    cut = no_next & ~is_open & ~r.has_left
    cut[r.ends] = False
    return np.flatnonzero(no_next & is_open), np.flatnonzero(cut)


def _firsts(b: _Base) -> _Firsts:
    order_k, gstarts = group_bounds(b.r.deal * max(b.size, 1) + b.r.stage)
    gends = np.append(gstarts[1:], b.r.n) - 1 if b.r.n else gstarts
    first_rows, last_rows = order_k[gstarts], order_k[gends]
    return _Firsts(
        order_k, gstarts, first_rows, last_rows, b.r.stage[first_rows], b.r.position(first_rows)
    )


def _stage_order(
    b: _Base, f: _Firsts, entered_n: np.ndarray, process: Process | None
) -> tuple[list[str], str | None, Literal["process", "observed"]]:
    """The funnel's stage order, its first stage, and where the order comes from.

    The process's phase order when there is one; else the stages by their mean position
    in the deals that entered them, and the stage most deals start at.
    """
    if process is not None:
        from flowsim.graph import phase_order

        order = phase_order(process)
        entry = process.entry
        first = entry.id if entry is not None else (order[0] if order else None)
        return order, first, "process"
    pos_sum = np.bincount(f.first_code, weights=f.first_pos.astype(np.float64), minlength=b.size)
    mean_pos = {
        b.names[i]: pos_sum[i] / entered_n[i]
        for i in range(b.size)
        if entered_n[i] and b.res_of[i] == 0
    }
    order = sorted(mean_pos, key=lambda s: (mean_pos[s], s))
    starts_n = np.bincount(b.r.stage[b.r.starts], minlength=b.size)
    first = b.names[int(np.argmax(starts_n))] if b.r.deals else None
    return order, first, "observed"


def _transitions(
    dfg: list[tuple[int, int, float, float]],
    b: _Base,
    exits_n: np.ndarray,
    position: dict[str, int],
    lane_list: list[dict[str, int]] | None = None,
) -> tuple[list[TransitionMetrics], dict[str, dict[str, int]]]:
    """Each directly-follows pair's figures, and each stage's exits by destination."""
    transitions: list[TransitionMetrics] = []
    exits_to: dict[str, dict[str, int]] = {}
    size = b.size
    for pair, cnt, mean_h, median_h in dfg:
        src, dst = b.names[pair // size], b.names[pair % size]
        exits_to.setdefault(src, {})[dst] = cnt
        transitions.append(
            TransitionMetrics(
                source=src,
                target=dst,
                count=cnt,
                share=cnt / int(exits_n[pair // size]),
                mean_hours=mean_h,
                median_hours=median_h,
                move=_move_kind(src, dst, position, b.results, lane_list),
            )
        )
    return transitions, exits_to


def _header(
    log: DealLog,
    b: _Base,
    as_of: datetime | None,
    funnel: Funnel,
    first_stage: str | None,
    order: list[str],
    order_from: Literal["process", "observed"],
) -> Header:
    rep = log.report
    counts = [int((b.deal_res == c).sum()) for c in (0, 1, 2, 3)]
    return Header(
        source=rep.source,
        rows_read=rep.rows_read,
        rows_used=rep.rows_used,
        rows_skipped=rep.rows_skipped,
        skipped_by_reason=dict(rep.skipped_by_reason),
        records=b.r.n,
        deals=b.r.deals,
        open=counts[0],
        won=counts[1],
        lost=counts[2],
        other=counts[3],
        as_of=as_of,
        funnel=funnel,
        funnel_rule=_FUNNEL_RULES[funnel],
        first_stage=first_stage,
        stage_order=order,
        order_from=order_from,
        unmatched_stages=b.unmatched,
        filters=list(rep.filters),
    )


_FUNNEL_RULES: dict[str, str] = {
    "touched": "touched: a deal counts at every stage it ever entered",
    "strict": "strict: a deal counts at a stage of the order only when it entered every "
    "earlier stage of the order first (first entries in order); outcomes as touched",
}


def _deal_amounts(r: Records) -> tuple[np.ndarray, np.ndarray]:
    """Each deal's amount (its latest record with one; NaN if none) and whether it has one."""
    amount_at = np.arange(r.n, dtype=np.int64)
    amount_at[~r.has_amount] = -1
    np.maximum.accumulate(amount_at, out=amount_at)
    has_amount = amount_at[r.ends] >= r.starts
    return np.where(has_amount, r.amount[amount_at[r.ends]], np.nan), has_amount


def _process_figures(
    frame: pl.DataFrame,
    b: _Base,
    as_of: datetime | None,
    position: dict[str, int],
    win_p: dict[str, float],
    lane_list: list[dict[str, int]] | None = None,
) -> ProcessMetrics:
    """Win rate, cycle times, arrivals, velocity, the weighted pipeline, moves and WIP."""
    r, deal_res = b.r, b.deal_res
    first_at, last_at = r.entered[r.starts], r.entered[r.ends]
    as_of_us = _micros_of(as_of) if as_of is not None else 0
    days = np.where(deal_res == 0, as_of_us - first_at, last_at - first_at) / US_PER_DAY
    cycle_time: dict[str, CycleTime] = {}
    for group, code in (("won", 1), ("lost", 2), ("other", 3), ("open", 0)):
        d = _durations(pl.Series(days[deal_res == code]))
        cycle_time[group] = CycleTime(
            deals=d.n, mean_days=d.mean, median_days=d.median, p90_days=d.p90
        )
    found = frame["entered_at"].min() if r.n else None
    start = found if isinstance(found, datetime) else None
    weeks = None
    if start is not None and as_of is not None and as_of > start:
        weeks = (as_of - start).total_seconds() / (7 * 86400)
    won, lost = int((deal_res == 1).sum()), int((deal_res == 2).sum())
    closed = int((deal_res != 0).sum())
    deal_amount, deal_has_amount = _deal_amounts(r)
    is_won = deal_res == 1
    won_amounts = pl.Series(deal_amount[is_won & deal_has_amount])
    mean_won_amount = float(won_amounts.mean()) if won_amounts.len() else None  # type: ignore[arg-type]
    mean_won_days = float(pl.Series(days[is_won]).mean()) if won else None  # type: ignore[arg-type]
    win_rate = won / (won + lost) if won + lost else None
    n_open = r.deals - closed
    velocity = None
    if win_rate is not None and mean_won_amount is not None and mean_won_days:
        velocity = n_open * win_rate * mean_won_amount / mean_won_days
    weighted, unpriced = _weighted_pipeline(b, win_p, deal_amount, deal_has_amount)
    skip, back = _skips_and_backs(b, position, lane_list)
    return ProcessMetrics(
        win_rate=win_rate,
        win_rate_all_deals=won / r.deals if r.deals else None,
        cycle_time=cycle_time,
        observation_start=start,
        observation_weeks=weeks,
        arrivals_per_week=r.deals / weeks if weeks else None,
        throughput_per_week=closed / weeks if weeks else None,
        deals_with_amount=int(deal_has_amount.sum()),
        mean_won_amount=mean_won_amount,
        mean_won_cycle_days=mean_won_days,
        sales_velocity_per_day=velocity,
        weighted_pipeline=weighted,
        weighted_pipeline_unpriced=unpriced,
        skips=int(skip.sum()),
        backward_moves=int(back.sum()),
        repeats=int((r.stage == r.next_stage).sum()),
        deals_with_skips=int(np.unique(r.deal[skip]).size),
        deals_with_backward_moves=int(np.unique(r.deal[back]).size),
        wip=_wip(first_at, last_at[deal_res != 0], start, as_of),
    )


def _win_probability(b: _Base, f: _Firsts) -> dict[str, float]:
    """Per stage: the share won of the closed deals that entered it."""
    first_res = b.deal_res[b.r.deal[f.first_rows]]
    closed_n = np.bincount(
        f.first_code, weights=(first_res != 0).astype(np.float64), minlength=b.size
    )
    won_n = np.bincount(f.first_code, weights=(first_res == 1).astype(np.float64), minlength=b.size)
    return {b.names[i]: won_n[i] / closed_n[i] for i in range(b.size) if closed_n[i]}


def _weighted_pipeline(
    b: _Base, win_p: dict[str, float], deal_amount: np.ndarray, deal_has_amount: np.ndarray
) -> tuple[float | None, int]:
    """Open deals' amounts times their last stage's win probability; how many had no price."""
    r = b.r
    p_of = np.array([win_p.get(s, np.nan) for s in b.names], dtype=np.float64)
    is_open = b.deal_res == 0
    p_open = p_of[r.stage[r.ends][is_open]] if b.size else np.zeros(0)
    priced = deal_has_amount[is_open] & ~np.isnan(p_open)
    weighted = (
        float(pl.Series(deal_amount[is_open][priced] * p_open[priced]).sum())
        if bool(deal_has_amount.any())
        else None
    )
    return weighted, int(is_open.sum()) - int(priced.sum())


def _skips_and_backs(
    b: _Base, position: dict[str, int], lane_list: list[dict[str, int]] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the moves that skip a stage of the order, and of those that go back.

    With parallel blocks (``lane_list``) each pair of stages is read in the lane holding
    both (:func:`_move_kind`); a move across branches is neither.
    """
    if lane_list is not None:
        names = [*b.names, ""]  # code -1 (no next record) reads the appended ""
        kinds = [[_move_kind(x, y, position, b.results, lane_list) for y in names] for x in names]
        skip_m = np.array([[k == "skip" for k in row] for row in kinds], dtype=np.bool_)
        back_m = np.array([[k == "backward" for k in row] for row in kinds], dtype=np.bool_)
        return skip_m[b.r.stage, b.r.next_stage], back_m[b.r.stage, b.r.next_stage]
    # over every record (no compress to the records with a next one): index -1, no next
    # record, reads the appended -1 (no position)
    posc = np.array([position.get(s, -1) for s in b.names] + [-1], dtype=np.int32)
    pa, pb = posc[b.r.stage], posc[b.r.next_stage]
    both = (pa >= 0) & (pb >= 0)
    return both & (pb - pa > 1), both & (pb < pa)


def _stage_figures(
    b: _Base,
    entered: dict[str, int],
    reached: dict[str, int],
    first_reached: int,
    position: dict[str, int],
    visits: np.ndarray,
    exits_n: np.ndarray,
    exits_to: dict[str, dict[str, int]],
    win_p: dict[str, float],
    times: tuple[dict[str, Durations], dict[str, Durations]],
) -> dict[str, StageMetrics]:
    """One :class:`StageMetrics` per stage and outcome."""
    r, size, names = b.r, b.size, b.names
    censored_n: list[int] = np.bincount(r.stage[b.censored], minlength=size).tolist()
    still_open_n: list[int] = np.bincount(r.stage[b.open_ends], minlength=size).tolist()
    lost_next = np.append(b.res_of == _RESULT_CODE["lost"], False)[r.next_stage]
    leaked_n = _per_code(lost_next, r.stage, size)
    has_start = bool(r.has_started.any())
    wait_stats: dict[str, Durations] = {}
    work_stats: dict[str, Durations] = {}
    if has_start:
        st = r.has_started
        wait_stats = _durations_by(r.stage, r.started - r.entered, st, names)
        work_stats = _durations_by(r.stage, r.left - r.started, st & r.has_left, names)
    lat_stats, cum_stats = times
    stages: dict[str, StageMetrics] = {}
    for code, name in enumerate(names):
        ex = int(exits_n[code])
        to = dict(sorted(exits_to.get(name, {}).items()))
        stages[name] = StageMetrics(
            stage=name,
            kind="outcome" if name in b.results else "stage",
            result=b.results.get(name),
            position=position.get(name),
            entered=int(entered.get(name, 0)),
            reached=int(reached.get(name, 0)),
            visits=int(visits[code]),
            reentries=int(visits[code]) - int(entered.get(name, 0)),
            still_open=still_open_n[code],
            exits=ex,
            exits_to=to,
            next_step_conversion={k: v / ex for k, v in to.items()},
            cohort_conversion=(reached.get(name, 0) / first_reached) if first_reached else None,
            leakage=(leaked_n[code] / ex) if ex else None,
            win_probability=win_p.get(name),
            time_latest=lat_stats.get(name, Durations()),
            time_cumulative=cum_stats.get(name, Durations()),
            censored_visits=censored_n[code],
            waiting=wait_stats.get(name, Durations()) if has_start else None,
            working=work_stats.get(name, Durations()) if has_start else None,
        )
    return stages


def _dfg_of(
    r: Records, has_next: np.ndarray, move_us: np.ndarray, size: int
) -> list[tuple[int, int, float, float]]:
    """:func:`_dfg` of the records' moves (a helper-thread job: its inputs are built there)."""
    pairs = r.stage * max(size, 1)
    pairs += r.next_stage
    return _dfg(pairs[has_next], move_us[has_next], size)


def _dfg(pairs: np.ndarray, micros: np.ndarray, size: int) -> list[tuple[int, int, float, float]]:
    """(pair code, count, mean hours, median hours) of every directly-follows pair, sorted.

    pm4py's performance DFG computes in seconds; so do we (µs / 1e6, then / 3600), so the
    means and medians equal its figures to the last digits.
    """
    groups = size * size
    parts = _sorted_groups(pairs, micros, max(groups, 1))
    if parts is None:
        secs = micros / 1e6
        agg = (
            pl.DataFrame({"pair": pairs, "secs": secs})
            .group_by("pair")
            .agg(
                pl.len().alias("count"),
                (pl.col("secs").mean() / 3600).alias("mean_hours"),
                (pl.col("secs").median() / 3600).alias("median_hours"),
            )
            .sort("pair")
        )
        return list(agg.iter_rows())
    out = []
    for pair, part in parts:
        secs = part / 1e6
        out.append((pair, len(part), float(secs.mean()) / 3600, _quantile(secs, 0.5) / 3600))
    return out


def _strict_reached(
    order: list[str],
    code_of: dict[str, int],
    entered: dict[str, int],
    f: _Firsts,
    r: Records,
    lane_list: list[dict[str, int]] | None = None,
) -> dict[str, int]:
    """Deals that entered each stage of ``order`` after entering every earlier one, in order.

    A stage's earlier stages are those of the lanes through it (default: ``order`` itself,
    one lane). With parallel blocks (:func:`flowsim.history.branches.lanes`) a branch's
    stage needs its own branch's earlier stages, not the other branches', and the join needs
    them all.
    """
    lane_list = lane_list or [{s: i for i, s in enumerate(order)}]
    by_pos = [{i: s for s, i in lane.items()} for lane in lane_list]
    in_order = set(order)
    reached = {s: c for s, c in entered.items() if s not in in_order}
    first_deal = r.deal[f.first_rows]
    ok: dict[str, np.ndarray] = {}
    at: dict[str, np.ndarray] = {}
    for s in order:
        fp = np.full(r.deals, -1, dtype=np.int64)
        if s in code_of:
            mine = f.first_code == code_of[s]
            fp[first_deal[mine]] = f.first_pos[mine]
        cond = fp >= 0
        earlier = {pos[lane[s] - 1] for lane, pos in zip(lane_list, by_pos, strict=True)
                   if lane.get(s, 0) > 0}  # fmt: skip
        for e in earlier:
            cond &= ok[e] & (at[e] < fp)
        ok[s], at[s] = cond, fp
        reached[s] = int(cond.sum())
    return reached


def _stage_times(
    r: Records,
    names: list[str],
    has_end: np.ndarray,
    dwell_us: np.ndarray,
    order_k: np.ndarray,
    gstarts: np.ndarray,
    first_code: np.ndarray,
    last_rows: np.ndarray,
) -> tuple[dict[str, Durations], dict[str, Durations]]:
    """Time in stage per stage: of each deal's latest visit, and cumulative over its visits."""
    n = len(r.stage)
    lat_ok = has_end[last_rows]  # a censored visit has no end
    lat_stats = _durations_by(r.stage[last_rows], dwell_us[last_rows], lat_ok, names)
    # cumulative time of each (deal, stage): unknown when any of its visits has no end
    unknown = np.logical_or.reduceat(~has_end[order_k], gstarts) if n else has_end
    cum = np.add.reduceat(np.where(has_end, dwell_us, 0)[order_k], gstarts) if n else dwell_us
    return lat_stats, _durations_by(first_code, cum, ~unknown, names)


def _km(b: _Base, as_of_us: int) -> dict[str, StageSurvival]:
    """Kaplan–Meier per stage: every stay that ended (by cause) or is censored at ``as_of``.

    A stay is every record but a closed deal's last one (its outcome). ``censored`` holds
    the rows still running at ``as_of``; the others ended after ``dwell_us``: into the next
    record (cause 1, or 2 when that is a lost outcome) or, with no next record, by their own
    ``left_at`` (cause 3, next step unknown). A branch record a close cut short
    (``b.stopped``) is censored at that close.
    """
    r, censored = b.r, b.censored
    # exit cause by the next record's stage; index -1 (no next record) is the last entry
    cause_of_next = np.append(np.where(b.res_of == _RESULT_CODE["lost"], 2, 1), 3)
    t_us = b.dwell_us.copy()
    t_us[censored] = np.maximum(as_of_us - r.entered[censored], 0)
    t_us[b.stopped] = np.maximum(b.stopped_us - r.entered[b.stopped], 0)
    cause = cause_of_next[r.next_stage]
    cause[censored] = 0
    cause[b.stopped] = 0
    return _survival(r.stage, t_us, cause, b.names, skip=r.ends[b.deal_res != 0])


def _survival(
    codes: np.ndarray,
    t_us: np.ndarray,
    cause: np.ndarray,
    names: list[str],
    skip: np.ndarray | None = None,
) -> dict[str, StageSurvival]:
    """Kaplan–Meier and exit incidences of every stage, from one sort of all visits.

    Stage, time and cause are packed into one int64 (stage in the high bits, cause in the
    two low ones), so a single ``np.sort`` orders every stage's visits by time; the rows in
    ``skip`` get a stage code past the last one and sort after all (nothing is compressed
    first). Times too wide to pack fall back to one sort per stage. ``t_us`` is reused.
    """
    out: dict[str, StageSurvival] = {}
    size = len(names)
    if skip is not None and len(skip):
        t_us[skip] = 0
    if len(codes) == 0 or (skip is not None and len(skip) == len(codes)):
        return out
    stage_bits = max(1, size.bit_length())  # room for the code ``size`` of skipped rows
    room = 63 - stage_bits - 2
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    if int(t_us.min()) >= 0 and int(t_us.max()) < (1 << room):
        packed = t_us
        packed <<= 2
        packed |= cause
        packed |= codes << (room + 2)
        if skip is not None:
            packed[skip] = size << (room + 2)
        packed.sort()
        firsts = np.arange(size + 1, dtype=np.int64) << (room + 2)
        bounds = np.searchsorted(packed, firsts)
        for code, (a, b) in enumerate(itertools.pairwise(bounds)):
            t = packed[a:b] >> 2
            t -= code << room
            parts.append((t, packed[a:b] & 3))
    else:
        keep = np.ones(len(codes), dtype=np.bool_)
        if skip is not None:
            keep[skip] = False
        for code in range(size):
            mine = (codes == code) & keep
            o = np.argsort(t_us[mine], kind="stable")
            parts.append((t_us[mine][o], cause[mine][o]))
    for code, (t, c) in enumerate(parts):
        if len(t) == 0:
            continue
        curve, incidence, still = competing_risks(t, c, len(_CAUSES), unit=US_PER_HOUR)
        # built, not validated: every field is a typed value computed here
        out[names[code]] = StageSurvival.model_construct(
            visits=curve.n,
            exits=curve.n_exits,
            censored=curve.n_censored,
            median_hours=curve.median,
            times_hours=Steps.of(curve.times),
            survival=Steps.of(curve.survival),
            p_advance=float(incidence[0]),
            p_lost=float(incidence[1]),
            p_unknown=float(incidence[2]),
            p_still=still,
        )
    return out


def _wip(
    first_at: np.ndarray, closed_at: np.ndarray, start: datetime | None, end: datetime | None
) -> list[WipPoint]:
    """Open deals at each week's end: started by then and not closed by then.

    WIP(t) = #{first record <= t} - #{outcome record <= t}, from two sorted arrays (µs), so
    the cost is one sort, not one pass per week. Open deals never close within the window.
    """
    if start is None or end is None or len(first_at) == 0 or end <= start:
        return []
    first = np.sort(first_at)
    close = np.sort(closed_at)
    week = 7 * 24 * 3600 * 1_000_000
    t0 = int(first[0])
    t1 = _micros_of(end)
    steps = max(1, (t1 - t0) // week)
    step = week * (4 if steps > 520 else 1)
    grid = np.arange(t0 + step, t1 + 1, step, dtype=np.int64)
    if grid.size == 0 or grid[-1] != t1:
        grid = np.append(grid, t1)
    counts = np.searchsorted(first, grid, side="right") - np.searchsorted(close, grid, side="right")
    return [
        WipPoint(at=datetime.fromtimestamp(int(t) / 1e6, tz=UTC), open_deals=int(k))
        for t, k in zip(grid, counts, strict=True)
    ]


def _move_kind(
    src: str,
    dst: str,
    position: dict[str, int],
    results: dict[str, Result],
    lane_list: list[dict[str, int]] | None = None,
) -> Literal["forward", "skip", "backward", "repeat", "outcome", "unordered"]:
    """How ``src -> dst`` runs along the order: with parallel blocks, along the first lane
    that holds both stages (:func:`flowsim.history.branches.lanes`); two stages of different
    branches share none, and their move is unordered."""
    if src == dst:
        return "repeat"
    if dst in results:
        return "outcome"
    lane = next((ln for ln in lane_list or [position] if src in ln and dst in ln), None)
    if lane is None:
        return "unordered"
    a, b = lane[src], lane[dst]
    if b < a:
        return "backward"
    return "skip" if b > a + 1 else "forward"
