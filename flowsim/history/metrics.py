"""Funnel metrics from a deal log: stages, transitions (the performance map), process KPIs.

``metrics(log, process=None)`` returns :class:`FunnelMetrics`. Every figure is defined, with
its formula and units, in ``docs/metrics.md``; the short version:

- records are sorted by ``(deal, entered_at, source_row)`` (the :class:`DealLog` order); the
  *next* record of a deal is the one after it in that order;
- a deal is **won/lost/other** when its last record's stage is an outcome (with a process: an
  ``Outcome`` id or label, case-insensitive, its ``result``; without: a stage name that
  :func:`flowsim.dsl.builder.infer_result` reads as won or lost), else it is **open** and
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

import json
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from flowsim.dsl.builder import infer_result
from flowsim.history.log import DealLog
from flowsim.history.survival import cumulative_incidence, kaplan_meier
from flowsim.model import Outcome, Process
from flowsim.overlay import EdgeFigures, Overlay, StageFigures

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CycleTime",
    "Durations",
    "FunnelMetrics",
    "Header",
    "ProcessMetrics",
    "StageMetrics",
    "StageSurvival",
    "TransitionMetrics",
    "metrics",
]

Funnel = Literal["strict", "touched"]
Result = Literal["won", "lost", "other"]
US_PER_HOUR = 3_600_000_000
US_PER_DAY = 24 * US_PER_HOUR
NONE_GROUP = "(none)"


class _M(BaseModel):
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
    times_hours: list[float] = Field(description="Distinct exit times (the curve's steps).")
    survival: list[float] = Field(description="S(t) = P(still in stage after t hours).")
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

    def to_frame(
        self, kind: Literal["stages", "transitions", "process"] = "stages"
    ) -> pd.DataFrame:
        """A pandas view: one row per stage, per transition, or one row of process figures."""
        import pandas as pd

        if kind == "stages":
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
            return pd.DataFrame(rows).set_index("stage") if rows else pd.DataFrame()
        if kind == "transitions":
            return pd.DataFrame([t.model_dump() for t in self.transitions])
        if kind == "process":
            data = self.process.model_dump(exclude={"cycle_time"})
            for result, ct in self.process.cycle_time.items():
                for f, v in ct.model_dump().items():
                    data[f"cycle_{result}_{f}"] = v
            return pd.DataFrame([data])
        raise ValueError(f"unknown frame kind {kind!r}: stages, transitions or process")

    def to_overlay(self, process: Process | None = None) -> Overlay:
        """The flowchart overlay: per stage entered, mean latest dwell, leakage, moving-on share."""
        lookup = _NameLookup(process) if process is not None else None

        def key(name: str) -> str:
            if lookup is None:
                return name
            return lookup.node_id(name) or name

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

    def to_json(self, *, indent: int | None = 2) -> str:
        """Deterministic JSON: sorted keys, floats rounded to 6 significant digits."""
        return json.dumps(
            _round(self.model_dump(mode="json")), sort_keys=True, indent=indent, ensure_ascii=False
        )


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


class _NameLookup:
    """Matches log stage values to process node ids: id or label, case-insensitive."""

    def __init__(self, process: Process) -> None:
        self.ids: dict[str, str] = {}
        for node in process.iter_nodes():
            for text in (node.id, node.label):
                if text:
                    self.ids.setdefault(text.strip().casefold(), node.id)
        self.process = process

    def node_id(self, name: str) -> str | None:
        return self.ids.get(name.strip().casefold())


# ----------------------------------------------------------------------------------------------


@overload
def metrics(
    log: DealLog,
    process: Process | None = None,
    *,
    funnel: Funnel = "touched",
    as_of: datetime | None = None,
    by: None = None,
) -> FunnelMetrics: ...


@overload
def metrics(
    log: DealLog,
    process: Process | None = None,
    *,
    funnel: Funnel = "touched",
    as_of: datetime | None = None,
    by: str,
) -> dict[str, FunnelMetrics]: ...


def metrics(
    log: DealLog,
    process: Process | None = None,
    *,
    funnel: Funnel = "touched",
    as_of: datetime | None = None,
    by: str | None = None,
) -> FunnelMetrics | dict[str, FunnelMetrics]:
    """Measure the funnel of ``log`` (see ``docs/metrics.md``).

    ``funnel="touched"`` counts a deal at every stage it ever entered; ``"strict"`` only where
    it passed every earlier stage of the order first. ``as_of`` censors open deals (default:
    the log's last timestamp). ``by`` (``"owner"``, ``"month"``, ``"quarter"`` or a column of
    the log) splits the deals by the value on their first record and returns one
    :class:`FunnelMetrics` per group, all censored at the same ``as_of``.
    """
    if funnel not in ("strict", "touched"):
        raise ValueError(f"funnel must be 'strict' or 'touched', not {funnel!r}")
    frame = log.frame
    if as_of is None:
        as_of = _last_timestamp(frame)
    if by is None:
        return _measure(frame, log, process, funnel, as_of)
    keys = _group_keys(frame, by)
    out: dict[str, FunnelMetrics] = {}
    for group in sorted(keys["group"].unique().to_list()):
        deals = keys.filter(pl.col("group") == group)["deal"].implode()
        part = frame.filter(pl.col("deal").is_in(deals))
        out[group] = _measure(part, log, process, funnel, as_of)
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


def _group_keys(frame: pl.DataFrame, by: str) -> pl.DataFrame:
    """One row per deal: its group, from the deal's first record (first non-null value)."""
    first = pl.col("entered_at").min()
    if by == "month":
        expr = first.dt.strftime("%Y-%m")
    elif by == "quarter":
        expr = first.dt.year().cast(pl.String) + "-Q" + first.dt.quarter().cast(pl.String)
    elif by in frame.columns:
        expr = pl.col(by).drop_nulls().first().cast(pl.String)
    else:
        raise ValueError(
            f"cannot break down by {by!r}: use owner, month, quarter or one of {frame.columns}"
        )
    return (
        frame.group_by("deal", maintain_order=True)
        .agg(expr.alias("group"))
        .with_columns(pl.col("group").fill_null(NONE_GROUP))
    )


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


