"""Closing activities inferred from a log's structure, and their results.

A stage that is never first, never repeated and ends its deals is an outcome; its result is
read from its name, else from the worded closing activities it occurs beside.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from flowsim.history.closing import closing_stages


def _log(traces: list[list[str]]) -> pl.DataFrame:
    rows = []
    for k, trace in enumerate(traces):
        start = datetime(2024, 1, 1) + timedelta(days=k)
        for i, stage in enumerate(trace):
            # work a day apart; the closing step's bookkeeping follows within a second
            at = start + timedelta(days=i) if i < 2 else start + timedelta(days=1, seconds=i)
            rows.append((f"d{k:03d}", stage, at, None))
    return pl.DataFrame(
        rows, schema=["deal", "stage", "entered_at", "left_at"], orient="row"
    ).with_columns(pl.col("left_at").cast(pl.Datetime("us")))


def test_a_silent_closing_activity_takes_the_result_of_the_worded_one_beside_it() -> None:
    traces = [["apply", "APPROVED", "archive"]] * 95 + [["apply", "DECLINED", "archive"]] * 5
    found = closing_stages(_log(traces))
    assert found.results == {"APPROVED": "won", "DECLINED": "lost", "archive": "won"}
    assert any("'archive' closes deals" in n and "beside it" in n for n in found.notes)


def test_without_a_clear_majority_the_result_stays_other_and_asks_for_a_mapping() -> None:
    traces = [["apply", "APPROVED", "archive"]] * 60 + [["apply", "DECLINED", "archive"]] * 40
    found = closing_stages(_log(traces))
    assert found.results["archive"] == "other"
    assert any("[outcomes]" in n for n in found.notes)


def test_a_declared_mapping_wins_and_nothing_is_inferred() -> None:
    found = closing_stages(_log([["apply", "APPROVED"]] * 3), {"APPROVED": "won", "gone": "lost"})
    assert (found.results, found.declared, found.notes) == ({"APPROVED": "won"}, True, [])
