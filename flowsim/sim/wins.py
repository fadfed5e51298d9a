"""What a deal log says about won deals, shared by the forecast, its backtests and the
bootstrap (a module of its own so that they import it, not each other)."""

from __future__ import annotations

from typing import Any

import polars as pl

from flowsim.model import Process


def won_records(log: Any, process: Process) -> pl.DataFrame:
    """The log's arrivals in a won outcome: one row per deal (its first), with its amount."""
    won = {o.id for o in process.outcomes if o.result == "won"}
    frame: pl.DataFrame = log.frame
    names = [n for n in frame["stage"].unique().to_list() if process.find_node(n) in won]
    return (
        frame.filter(pl.col("stage").is_in(names))
        .sort(["deal", "entered_at", "source_row"])
        .group_by("deal", maintain_order=True)
        .agg(pl.col("entered_at").first(), pl.col("amount").drop_nulls().last())
    )