def _stats_by(frame: pl.DataFrame, column: str) -> dict[str, Durations]:
    """Durations of ``column`` per stage, nulls left out."""
    agg = (
        frame.filter(pl.col(column).is_not_null())
        .group_by("stage")
        .agg(
            pl.len().alias("n"),
            pl.col(column).mean().alias("mean"),
            pl.col(column).median().alias("median"),
            pl.col(column).quantile(0.9, "linear").alias("p90"),
        )
    )
    return {
        r["stage"]: Durations(n=r["n"], mean=r["mean"], median=r["median"], p90=r["p90"])
        for r in agg.iter_rows(named=True)
    }


def _classify(
    stages: list[str], process: Process | None
) -> tuple[dict[str, str], dict[str, Result], list[str]]:
    """Log stage value → name used in the output, outcome results, unmatched names."""
    rename: dict[str, str] = {}
    results: dict[str, Result] = {}
    unmatched: list[str] = []
    if process is None:
        for name in stages:
            r = infer_result(name, None)
            if r in ("won", "lost"):
                results[name] = r  # type: ignore[assignment]
        return rename, results, unmatched
    lookup = _NameLookup(process)
    for name in stages:
        node_id = lookup.node_id(name)
        if node_id is None:
            unmatched.append(name)
            continue
        if node_id != name:
            rename[name] = node_id
        node = process.node(node_id)
        if isinstance(node, Outcome):
            results[node_id] = node.result
    return rename, results, unmatched


