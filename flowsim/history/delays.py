"""Waiting-time anatomy: the part of a wait that the simulation does not add again.

Between two work items of a deal, time passes because the next item's resource is busy with
other deals (**resource contention**: the engine adds a queue for the owner's role itself),
because nobody works then (**off-calendar** time), or because somebody outside is slow
(**extraneous delay**: the customer, a third party; the stage's ``wait``). Fitting ``wait`` on
the whole gap counts the queue twice. After Chapela-Campa & Dumas (*Enhancing business process
simulation models with extraneous activity delays*, 2023), each gap's extraneous delay is

    delay = (start - enabled) - (hours the item's resource was busy on other work meanwhile)

where ``enabled`` is the end of the deal's previous work item (for a deal's first item, its
own schedule event) and the busy hours are measured on the resource's work items of every deal,
merged where they overlap (a person working on two deals at once is busy once).

Off-calendar time is not taken out: the wait is calendar time (the engine runs only effort on
the owner's working calendar, which discovery may find: :mod:`flowsim.history.calendars`), so
it stays in the wait, where it is real elapsed time.

The engine's ``wait`` follows a stay's effort; so the delay before a deal's next item is given
to the stage of the item before it (a deal's first item also carries its own delay before it
started): a deal's total time is the same, split as the simulation walks it.
"""

from __future__ import annotations

import polars as pl

__all__ = ["busy_intervals", "waiting_anatomy"]

_US_PER_HOUR = 3_600_000_000


def _hours(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """``b - a`` in hours, at least 0."""
    return ((b - a).dt.total_microseconds() / _US_PER_HOUR).clip(lower_bound=0.0)


def busy_intervals(frame: pl.DataFrame) -> pl.DataFrame:
    """Per resource, its work items merged into disjoint busy intervals ``[u, v]``, with the
    hours it was busy before each (``before``): the cumulative busy time ``B(t)``."""
    items = (
        frame.filter(
            pl.col("owner").is_not_null()
            & pl.col("started_at").is_not_null()
            & pl.col("left_at").is_not_null()
        )
        .select("owner", u=pl.col("started_at"), v=pl.col("left_at"))
        .sort("owner", "u")
    )
    reach = pl.col("v").cum_max().shift(1).over("owner")
    items = items.with_columns(
        run=(reach.is_null() | (pl.col("u") > reach)).cast(pl.Int64).cum_sum().over("owner")
    )
    merged = (
        items.group_by("owner", "run")
        .agg(pl.col("u").min(), pl.col("v").max())
        .sort("owner", "u")
        .with_columns(length=_hours(pl.col("u"), pl.col("v")))
    )
    before = pl.col("length").cum_sum().shift(1, fill_value=0.0).over("owner")
    return merged.with_columns(before=before).select("owner", "u", "v", "before")


def _busy_until(rows: pl.DataFrame, busy: pl.DataFrame, owner: str, at: str) -> pl.Series:
    """``B(t)``: hours resource ``rows[owner]`` had been busy by ``rows[at]`` (0 if none)."""
    probe = rows.select(
        pl.int_range(pl.len()).alias("_row"), pl.col(owner).alias("owner"), pl.col(at).alias("t")
    )
    known = probe.filter(pl.col("owner").is_not_null() & pl.col("t").is_not_null())
    found = known.sort("owner", "t").join_asof(
        busy, left_on="t", right_on="u", by="owner", strategy="backward", check_sortedness=False
    )
    found = found.select(
        "_row",
        b=pl.col("before") + _hours(pl.col("u"), pl.min_horizontal("t", "v")),
    )
    out = probe.join(found, on="_row", how="left").sort("_row")
    return out["b"].fill_null(0.0)


def waiting_anatomy(frame: pl.DataFrame) -> pl.DataFrame:
    """Per work item of a lifecycle log: the wait after it, split into its two causes.

    Parameters
    ----------
    frame : polars.DataFrame
        A deal log's frame (sorted by deal and ``entered_at``), cut at each deal's close.

    Returns
    -------
    polars.DataFrame
        One row per record that was started and completed and that a later record of its
        deal follows: ``stage``, ``gap`` (hours from its completion to the next record's start,
        plus, for a deal's first item, its own schedule → start), ``contention`` (the part its
        next item's resource, or its own for the first item, was busy elsewhere) and
        ``extraneous = gap - contention``.
    """
    busy = busy_intervals(frame)
    start = pl.coalesce("started_at", "entered_at")
    rec = frame.with_columns(
        next_start=start.shift(-1).over("deal"),
        # a close or an instant record is nobody's queued work: no contention before it
        next_owner=pl.when(pl.col("started_at").shift(-1).over("deal").is_not_null())
        .then(pl.col("owner").shift(-1).over("deal"))
        .otherwise(None),
        first=pl.int_range(pl.len()).over("deal") == 0,
    )
    rec = rec.with_columns(
        _b1=_busy_until(rec, busy, "next_owner", "left_at"),
        _b2=_busy_until(rec, busy, "next_owner", "next_start"),
        _b3=_busy_until(rec, busy, "owner", "entered_at"),
        _b4=_busy_until(rec, busy, "owner", "started_at"),
    )
    after_gap = _hours(pl.col("left_at"), pl.col("next_start"))
    after_busy = pl.min_horizontal((pl.col("_b2") - pl.col("_b1")).clip(lower_bound=0.0), after_gap)
    before_gap = _hours(pl.col("entered_at"), pl.col("started_at"))
    before_busy = pl.min_horizontal(
        (pl.col("_b4") - pl.col("_b3")).clip(lower_bound=0.0), before_gap
    )
    first = pl.col("first")
    out = rec.filter(
        pl.col("started_at").is_not_null()
        & pl.col("left_at").is_not_null()
        & pl.col("next_start").is_not_null()
    ).select(
        "stage",
        gap=after_gap + pl.when(first).then(before_gap).otherwise(0.0),
        contention=after_busy + pl.when(first).then(before_busy).otherwise(0.0),
    )
    return out.with_columns(extraneous=pl.col("gap") - pl.col("contention"))
