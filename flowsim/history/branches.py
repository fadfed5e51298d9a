"""Parallel blocks in a deal's history: which record follows which, and the order per lane.

Inside a ``parallel`` block a deal works on several branches at once, so its records
interleave in time: legal review, then validation, then the legal record's end. Read in time
order that history holds moves nobody made (legal -> validation, validation -> legal). The
one rule that conformance and metrics share reads it per branch:

- a record of a branch is followed by the next record of its own branch or, once the branch is
  done, by the next record outside the block's other branches (the join, or an outcome);
- an outcome its branch cannot reach (no transition of the record's stage leads there) is the
  one another branch reached first, which stopped this branch: no move;
- every other record (before the fork, at the join, after it) keeps its time-order next.

:func:`lanes` gives the stage order as each branch reads it, so that a move along a branch
(fork -> a branch's first stage, a branch's last stage -> the join) is a step forward, not a
skip, and no move across branches is a skip or a backward move.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

from flowsim.model import Process

__all__ = ["branch_next", "lanes", "next_stage_of"]


def branch_next(deal: pl.Series, stage: pl.Series, process: Process) -> npt.NDArray[np.int64]:
    """Each record's next record, read per branch (see the module docstring).

    Parameters
    ----------
    deal, stage : polars.Series
        One entry per record, the records of a deal contiguous and in time order; ``stage``
        holds the process's node ids (other values are outside every block).
    process : Process
        The design whose ``parallels`` say which stages are branches.

    Returns
    -------
    numpy.ndarray of int64
        The row of each record's next record, ``-1`` where it has none. Without a parallel
        block this is the following row of the same deal.
    """
    frame = pl.DataFrame({"deal": deal, "stage": stage.cast(pl.String)}).with_row_index("row")
    same = pl.col("deal").shift(-1) == pl.col("deal")
    nxt = (
        frame.select(pl.when(same).then(pl.col("row").cast(pl.Int64) + 1).fill_null(-1))
        .to_series()
        .to_numpy()
        .copy()
    )
    if not process.parallels:
        return nxt
    outcomes = [o.id for o in process.outcomes]
    own = pl.DataFrame(
        [(t.source, t.target) for t in process.transitions],
        schema={"stage": pl.String, "next": pl.String},
        orient="row",
    ).with_columns(pl.lit(True).alias("own"))
    for block in process.parallels:
        regions = process.branch_stages(block)
        for i, region in enumerate(regions):
            others = [sid for j, r in enumerate(regions) if j != i for sid in r]
            lane = (
                frame.filter(~pl.col("stage").is_in(others))
                .with_columns(
                    pl.when(same).then(pl.col("row").shift(-1).cast(pl.Int64)).alias("next_row"),
                    pl.when(same).then(pl.col("stage").shift(-1)).alias("next"),
                )
                .filter(pl.col("stage").is_in(list(region)))
                .join(own, on=["stage", "next"], how="left")
                .select(
                    "row",
                    pl.when(pl.col("next").is_in(outcomes) & pl.col("own").is_null())
                    .then(-1)
                    .otherwise(pl.col("next_row").fill_null(-1))
                    .alias("next_row"),
                )
            )
            nxt[lane["row"].to_numpy()] = lane["next_row"].to_numpy()
    return nxt


def next_stage_of(stage: pl.Series, nxt: npt.NDArray[np.int64]) -> pl.Series:
    """The stage of each record's next record (null where :func:`branch_next` found none)."""
    rows = pl.Series("row", nxt)
    return stage.gather(pl.select(pl.when(rows >= 0).then(rows)).to_series())


def lanes(process: Process, order: Sequence[str]) -> list[dict[str, int]]:
    """``order`` as each lane reads it: one position per stage, a lane per choice of one
    branch in every parallel block (the other branches' stages left out).

    A single lane (the order itself) when the process has no parallel block. Blocks do not
    nest, so a stage belongs to at most one branch.
    """
    choices = [process.branch_stages(block) for block in process.parallels]
    out: list[dict[str, int]] = []
    for picked in itertools.product(*[range(len(c)) for c in choices]):
        hidden = {
            sid
            for regions, keep in zip(choices, picked, strict=True)
            for j, region in enumerate(regions)
            if j != keep
            for sid in region
        }
        kept = [s for s in order if s not in hidden]
        out.append({s: i for i, s in enumerate(kept)})
    return out
