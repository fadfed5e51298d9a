"""A deal log as integer-coded numpy arrays: the one shared, sorted frame the metrics read.

:func:`records` turns a :class:`~flowsim.history.log.DealLog` frame (sorted by
``(deal, entered_at, source_row)``, the log's invariant) into flat arrays, one entry per
record: the deal's index, the stage's code (its index in the sorted stage names), the
record's position in its deal, times as int64 microseconds since the epoch, and the deal's
next record. Every metric is then a ``bincount``, a mask or a group-by over small integer
keys, never a group-by over string columns.

Why not polars window functions or group-bys over ``(deal, stage)``: on 800k records they cost
0.3-1 s each (string hashing, one group per deal), against milliseconds for the same figures
from deal boundaries of a sorted array. Why int64 microseconds: the arithmetic is exact and a
Datetime column's physical values are exactly that (no copy, no Duration dtype).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

__all__ = ["NO_TIME", "Records", "group_bounds", "records", "same_as_previous", "stage_codes"]

I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]
#: stands for a missing time in the int64 arrays (masks say which are missing)
NO_TIME = np.iinfo(np.int64).min


@dataclass(frozen=True)
class Records:
    """One entry per record, in the log's order; ``-1`` codes and ``has_*`` masks mark gaps."""

    names: list[str]  # stage names, sorted; code i is names[i]
    raw_names: list[str]  # the frame's distinct stage values, sorted (before any renaming)
    stage: I64  # stage code
    deal: I64  # deal index, 0..deals-1 in log order
    starts: I64  # index of each deal's first record
    ends: I64  # index of each deal's last record
    entered: I64  # entered_at, µs since the epoch (UTC)
    left: I64  # left_at (NO_TIME where missing)
    has_left: Bool
    started: I64  # started_at (NO_TIME where missing)
    has_started: Bool
    next_stage: I64  # the deal's next record's stage code, -1 after its last record
    amount: npt.NDArray[np.float64]  # NaN where missing
    has_amount: Bool
    #: each record's next record's row when it is not simply the following one (a parallel
    #: block's history read per branch, :func:`flowsim.history.branches.branch_next`)
    next_row: I64 | None = None

    @property
    def n(self) -> int:
        return len(self.stage)

    @property
    def deals(self) -> int:
        return len(self.starts)

    def position(self, rows: I64) -> I64:
        """The 0-based position within its deal of each record in ``rows``."""
        return rows - self.starts[self.deal[rows]]

    @property
    def is_last(self) -> Bool:
        return self.next_stage < 0

    @property
    def next_at(self) -> I64:
        """The next record's ``entered`` (meaningful where ``next_stage >= 0``)."""
        if self.next_row is not None:
            return np.where(self.next_row >= 0, self.entered[self.next_row], NO_TIME)
        out = np.empty_like(self.entered)
        out[:-1] = self.entered[1:]
        out[-1:] = NO_TIME
        return out


def _micros(series: pl.Series) -> tuple[I64, Bool]:
    """A UTC µs Datetime column as int64 µs (zero-copy when it has no nulls) and a mask."""
    phys = series.to_physical()
    if phys.null_count() == 0:
        return phys.to_numpy().astype(np.int64, copy=False), np.ones(len(phys), dtype=np.bool_)
    if phys.null_count() == len(phys):  # e.g. no start times at all: no array to fill
        return np.broadcast_to(np.int64(NO_TIME), len(phys)), np.zeros(len(phys), dtype=np.bool_)
    mask = phys.is_not_null().to_numpy()
    return phys.fill_null(NO_TIME).to_numpy().astype(np.int64, copy=False), mask


def same_as_previous(series: pl.Series) -> Bool:
    """Which values equal the one before (the first, and nulls, never do): one comparison of
    two slices, no shifted copy. On a frame sorted by deal, ``~`` of it marks each deal's start.
    """
    n = series.len()
    same = np.zeros(n, dtype=np.bool_)
    if n > 1:
        same[1:] = (series.slice(1) == series.slice(0, n - 1)).fill_null(False).to_numpy()
    return same


def stage_codes(stage: pl.Series) -> tuple[list[str], npt.NDArray[np.uint32]]:
    """The distinct values of ``stage``, sorted, and each row's index among them."""
    raw_names = sorted(stage.drop_nulls().unique().to_list())
    if len(stage) == 0:
        return raw_names, np.zeros(0, dtype=np.uint32)
    codes = stage.cast(pl.Enum(raw_names)).to_physical().to_numpy()
    return raw_names, codes


def records(
    frame: pl.DataFrame,
    rename: Callable[[list[str]], Mapping[str, str]] | Mapping[str, str] | None = None,
    *,
    executor: Executor | None = None,
    first_records: npt.NDArray[np.bool_] | None = None,
) -> Records:
    """The arrays of ``frame`` (a DealLog frame, sorted by deal).

    ``rename`` maps some of the frame's distinct stages to the names the output uses (process
    ids), so two raw names may share one code; it may be a function of the sorted distinct
    stages. With an ``executor`` the stage codes (two hash passes over the strings, in polars,
    which releases the GIL) are found on it while this thread reads the deals and times.
    ``first_records`` says which records start a deal when that is known already
    (:meth:`~flowsim.history.log.DealLog.first_records`); otherwise the ids are compared.
    """
    n = frame.height
    job = executor.submit(stage_codes, frame["stage"]) if executor is not None else None
    new_deal = first_records if first_records is not None else ~same_as_previous(frame["deal"])
    starts = np.flatnonzero(new_deal)
    ends = np.append(starts[1:], n) - 1 if n else starts.copy()
    deal = np.cumsum(new_deal, dtype=np.int64)  # 1-based deal numbers ...
    deal -= 1  # ... made 0-based in place
    entered, _ = _micros(frame["entered_at"])
    left, has_left = _micros(frame["left_at"])
    started, has_started = _micros(frame["started_at"])
    amount_col = frame["amount"]
    has_amount = amount_col.is_not_null().to_numpy()
    amount = amount_col.to_numpy().astype(np.float64, copy=False)

    raw_names, raw_codes = job.result() if job is not None else stage_codes(frame["stage"])
    table = rename(raw_names) if callable(rename) else (rename or {})
    mapped = [table.get(s, s) for s in raw_names]
    names = sorted(set(mapped))
    code_of = {s: i for i, s in enumerate(names)}
    # raw stage -> output code through the Enum's physical codes (no string hashing per row)
    lookup = np.array([code_of[s] for s in mapped], dtype=np.int64)
    stage = lookup[raw_codes] if n else np.zeros(0, dtype=np.int64)
    next_stage = np.empty(n, dtype=np.int64)
    if n:
        next_stage[:-1] = stage[1:]
        next_stage[ends] = -1
    return Records(
        names=names,
        raw_names=raw_names,
        stage=stage,
        deal=deal,
        starts=starts,
        ends=ends,
        entered=entered,
        left=left,
        has_left=has_left,
        started=started,
        has_started=has_started,
        next_stage=next_stage,
        amount=amount,
        has_amount=has_amount,
    )


def group_bounds(keys: I64) -> tuple[I64, I64]:
    """Rows grouped by ``keys``: (order, group starts in that order).

    ``order`` is a stable argsort, so rows of a group keep the log's order; keys that are
    nearly sorted already (deal-major codes) sort in a few linear passes.
    """
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    new = np.empty(len(k), dtype=np.bool_)
    if len(k):
        new[0] = True
        np.not_equal(k[1:], k[:-1], out=new[1:])
    return order, np.flatnonzero(new)
