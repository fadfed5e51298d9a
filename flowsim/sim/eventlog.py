"""A replication's deals as a deal log: what the simulator hands to history's measures.

Its own module, below :mod:`flowsim.sim.simulate` and :mod:`flowsim.sim.fidelity` (which
compares a replication's deals with the real ones), so neither imports the other for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import numpy as np
import polars as pl

from flowsim.sim.engine import VISIT_COLUMNS, Run

__all__ = ["Spans", "event_log"]

#: what a row of a simulated log spans: the whole stay, or the work alone
Spans = Literal["stay", "work"]


def event_log(run: Run, epoch: datetime, name: str = "simulation", spans: Spans = "stay") -> Any:
    """A replication's deals as a :class:`~flowsim.history.DealLog` (stays and outcomes).

    ``spans="stay"``: a row runs from entering the stage to leaving it (queue, effort and
    customer wait). ``spans="work"``: from the start of the work to its end, as a log of
    activity instances with ``start`` and ``complete`` events records it (a stay still open
    at the end keeps its entry, without an end).
    """
    from flowsim.history.log import SCHEMA, DealLog, ImportReport

    c = {col: i for i, col in enumerate(VISIT_COLUMNS)}
    v = run.visits
    if spans == "work":
        v = v.copy()
        begun = ~np.isnan(v[:, c["started"]])
        v[begun, c["entered"]] = v[begun, c["started"]]
        v[:, c["left"]] = v[:, c["worked"]]
    deal_idx = v[:, c["deal"]].astype(np.int64)
    nodes = v[:, c["node"]].astype(np.int64)
    ids = np.array(run.deal_ids, dtype=object)
    stage_names = np.array(run.nodes, dtype=object)
    owner = np.array([run.owner_of.get(i) for i in range(len(run.nodes))], dtype=object)
    epoch_us = int(epoch.timestamp() * 1_000_000)

    def stamp(hours: np.ndarray) -> pl.Series:
        us = np.where(np.isnan(hours), 0, np.round(hours * 3_600_000_000)).astype(np.int64)
        s = pl.Series(us + epoch_us).cast(pl.Datetime("us", "UTC"))
        return s.set(pl.Series(np.isnan(hours)), None)

    stays = pl.DataFrame(
        {
            "deal": pl.Series(ids[deal_idx].tolist(), dtype=pl.String),
            "stage": pl.Series(stage_names[nodes].tolist(), dtype=pl.String),
            "entered_at": stamp(v[:, c["entered"]]),
            "left_at": stamp(v[:, c["left"]]),
            "started_at": stamp(v[:, c["started"]]),
            "owner": pl.Series(owner[nodes].tolist(), dtype=pl.String),
            "amount": pl.Series(run.amount[deal_idx], dtype=pl.Float64),
        }
    )
    closed = np.flatnonzero(run.outcome >= 0)
    outcomes = pl.DataFrame(
        {
            "deal": pl.Series(ids[closed].tolist(), dtype=pl.String),
            "stage": pl.Series(stage_names[run.outcome[closed]].tolist(), dtype=pl.String),
            "entered_at": stamp(run.finish[closed]),
            "left_at": stamp(run.finish[closed]),
            "started_at": stamp(np.full(closed.size, np.nan)),
            "owner": pl.Series([None] * closed.size, dtype=pl.String),
            "amount": pl.Series(run.amount[closed], dtype=pl.Float64),
        }
    )
    frame = (
        pl.concat([stays, outcomes])
        .with_columns(pl.col("amount").fill_nan(None))
        .sort(["deal", "entered_at"], maintain_order=True)
        .with_row_index("source_row", offset=1)
        .with_columns(pl.col("source_row").cast(pl.Int64))
        .select(list(SCHEMA))
    )
    report = ImportReport(
        source=f"simulation of {name}",
        format="simulation",
        rows_read=frame.height,
        rows_used=frame.height,
        records=frame.height,
    )
    return DealLog(frame, report)
