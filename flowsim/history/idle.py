"""The idle rule: a deal with no activity for a given time is lost.

CRMs rarely record a loss: a lead that goes quiet simply stays "open" (Olist records no lost
lead at all). Counting such deals as open forever inflates the pipeline and the cycle times;
dropping them inflates the win rate. The idle rule says what a sales team means by "dead":
no activity for ``hours`` (``--idle-lost 90d`` on every log-reading command, or ``idle 90d``
on an outcome of the ``.flow`` file). :func:`apply_idle_rule` adds, for every deal that is
open at ``as_of`` and has been idle that long, an outcome record at its last activity plus
the idle time, so that metrics, discovery, conformance, replay and forecast read the same
history.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from flowsim.errors import InputError
from flowsim.history.log import UTC_US, DealLog
from flowsim.model import Duration, Process, infer_result, parse_duration

__all__ = ["IdleRule", "apply_idle_rule", "idle_stage_name"]


def idle_stage_name(hours: float) -> str:
    """The outcome stage of idle deals when no process names one: ``Lost (idle 90d)``.

    Examples
    --------
    >>> idle_stage_name(90 * 24), idle_stage_name(36.0)
    ('Lost (idle 90d)', 'Lost (idle 1.5d)')
    """
    from flowsim.dsl.formatter import fmt_duration

    return f"Lost (idle {fmt_duration(hours)})"


class IdleRule:
    """What the idle rule did to a log: the rule, and how many deals it closed."""

    def __init__(self, hours: float, stage: str, closed: int) -> None:
        self.hours = hours
        self.stage = stage
        self.closed = closed

    def note(self) -> str:
        """One line for the output: how many deals, which outcome, from when."""
        from flowsim.dsl.formatter import fmt_duration

        return (
            f"idle rule: {self.closed} open deal(s) with no activity for "
            f"{fmt_duration(self.hours)} are lost ('{self.stage}', dated their last activity "
            f"+ {fmt_duration(self.hours)})"
        )


def _closing(log: DealLog, stage: str, process: Process | None) -> list[str]:
    """The stage values that close a deal: the process's outcomes (by id or label), else the
    declared ones, else names that read won/lost; and the idle stage itself."""
    values = log.frame["stage"].unique().to_list()
    if process is not None:
        ids = {o.id for o in process.outcomes}
        return [v for v in values if v == stage or process.find_node(v) in ids]
    if log.outcomes:
        return [v for v in values if v in log.outcomes or v == stage]
    return [v for v in values if v == stage or infer_result(v, None) != "other"]


def apply_idle_rule(
    log: DealLog,
    hours: Duration,
    *,
    as_of: datetime | None = None,
    stage: str | None = None,
    process: Process | None = None,
) -> tuple[DealLog, IdleRule]:
    """``log`` with the deals idle for ``hours`` (or a duration: ``"90d"``) closed as lost.

    A deal is open when none of its records is an outcome (the ``process``'s outcomes, by id
    or label; else the log's declared outcomes, else names that read won/lost).
    Its last activity is the latest of its times; when that plus ``hours`` is not after
    ``as_of`` (default: the log's last timestamp), a record of ``stage`` (default
    :func:`idle_stage_name`) is added at that moment. With an earlier ``as_of`` (a forecast
    from a past date) only what was recorded by then counts: a deal won after ``as_of`` was
    open, and may have been quiet, at it. The stage is remembered as a lost outcome of the
    log (:attr:`DealLog.outcomes`, when the log declares outcomes).

    Examples
    --------
    >>> from flowsim.history.log import ImportReport
    >>> from datetime import UTC
    >>> t = [datetime(2024, 1, d, tzinfo=UTC) for d in (1, 2, 20)]
    >>> frame = pl.DataFrame({"deal": ["a", "b", "c"], "stage": ["lead", "lead", "lead"],
    ...     "entered_at": t}).with_columns(
    ...     left_at=pl.lit(None, UTC_US), started_at=pl.lit(None, UTC_US),
    ...     owner=pl.lit(None, pl.String), amount=pl.lit(None, pl.Float64),
    ...     source_row=pl.int_range(1, 4, dtype=pl.Int64))
    >>> log = DealLog(frame, ImportReport(source="x.csv", format="csv"))
    >>> idle, rule = apply_idle_rule(log, 10 * 24.0)
    >>> rule.closed, idle.frame.filter(pl.col("stage") != "lead")["deal"].to_list()
    (2, ['a', 'b'])
    """
    hours = parse_duration(hours, what="the idle time")
    if hours <= 0:
        raise InputError(f"an idle time must be greater than 0, not {hours:g} hours")
    name = stage or idle_stage_name(hours)
    frame = log.frame
    if frame.height == 0:
        return log, IdleRule(hours, name, 0)
    closing = _closing(log, name, process)
    last = pl.max_horizontal("entered_at", "left_at", "started_at")
    seen = frame
    if as_of is not None:  # what was known then: records up to as_of (a stay's end after it
        # is not yet activity), so a deal won later is still open, and quiet, at as_of
        seen = frame.filter(pl.col("entered_at") <= as_of).with_columns(
            [pl.when(pl.col(c) <= as_of).then(pl.col(c)) for c in ("left_at", "started_at")]
        )
    per_deal = seen.group_by("deal", maintain_order=True).agg(
        last=last.max(),
        closed=pl.col("stage").is_in(closing).any(),
        amount=pl.col("amount").drop_nulls().last(),
        owner=pl.col("owner").drop_nulls().last(),
    )
    end = as_of if as_of is not None else per_deal["last"].max()
    due = per_deal["last"] + pl.duration(microseconds=int(hours * 3.6e9))
    idle = per_deal.with_columns(at=due).filter(
        ~pl.col("closed") & (pl.col("at") <= pl.lit(end, dtype=UTC_US))
    )
    if idle.height == 0:
        return log, IdleRule(hours, name, 0)
    added = idle.select(
        "deal",
        stage=pl.lit(name),
        entered_at=pl.col("at").cast(UTC_US),
        left_at=pl.lit(None, UTC_US),
        started_at=pl.lit(None, UTC_US),
        owner="owner",
        amount="amount",
        source_row=pl.lit(-1, pl.Int64),  # no row of the source: made by the rule
    )
    joined = pl.concat([frame, added]).sort(["deal", "entered_at", "source_row"])
    out = log.derive(joined)
    if log.outcomes:
        out.outcomes[name] = "lost"
    out.idle = (name, hours)
    return out, IdleRule(hours, name, idle.height)
