"""Where a deal closes: the one rule (:mod:`flowsim.history._close`) and the metrics' reading.

A deal closes at its first closing record; records at that instant are its bookkeeping, only
later ones are "after the close". Discovery, conformance and the import use the polars
expressions; the metrics use numpy arrays: these tests hold both to the same answers.
"""

from __future__ import annotations

import doctest
from datetime import datetime, timedelta

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from flowsim.history import _close
from flowsim.history._close import after_close, before_close, closed_at
from flowsim.history.metrics import _deal_results

STAGES = ["lead", "demo", "won", "lost", "note"]
RESULT = {"won": 1, "lost": 2}

# a deal: a list of (stage, minutes after the previous record), times never decreasing
deals = st.lists(
    st.lists(st.tuples(st.sampled_from(STAGES), st.integers(0, 3)), min_size=1, max_size=6),
    min_size=1,
    max_size=8,
)


def _frame(spec: list[list[tuple[str, int]]]) -> pl.DataFrame:
    rows = []
    for k, records in enumerate(spec):
        at = datetime(2024, 1, 1)
        for stage, gap in records:
            at += timedelta(minutes=gap)
            rows.append((f"d{k:02d}", stage, at))
    return pl.DataFrame(rows, schema=["deal", "stage", "entered_at"], orient="row")


def test_examples_in_docstrings_hold() -> None:
    assert doctest.testmod(_close).failed == 0


@given(deals)
@settings(max_examples=200, deadline=None)
def test_metrics_close_each_deal_where_the_rule_does(spec: list[list[tuple[str, int]]]) -> None:
    frame = _frame(spec)
    lengths = [len(records) for records in spec]
    starts = np.cumsum([0, *lengths[:-1]])
    ends = starts + np.array(lengths) - 1
    codes = np.array([RESULT.get(s, 0) for s in frame["stage"]], dtype=np.int64)
    by_metrics = _deal_results(codes, starts, ends).tolist()
    first = (
        frame.filter(pl.col("stage").is_in(list(RESULT)))
        .group_by("deal", maintain_order=True)
        .first()
    )
    by_rule = dict(zip(first["deal"], first["stage"], strict=True))
    expected = [RESULT.get(by_rule.get(f"d{k:02d}", ""), 0) for k in range(len(spec))]
    assert by_metrics == expected


@given(deals)
@settings(max_examples=200, deadline=None)
def test_after_close_is_strictly_later_and_never_before_it(
    spec: list[list[tuple[str, int]]],
) -> None:
    marked = _frame(spec).with_columns(
        at=closed_at(RESULT), late=after_close(RESULT), kept=before_close(RESULT)
    )
    # a record after the close is never kept, and is strictly later than the close
    late = marked.filter("late")
    assert not late["kept"].any()
    assert (late["entered_at"] > late["at"]).all()
    # every kept record of a closed deal is at or before its close
    kept = marked.filter(pl.col("kept") & pl.col("at").is_not_null())
    assert (kept["entered_at"] <= kept["at"]).all()
    # each deal keeps exactly its records up to its first closing one
    for k, records in enumerate(spec):
        stages = [s for s, _ in records]
        cut = next((i + 1 for i, s in enumerate(stages) if s in RESULT), len(stages))
        deal = marked.filter(pl.col("deal") == f"d{k:02d}")
        assert deal["kept"].to_list() == [i < cut for i in range(len(stages))]
