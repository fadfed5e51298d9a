"""One comparison table of the funnel per group: ``flowsim metrics --by COLUMN``.

``breakdown(log, by)`` splits the deals by ``by`` (``month``, ``quarter``, a field such as
``owner``, or any column of the source: the deal's value on its first record, as
:func:`flowsim.history.metrics.metrics` groups) and measures each group with the same
process, funnel mode and censoring time as the whole log. Each group becomes one row:
deals, outcomes, win rate, median cycle times and the median days in each stage; the row
``all`` (the whole log) closes the table. Groups are sorted by deal count (most first), then
by name, so the output is deterministic.
"""

from __future__ import annotations

import json
from datetime import datetime

from pydantic import ConfigDict, Field

from flowsim._base import FlowsimModel
from flowsim.history.log import DealLog
from flowsim.history.metrics import Funnel, FunnelMetrics, Header, metrics
from flowsim.model import Process

__all__ = ["Breakdown", "GroupRow", "breakdown"]

HOURS_PER_DAY = 24.0


class GroupRow(FlowsimModel):
    """The funnel of one group in figures a comparison needs (cycle and stage times in days)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group: str
    deals: int
    won: int
    lost: int
    open: int
    other: int
    win_rate: float | None = Field(description="won / (won + lost).")
    win_rate_all_deals: float | None = Field(description="won / deals.")
    won_cycle_days: float | None = Field(description="Median days from first record to won.")
    lost_cycle_days: float | None = Field(description="Median days from first record to lost.")
    mean_won_amount: float | None
    stage_days: dict[str, float | None] = Field(
        description="Median days in each stage (a deal's latest visit, as the funnel table's "
        "'days in stage'); None when no visit of the group ended."
    )
    stage_deals: dict[str, int] = Field(description="Deals that entered each stage.")


class Breakdown(FlowsimModel):
    """Every group's row, sorted by deals, and the row of the whole log (``all``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    by: str
    header: Header = Field(description="The whole log's header: import, filters, as_of.")
    stages: list[str] = Field(description="The stage columns, in the funnel's order.")
    groups: list[GroupRow]
    all: GroupRow

    def text(self) -> str:
        """One comparison table, a row per group and ``all`` (what ``metrics --by`` prints)."""
        from flowsim.history.table import breakdown_table

        return breakdown_table(self)

    def to_json(self, *, indent: int | None = 2) -> str:
        """Sorted keys, floats rounded to 6 significant digits (as ``FunnelMetrics``)."""
        from flowsim.history.metrics import _round

        data = _round(self.model_dump(mode="json"))
        return json.dumps(data, ensure_ascii=False, indent=indent, sort_keys=True)


def breakdown(
    log: DealLog,
    by: str,
    process: Process | None = None,
    *,
    funnel: Funnel = "touched",
    as_of: datetime | None = None,
) -> Breakdown:
    """The comparison table of ``log``'s groups by ``by`` (see the module doc).

    A name that is neither ``month``/``quarter``, a field nor a column of the source raises
    an ``InputError`` naming the columns there are.
    """
    whole = metrics(log, process, funnel=funnel, as_of=as_of, survival=False)
    parts = metrics(log, process, funnel=funnel, as_of=whole.header.as_of, by=by, survival=False)
    stages = [
        s
        for s in whole.header.stage_order
        + sorted(set(whole.stages) - set(whole.header.stage_order))
        if s in whole.stages and whole.stages[s].kind == "stage"
    ]
    rows = [_row(name, m, stages) for name, m in parts.items()]
    rows.sort(key=lambda r: (-r.deals, r.group))
    return Breakdown(
        by=by, header=whole.header, stages=stages, groups=rows, all=_row("all", whole, stages)
    )


def _row(name: str, m: FunnelMetrics, stages: list[str]) -> GroupRow:
    h, p = m.header, m.process

    def cycle(outcome: str) -> float | None:
        c = p.cycle_time.get(outcome)
        return c.median_days if c is not None else None

    days: dict[str, float | None] = {}
    entered: dict[str, int] = {}
    for s in stages:
        sm = m.stages.get(s)
        median = sm.time_latest.median if sm is not None else None
        days[s] = None if median is None else median / HOURS_PER_DAY
        entered[s] = sm.entered if sm is not None else 0
    return GroupRow(
        group=name,
        deals=h.deals,
        won=h.won,
        lost=h.lost,
        open=h.open,
        other=h.other,
        win_rate=p.win_rate,
        win_rate_all_deals=p.win_rate_all_deals,
        won_cycle_days=cycle("won"),
        lost_cycle_days=cycle("lost"),
        mean_won_amount=p.mean_won_amount,
        stage_days=days,
        stage_deals=entered,
    )