def _measure(
    frame: pl.DataFrame,
    log: DealLog,
    process: Process | None,
    funnel: Funnel,
    as_of: datetime | None,
) -> FunnelMetrics:
    rep = log.report
    rename, results, unmatched = _classify(sorted(frame["stage"].unique().to_list()), process)
    if rename:
        frame = frame.with_columns(pl.col("stage").replace(rename))
    result_of = pl.col("stage").replace_strict(results, default=None, return_dtype=pl.String)
    as_of_lit = pl.lit(as_of, dtype=pl.Datetime("us", "UTC"))

    # --- one row per record, with the deal's next record and its outcome -------------------
    # The frame is sorted by deal, so "the deal's next record" is the next row when it has the
    # same deal: shifts and fills with a boundary mask, not window functions over the deal
    # (those were half of the time at 800k rows).
    if not frame["deal"].is_sorted():
        frame = frame.sort(["deal", "entered_at", "source_row"], maintain_order=True)
    same_next = pl.col("deal") == pl.col("deal").shift(-1)
    deal_starts = pl.col("deal") != pl.col("deal").shift(1)
    row_index = pl.int_range(pl.len())
    rec = frame.with_columns(
        pl.when(same_next).then(pl.col("stage").shift(-1)).alias("next_stage"),
        pl.when(same_next).then(pl.col("entered_at").shift(-1)).alias("next_at"),
        (row_index - pl.when(deal_starts.fill_null(True)).then(row_index).forward_fill()).alias(
            "pos"
        ),
        result_of.alias("result"),
        (~same_next.fill_null(False)).alias("is_last"),
    )
    # The outcome of the deal's last record, carried back over its earlier records ("" marks
    # an open deal so the fill never crosses into the previous deal).
    rec = rec.with_columns(
        pl.when(pl.col("is_last"))
        .then(pl.col("result").fill_null(""))
        .backward_fill()
        .replace("", None)
        .alias("deal_result"),
        pl.col("next_stage")
        .replace_strict(results, default=None, return_dtype=pl.String)
        .alias("next_result"),
        pl.when(pl.col("is_last")).then(pl.col("pos")).backward_fill().alias("last_pos"),
    )
    rec = rec.with_columns(
        pl.coalesce("left_at", "next_at").alias("end_at"),
    ).with_columns(
        ((pl.col("end_at") - pl.col("entered_at")).dt.total_microseconds() / US_PER_HOUR).alias(
            "dwell"
        ),
        (
            pl.col("end_at").is_null()
            & pl.col("deal_result").is_null()
            & (pl.col("pos") == pl.col("last_pos"))
        ).alias("censored"),
    )
    rec = rec.with_columns(
        pl.when(pl.col("censored"))
        .then(((as_of_lit - pl.col("entered_at")).dt.total_microseconds() / US_PER_HOUR).clip(0.0))
        .alias("censored_hours")
    )

    # --- one row per deal ---------------------------------------------------------------------
    deals = rec.group_by("deal").agg(
        pl.col("entered_at").first().alias("first_at"),
        pl.col("entered_at").last().alias("last_at"),
        pl.col("stage").first().alias("first_stage"),
        pl.col("stage").last().alias("last_stage"),
        pl.col("deal_result").first().alias("result"),
        pl.col("amount").drop_nulls().last().alias("amount"),
    )
    n_deals = deals.height
    counts = dict(
        deals.group_by("result").len().select(pl.col("result").fill_null("open"), "len").iter_rows()
    )
    won, lost, other = (int(counts.get(k, 0)) for k in ("won", "lost", "other"))
    n_open = int(counts.get("open", 0))

    # --- stage order (process phase order, else mean first position) -------------------------
    stage_names = sorted(rec["stage"].unique().to_list())
    if process is not None:
        from flowsim.graph import phase_order

        order = phase_order(process)
        entry = process.entry
        first_stage: str | None = entry.id if entry is not None else (order[0] if order else None)
        order_from: Literal["process", "observed"] = "process"
    else:
        firsts = (
            rec.filter(pl.col("result").is_null())
            .group_by("deal", "stage")
            .agg(pl.col("pos").min())
            .group_by("stage")
            .agg(pl.col("pos").mean().alias("mean_pos"))
            .sort("mean_pos", "stage")
        )
        order = firsts["stage"].to_list()
        starts = (
            deals.group_by("first_stage")
            .len()
            .sort(["len", "first_stage"], descending=[True, False])
        )
        first_stage = starts["first_stage"][0] if starts.height else None
        order_from = "observed"
    position = {s: i for i, s in enumerate(order)}

    # --- reached per funnel mode --------------------------------------------------------------
    first_pos = rec.group_by("deal", "stage").agg(pl.col("pos").min().alias("fp"))
    touched = first_pos.group_by("stage").len()
    entered = dict(touched.iter_rows())
    if funnel == "touched":
        reached = dict(entered)
        funnel_rule = "touched: a deal counts at every stage it ever entered"
    else:
        funnel_rule = (
            "strict: a deal counts at a stage of the order only when it entered every "
            "earlier stage of the order first (first entries in order); outcomes as touched"
        )
        wide = first_pos.filter(pl.col("stage").is_in(order)).pivot(
            on="stage", index="deal", values="fp"
        )
        reached = {s: n for s, n in entered.items() if s not in position}
        ok = pl.lit(True)
        prev: str | None = None
        for s in order:
            if s not in wide.columns:
                ok = pl.lit(False)
                reached[s] = 0
                prev = s
                continue
            cond = ok & pl.col(s).is_not_null()
            if prev is not None and prev in wide.columns:
                cond = cond & (pl.col(prev) < pl.col(s))
            ok = cond
            reached[s] = int(wide.select(ok.fill_null(False).sum()).item())
            prev = s

    # --- transitions (directly-follows) -------------------------------------------------------
    moves = rec.filter(pl.col("next_stage").is_not_null()).with_columns(
        ((pl.col("next_at") - pl.col("entered_at")).dt.total_microseconds() / 1e6).alias("secs")
    )
    exits_total = dict(moves.group_by("stage").len().iter_rows())
    dfg = (
        moves.group_by("stage", "next_stage")
        .agg(
            pl.len().alias("count"),
            (pl.col("secs").mean() / 3600).alias("mean_hours"),
            (pl.col("secs").median() / 3600).alias("median_hours"),
        )
        .sort("stage", "next_stage")
    )
    transitions: list[TransitionMetrics] = []
    exits_to: dict[str, dict[str, int]] = {}
    for src, dst, cnt, mean_h, median_h in dfg.iter_rows():
        exits_to.setdefault(src, {})[dst] = cnt
        transitions.append(
            TransitionMetrics(
                source=src,
                target=dst,
                count=cnt,
                share=cnt / exits_total[src],
                mean_hours=mean_h,
                median_hours=median_h,
                move=_move_kind(src, dst, position, results),
            )
        )
    pos_of = pl.col("stage").replace_strict(position, default=None, return_dtype=pl.Int64)
    nxt_pos = pl.col("next_stage").replace_strict(position, default=None, return_dtype=pl.Int64)
    flags = moves.with_columns(
        (nxt_pos - pos_of).alias("step"), (pl.col("stage") == pl.col("next_stage")).alias("rep")
    ).with_columns((pl.col("step") > 1).alias("skip"), (pl.col("step") < 0).alias("back"))
    per_deal = flags.group_by("deal").agg(pl.col("skip").any(), pl.col("back").any())
    skips = int(flags["skip"].sum() or 0)
    backs = int(flags["back"].sum() or 0)
    repeats = int(flags["rep"].sum() or 0)

    # --- per-stage figures --------------------------------------------------------------------
    per_stage = rec.group_by("stage").agg(
        pl.len().alias("visits"),
        pl.col("censored").sum().alias("censored"),
        ((pl.col("pos") == pl.col("last_pos")) & pl.col("deal_result").is_null())
        .sum()
        .alias("still_open"),
    )
    stage_rows = {r["stage"]: r for r in per_stage.iter_rows(named=True)}
    leak = (
        moves.group_by("stage")
        .agg((pl.col("next_result") == "lost").sum().alias("lost"))
        .iter_rows()
    )
    leaked = dict(leak)
    visits_of = rec.group_by("deal", "stage", maintain_order=True)
    latest = visits_of.agg(
        pl.col("dwell").last().alias("latest"),
        pl.when(pl.col("censored").any() | (pl.col("dwell").null_count() > 0))
        .then(None)
        .otherwise(pl.col("dwell").sum())
        .alias("cum"),
        pl.col("censored").last().alias("latest_censored"),
    )
    # win probability per stage: closed deals that entered it
    closed_touch = first_pos.join(deals.select("deal", "result"), on="deal").filter(
        pl.col("result").is_not_null()
    )
    win_p = dict(
        closed_touch.group_by("stage")
        .agg((pl.col("result") == "won").mean().alias("p"))
        .iter_rows()
    )
    has_start = rec["started_at"].is_not_null().any()
    first_reached = reached.get(first_stage, 0) if first_stage is not None else 0

    lat_stats = _stats_by(latest.filter(~pl.col("latest_censored")), "latest")
    cum_stats = _stats_by(latest, "cum")
    wait_stats: dict[str, Durations] = {}
    work_stats: dict[str, Durations] = {}
    if has_start:
        timed = rec.filter(pl.col("started_at").is_not_null()).with_columns(
            (
                (pl.col("started_at") - pl.col("entered_at")).dt.total_microseconds() / US_PER_HOUR
            ).alias("waiting"),
            (
                (pl.col("left_at") - pl.col("started_at")).dt.total_microseconds() / US_PER_HOUR
            ).alias("working"),
        )
        wait_stats = _stats_by(timed, "waiting")
        work_stats = _stats_by(timed, "working")

    stages: dict[str, StageMetrics] = {}
    for name in stage_names:
        row = stage_rows[name]
        ex = exits_total.get(name, 0)
        to = dict(sorted(exits_to.get(name, {}).items()))
        stages[name] = StageMetrics(
            stage=name,
            kind="outcome" if name in results else "stage",
            result=results.get(name),
            position=position.get(name),
            entered=int(entered.get(name, 0)),
            reached=int(reached.get(name, 0)),
            visits=int(row["visits"]),
            reentries=int(row["visits"]) - int(entered.get(name, 0)),
            still_open=int(row["still_open"]),
            exits=ex,
            exits_to=to,
            next_step_conversion={k: v / ex for k, v in to.items()},
            cohort_conversion=(reached.get(name, 0) / first_reached) if first_reached else None,
            leakage=(leaked.get(name, 0) / ex) if ex else None,
            win_probability=win_p.get(name),
            time_latest=lat_stats.get(name, Durations()),
            time_cumulative=cum_stats.get(name, Durations()),
            censored_visits=int(row["censored"]),
            waiting=wait_stats.get(name, Durations()) if has_start else None,
            working=work_stats.get(name, Durations()) if has_start else None,
        )

    # --- Kaplan–Meier per stage ---------------------------------------------------------------
    km_frame = rec.filter(pl.col("result").is_null() | (pl.col("pos") != pl.col("last_pos")))
    km_frame = km_frame.filter(pl.col("dwell").is_not_null() | pl.col("censored")).with_columns(
        pl.coalesce("dwell", "censored_hours").alias("t"),
        pl.when(pl.col("censored"))
        .then(pl.lit(""))
        .when(pl.col("next_stage").is_null())
        .then(pl.lit("unknown"))
        .when(pl.col("next_result") == "lost")
        .then(pl.lit("lost"))
        .otherwise(pl.lit("advance"))
        .alias("cause"),
    )
    survival: dict[str, StageSurvival] = {}
    for name, part in km_frame.partition_by("stage", as_dict=True, maintain_order=False).items():
        stage_name = str(name[0])
        t = part["t"].to_numpy()
        cause = part["cause"].to_numpy().astype(np.str_)
        curve = kaplan_meier(t, cause != "")
        cif = cumulative_incidence(t, cause, ["advance", "lost", "unknown"])
        survival[stage_name] = StageSurvival(
            visits=curve.n,
            exits=curve.n_exits,
            censored=curve.n_censored,
            median_hours=curve.median,
            times_hours=curve.times.tolist(),
            survival=curve.survival.tolist(),
            p_advance=cif["advance"],
            p_lost=cif["lost"],
            p_unknown=cif["unknown"],
            p_still=cif["still"],
        )
    survival = dict(sorted(survival.items()))

    # --- process figures ----------------------------------------------------------------------
    cyc = deals.with_columns(
        pl.when(pl.col("result").is_null())
        .then(as_of_lit - pl.col("first_at"))
        .otherwise(pl.col("last_at") - pl.col("first_at"))
        .dt.total_microseconds()
        .truediv(US_PER_DAY)
        .alias("days"),
        pl.col("result").fill_null("open").alias("group"),
    )
    cycle_time: dict[str, CycleTime] = {}
    for group in ("won", "lost", "other", "open"):
        d = _durations(cyc.filter(pl.col("group") == group)["days"])
        cycle_time[group] = CycleTime(
            deals=d.n, mean_days=d.mean, median_days=d.median, p90_days=d.p90
        )
    start = rec["entered_at"].min() if rec.height else None
    weeks = None
    if isinstance(start, datetime) and as_of is not None and as_of > start:
        weeks = (as_of - start).total_seconds() / (7 * 86400)
    closed = won + lost + other
    won_deals = cyc.filter(pl.col("group") == "won")
    won_amounts = won_deals["amount"].drop_nulls()
    mean_won_amount = float(won_amounts.mean()) if won_amounts.len() else None  # type: ignore[arg-type]
    mean_won_days = float(won_deals["days"].mean()) if won_deals.height else None  # type: ignore[arg-type]
    win_rate = won / (won + lost) if won + lost else None
    velocity = None
    if win_rate is not None and mean_won_amount is not None and mean_won_days:
        velocity = n_open * win_rate * mean_won_amount / mean_won_days
    open_deals = deals.filter(pl.col("result").is_null()).with_columns(
        pl.col("last_stage").replace_strict(win_p, default=None, return_dtype=pl.Float64).alias("p")
    )
    priced = open_deals.filter(pl.col("amount").is_not_null() & pl.col("p").is_not_null())
    has_amounts = deals["amount"].is_not_null().any()
    weighted = float((priced["amount"] * priced["p"]).sum()) if has_amounts else None

    header = Header(
        source=rep.source,
        rows_read=rep.rows_read,
        rows_used=rep.rows_used,
        rows_skipped=rep.rows_skipped,
        skipped_by_reason=dict(rep.skipped_by_reason),
        records=rec.height,
        deals=n_deals,
        open=n_open,
        won=won,
        lost=lost,
        other=other,
        as_of=as_of,
        funnel=funnel,
        funnel_rule=funnel_rule,
        first_stage=first_stage,
        stage_order=order,
        order_from=order_from,
        unmatched_stages=unmatched,
    )
    proc = ProcessMetrics(
        win_rate=win_rate,
        win_rate_all_deals=won / n_deals if n_deals else None,
        cycle_time=cycle_time,
        observation_start=start if isinstance(start, datetime) else None,
        observation_weeks=weeks,
        arrivals_per_week=n_deals / weeks if weeks else None,
        throughput_per_week=closed / weeks if weeks else None,
        deals_with_amount=int(deals["amount"].is_not_null().sum()),
        mean_won_amount=mean_won_amount,
        mean_won_cycle_days=mean_won_days,
        sales_velocity_per_day=velocity,
        weighted_pipeline=weighted,
        weighted_pipeline_unpriced=open_deals.height - priced.height,
        skips=skips,
        backward_moves=backs,
        repeats=repeats,
        deals_with_skips=int(per_deal["skip"].sum() or 0),
        deals_with_backward_moves=int(per_deal["back"].sum() or 0),
        wip=_wip(deals, start if isinstance(start, datetime) else None, as_of),
    )
    return FunnelMetrics(
        header=header, stages=stages, transitions=transitions, process=proc, survival=survival
    )


