"""Where a deal closes: one rule, as polars expressions, for every reader of a deal log.

A deal closes at its **first** record in a closing stage (an outcome: declared by the process
or the mapping, or inferred by :mod:`flowsim.history.closing`). Records at the same instant
as that close are its own bookkeeping (BPIC 2012 cancels the offers with the application);
only records strictly later are *after the close*. Discovery cuts them, conformance reports
them (``after-outcome``), and the import refuses them unless ``--lenient``. The metrics read
the same rule from their numpy arrays (``metrics._deal_results``); a test holds the two to
each other.

The expressions expect the :class:`~flowsim.history.log.DealLog` frame order (by deal, then
time) and the columns ``deal``, ``stage`` and ``entered_at``.
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

__all__ = ["after_close", "before_close", "closed_at"]


def closed_at(closing: Collection[str]) -> pl.Expr:
    """The instant each record's deal closes (its first closing record), null while open.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime
    >>> f = pl.DataFrame({"deal": ["a", "a", "a"], "stage": ["x", "won", "y"],
    ...                   "entered_at": [datetime(2024, 1, d) for d in (1, 2, 3)]})
    >>> f.select(closed_at(["won"]))["entered_at"].dt.day().to_list()
    [2, 2, 2]
    """
    is_close = pl.col("stage").is_in(list(closing))
    return pl.when(is_close).then(pl.col("entered_at")).min().over("deal")


def after_close(closing: Collection[str]) -> pl.Expr:
    """True for a record entered strictly after its deal closed (never null).

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime
    >>> f = pl.DataFrame({"deal": ["a", "a", "a", "a"], "stage": ["x", "won", "bk", "y"],
    ...                   "entered_at": [datetime(2024, 1, d) for d in (1, 2, 2, 3)]})
    >>> f.select(after_close(["won"]).alias("late"))["late"].to_list()
    [False, False, False, True]
    """
    return (pl.col("entered_at") > closed_at(closing)).fill_null(False)


def before_close(closing: Collection[str]) -> pl.Expr:
    """True for the records up to and including the deal's first closing record.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime
    >>> f = pl.DataFrame({"deal": ["a", "a", "a"], "stage": ["x", "won", "bk"],
    ...                   "entered_at": [datetime(2024, 1, d) for d in (1, 2, 2)]})
    >>> f.select(before_close(["won"]).alias("kept"))["kept"].to_list()
    [True, True, False]
    """
    is_close = pl.col("stage").is_in(list(closing)).cast(pl.Int32)
    return (is_close.cum_sum().over("deal") - is_close) == 0
