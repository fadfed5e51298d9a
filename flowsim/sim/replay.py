"""History as input to the engine: each real deal's arrival, path and observed stays.

A replay sends every deal of a log through the model at its real arrival time along its real
path. What a deal spent in each stay is kept as observed time (``span``) and split by the
engine into effort and customer wait, so that with capacity that never binds the replay
reproduces every deal's cycle time exactly, and a what-if changes only what it changes.

Logs are messy: a stay may begin before the previous one ended (parallel activities in an
event log) or after a gap. The deal's clock is its *running end* (the latest end so far): a
stay occupies only the part of its observed interval after the running end, and a gap
before it is waited as lead time. Summed, the stays cover exactly first entry → last end.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

from flowsim.errors import FlowsimError, InputError
from flowsim.history.log import DealLog
from flowsim.model import Process

__all__ = [
    "OpenDeal",
    "ReplayDeal",
    "ReplayPlan",
    "Stay",
    "UnknownStages",
    "open_deals",
    "prepare_replay",
    "win_value",
]

_US_PER_HOUR = 3_600_000_000


@dataclass(frozen=True, slots=True)
class Stay:
    """One observed stay: node index, gap waited before it, hours it occupies, work start.

    A stay still open at the end of history has ``span`` infinite and ``age`` the hours it
    had lasted by then (0 for the others).
    """

    node: int
    gap: float
    span: float
    start_offset: float | None = None
    age: float = 0.0


@dataclass(frozen=True, slots=True)
class ReplayDeal:
    """A real deal: id, arrival (hours after epoch), amount (NaN unknown), stays, still open."""

    deal: str
    arrival: float
    amount: float
    stays: tuple[Stay, ...]
    open: bool


@dataclass(frozen=True)
class ReplayPlan:
    """History ready for the engine: the clock's epoch, the deals, and where history ends.

    ``won_amount`` is the mean amount of the deals history shows won, counting only amounts
    above 0 (NaN when there are none): the value of a deal a scenario turns into a win when
    neither the deal nor the model has an amount (see :func:`win_value`).
    """

    epoch: datetime
    deals: list[ReplayDeal]
    end: float
    records: int
    unmatched: dict[str, int]
    won_amount: float = math.nan


class UnknownStages(FlowsimError, ValueError):
    """The log names stages the model lacks (replay needs every stage in the model)."""

    def __init__(self, unmatched: dict[str, int], known: list[str]) -> None:
        self.unmatched = unmatched
        names = ", ".join(f"{k!r} ({v} records)" for k, v in sorted(unmatched.items())[:8])
        more = "" if len(unmatched) <= 8 else f" and {len(unmatched) - 8} more"
        super().__init__(
            f"the history has stages the model does not know: {names}{more}; "
            f"the model's stages and outcomes are: {', '.join(known)}"
        )


def prepare_replay(
    log: DealLog, process: Process, *, epoch: datetime | None = None, strict: bool = True
) -> ReplayPlan:
    """Turn ``log`` into :class:`ReplayDeal` s on ``process``'s nodes.

    Stage values match node ids or labels, case-insensitively. With ``strict`` an unknown
    stage raises :class:`UnknownStages`; otherwise its records are left out and counted in
    ``unmatched``. ``epoch`` defaults to midnight UTC of the first entry.
    """
    nodes = [n.id for n in process.iter_nodes()]
    index = {n: i for i, n in enumerate(nodes)}
    frame = log.frame
    names = frame["stage"].unique().to_list()
    mapping = {name: process.find_node(name) for name in names}
    unmatched_names = {n for n, v in mapping.items() if v is None}
    unmatched: dict[str, int] = {}
    if unmatched_names:
        counts = frame.filter(pl.col("stage").is_in(list(unmatched_names)))["stage"].value_counts()
        unmatched = {str(r[0]): int(r[1]) for r in counts.iter_rows()}
        if strict:
            raise UnknownStages(unmatched, nodes)
        frame = frame.filter(~pl.col("stage").is_in(list(unmatched_names)))
    if frame.height == 0:
        raise InputError("the history has no records to replay")
    first = frame["entered_at"].min()
    assert isinstance(first, datetime)
    if epoch is None:
        epoch = datetime(first.year, first.month, first.day, tzinfo=UTC)
    ends = [
        v
        for v in (frame["entered_at"].max(), frame["left_at"].max(), frame["started_at"].max())
        if isinstance(v, datetime)
    ]
    end_hours = (max(ends) - epoch).total_seconds() / 3600
    node_of = {name: index[v] for name, v in mapping.items() if v is not None}
    n_stages = len(process.stages)
    epoch_us = int(epoch.timestamp() * 1_000_000)

    def hours(col: str) -> pl.Expr:
        return (pl.col(col).dt.epoch("us") - epoch_us) / _US_PER_HOUR

    table = frame.sort(["deal", "entered_at", "source_row"]).select(
        "deal",
        pl.col("stage").replace_strict(node_of, return_dtype=pl.Int64).alias("node"),
        hours("entered_at").alias("entered"),
        hours("left_at").alias("left"),
        hours("started_at").alias("started"),
        "amount",
    )
    deals: list[ReplayDeal] = []
    for (deal,), group in table.group_by(["deal"], maintain_order=True):
        deals.append(_deal(str(deal), group, n_stages, end_hours))
    deals.sort(key=lambda d: (d.arrival, d.deal))
    won = {index[o.id] for o in process.outcomes if o.result == "won" and o.id in index}
    return ReplayPlan(
        epoch=epoch,
        deals=deals,
        end=end_hours,
        records=frame.height,
        unmatched=unmatched,
        won_amount=_won_amount(deals, won),
    )


def _won_amount(deals: list[ReplayDeal], won: set[int]) -> float:
    """Mean amount above 0 of the deals that end in a won outcome (NaN without any)."""
    values = [
        d.amount
        for d in deals
        if d.stays and d.stays[-1].node in won and math.isfinite(d.amount) and d.amount > 0
    ]
    return math.fsum(values) / len(values) if values else math.nan


def win_value(own: float, model: Callable[[], float] | None, history: float) -> float:
    """What a deal a scenario turns into a win brings in: never 0 when anything is known.

    Its own amount when that is above 0; else a draw of ``model`` (the process's ``amount``
    distribution, drawn only when needed); else ``history`` (the mean amount of the deals
    history shows won). An
    amount of 0 or less is no amount here: exports such as Maven CRM's ``close_value``
    write 0 for every lost deal, the value it did *not* bring in, not what it would bring
    in if won. NaN only when none of the three is known (revenue is then not reported).
    """
    if math.isfinite(own) and own > 0:
        return own
    if model is not None:
        drawn = model()
        if math.isfinite(drawn) and drawn > 0:
            return drawn
    return history if math.isfinite(history) and history > 0 else math.nan


def _deal(deal: str, group: pl.DataFrame, n_stages: int, history_end: float) -> ReplayDeal:
    node = group["node"].to_list()
    entered = group["entered"].to_list()
    left = group["left"].to_list()
    started = group["started"].to_list()
    amounts = [a for a in group["amount"].to_list() if a is not None and math.isfinite(a)]
    arrival = float(entered[0])
    running = arrival
    stays: list[Stay] = []
    is_open = False
    for i in range(len(node)):
        begin = max(entered[i], running)
        gap = begin - running
        if node[i] >= n_stages:  # an outcome closes the deal; later records are ignored
            stays.append(Stay(node[i], gap, 0.0))
            break
        end = left[i]
        if end is None:
            if i + 1 < len(node):
                end = entered[i + 1]
            else:
                is_open = True
                stays.append(Stay(node[i], gap, math.inf, age=max(history_end - begin, 0.0)))
                break
        end = max(end, begin)
        offset = started[i] - begin if started[i] is not None and started[i] >= begin else None
        stays.append(Stay(node[i], gap, end - begin, offset))
        running = end
    return ReplayDeal(
        deal=deal,
        arrival=arrival,
        amount=amounts[-1] if amounts else math.nan,
        stays=tuple(stays),
        open=is_open,
    )


@dataclass(frozen=True, slots=True)
class OpenDeal:
    """A deal still open at ``as_of``: where it is, for how long, since when it exists."""

    deal: str
    node: int
    age: float  # hours in its current stage at as_of
    since: float  # hours since its first entry at as_of
    amount: float


def open_deals(log: DealLog, process: Process, as_of: datetime) -> list[OpenDeal]:
    """The deals of ``log`` open at ``as_of``: in a stage of the model, no outcome yet.

    Records after ``as_of`` are ignored (the future is what a forecast predicts). Stage values
    match node ids or labels; deals whose current stage the model lacks are left out.
    """
    nodes = [n.id for n in process.iter_nodes()]
    index = {n: i for i, n in enumerate(nodes)}
    n_stages = len(process.stages)
    cut = log.frame.filter(pl.col("entered_at") <= as_of).sort(["deal", "entered_at", "source_row"])
    if cut.height == 0:
        return []
    last = cut.group_by("deal", maintain_order=True).agg(
        pl.col("stage").last(),
        pl.col("entered_at").last().alias("current"),
        pl.col("entered_at").first().alias("first"),
        pl.col("left_at").last().alias("left"),
        pl.col("amount").drop_nulls().last().alias("amount"),
    )
    out: list[OpenDeal] = []
    for deal, stage, current, first, left, amount in last.iter_rows():
        node_id = process.find_node(stage)
        if node_id is None:
            continue
        node = index[node_id]
        if node >= n_stages:  # closed with an outcome
            continue
        if left is not None and left <= as_of:
            continue  # it left its last stage before as_of without a recorded successor
        out.append(
            OpenDeal(
                deal=str(deal),
                node=node,
                age=(as_of - current).total_seconds() / 3600,
                since=(as_of - first).total_seconds() / 3600,
                amount=float(amount) if amount is not None else math.nan,
            )
        )
    return out