def _wip(deals: pl.DataFrame, start: datetime | None, end: datetime | None) -> list[WipPoint]:
    """Open deals at each week's end: started by then and not closed by then.

    WIP(t) = #{first record <= t} - #{outcome record <= t}, from two sorted arrays, so the
    cost is one sort, not one pass per week. Open deals never close within the window.
    """
    if start is None or end is None or deals.height == 0 or end <= start:
        return []
    import numpy as np

    us = pl.Datetime("us", "UTC")
    first = np.sort(deals["first_at"].cast(us).dt.epoch("us").to_numpy())
    closed = deals.filter(pl.col("result").is_not_null())["last_at"].cast(us)
    close = np.sort(closed.dt.epoch("us").to_numpy())
    week = 7 * 24 * 3600 * 1_000_000
    t0 = int(first[0]) if first.size else 0
    t1 = int(pl.Series([end]).cast(us).dt.epoch("us")[0])
    steps = max(1, (t1 - t0) // week)
    step = week * (4 if steps > 520 else 1)
    grid = np.arange(t0 + step, t1 + 1, step, dtype=np.int64)
    if grid.size == 0 or grid[-1] != t1:
        grid = np.append(grid, t1)
    counts = np.searchsorted(first, grid, side="right") - np.searchsorted(close, grid, side="right")
    return [
        WipPoint(at=datetime.fromtimestamp(int(t) / 1e6, tz=UTC), open_deals=int(n))
        for t, n in zip(grid, counts, strict=True)
    ]


def _move_kind(
    src: str, dst: str, position: dict[str, int], results: dict[str, Result]
) -> Literal["forward", "skip", "backward", "repeat", "outcome", "unordered"]:
    if src == dst:
        return "repeat"
    if dst in results:
        return "outcome"
    a, b = position.get(src), position.get(dst)
    if a is None or b is None:
        return "unordered"
    if b < a:
        return "backward"
    return "skip" if b > a + 1 else "forward"
