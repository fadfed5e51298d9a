"""Discovery of parallel blocks: from overlapping activity instances in a deal history.

A synthetic log with a known block (simulated from a model that has one) must give the block
back exactly; the same process run in sequence must give none; and the shared real logs must
not get blocks they do not have (BPIC 2012's work items overlap in well under 1% of cases;
helpdesk and receipt record one timestamp per event, so nothing can overlap).
"""

from __future__ import annotations

import functools

import polars as pl
import pytest

import flowsim
from flowsim.history import read_log
from flowsim.history.concurrency import concurrent_pairs, find_blocks
from flowsim.history.subset import LogFilter, apply_filter
from flowsim.model import Parallel
from flowsim.sim.simulate import simulate
from tests.data import DATA

ROLES = """
process "deal" { arrivals every exponential(mean 4h) }
role rep headcount 3
role counsel headcount 2
role engineer headcount 2
stage proposal { owner rep effort exponential(mean 2h) }
stage legal { owner counsel effort exponential(mean 3h) wait exponential(mean 1d) }
stage validation { owner engineer effort exponential(mean 5h) }
stage sign_off { owner engineer effort exponential(mean 1h) }
stage contract { owner rep effort 1h }
outcome won
outcome lost
contract -> won 70%
contract -> lost
"""
PARALLEL = ROLES + "proposal -> parallel { legal, validation -> sign_off } -> contract\n"
SEQUENCE = ROLES + (
    "proposal -> legal\nlegal -> validation\nvalidation -> sign_off\nsign_off -> contract\n"
)


@functools.cache
def discovered(text: str) -> flowsim.Discovery:
    run = simulate(flowsim.parse(text), replications=1, seed=2, deals=600, workers=1)
    return flowsim.discover(run.event_log)


def test_a_known_block_is_recovered_exactly() -> None:
    found = discovered(PARALLEL)
    p = found.process
    assert p.parallels == (
        Parallel(source="proposal", branches=("legal", "validation"), join="contract"),
    )
    # inside the branches only their own order: validation then sign-off; legal ends bare
    inside = {"legal", "validation", "sign_off"}
    assert [(t.source, t.target, t.probability) for t in p.transitions if t.source in inside] == [
        ("validation", "sign_off", None)
    ]
    assert not any(d.is_error for d in flowsim.check(p))
    assert any(n.startswith("parallel block: after 'proposal'") for n in found.notes)
    assert "proposal -> parallel { legal, validation } -> contract" in found.to_flow()
    # the time sign-off's branch spent waiting for legal at the join is no wait of sign-off
    # (the model's has none; read in time order it was a 5-hour empirical wait)
    assert p.node("sign_off").wait is None
    assert any(n.startswith("'sign_off' ends a branch") for n in found.notes)


def test_the_same_work_in_sequence_gives_no_block() -> None:
    found = discovered(SEQUENCE)
    assert found.process.parallels == ()
    routes = {(t.source, t.target) for t in found.process.transitions}
    assert {("proposal", "legal"), ("legal", "validation"), ("sign_off", "contract")} <= routes


def test_concurrency_is_overlap_in_time_not_order() -> None:
    """Both orders of two activities are not enough: only intervals that overlap count."""
    t = pl.datetime(2026, 1, 1, time_zone="UTC")
    rows = []
    for k in range(30):  # a before b in half the deals, b before a in the rest: no overlap
        first, second = ("a", "b") if k % 2 else ("b", "a")
        rows += [(f"d{k}", first, 0, 1), (f"d{k}", second, 1, 2)]
    frame = pl.DataFrame(rows, schema=["deal", "stage", "s", "e"], orient="row").select(
        "deal",
        "stage",
        entered_at=t + pl.duration(hours="s"),
        left_at=t + pl.duration(hours="e"),
        started_at=t + pl.duration(hours="s"),
    )
    assert concurrent_pairs(frame, ["a", "b"]) == {}
    overlapping = frame.with_columns(
        left_at=pl.when(pl.col("stage") == "a")
        .then(pl.col("left_at") + pl.duration(minutes=30))
        .otherwise(pl.col("left_at"))
    )
    share = concurrent_pairs(overlapping, ["a", "b"])
    assert share == {("a", "b"): 0.5}  # a overlaps b only where a came first


def _deals_with_overlap(frame: pl.DataFrame) -> float:
    """Share of deals where two instances of different activities overlap (polars alone)."""
    spans = frame.filter(pl.col("left_at").is_not_null()).select(
        "deal", "stage", start=pl.coalesce("started_at", "entered_at"), end="left_at"
    )
    pairs = spans.join(spans, on="deal", suffix="_b").filter(
        (pl.col("stage") != pl.col("stage_b"))
        & (pl.col("start") < pl.col("end_b"))
        & (pl.col("start_b") < pl.col("end"))
    )
    return pairs["deal"].n_unique() / frame["deal"].n_unique()


def test_bpic_2012_work_items_get_no_block(bpic_log: flowsim.DealLog) -> None:
    log = apply_filter(bpic_log, LogFilter(stages=["W_*"]))
    assert _deals_with_overlap(log.frame) < 0.01  # measured: 0.08% of cases (8 of 9,658)
    stages = sorted(log.frame["stage"].unique().to_list())
    assert concurrent_pairs(log.frame, stages) == {}
    assert find_blocks(log.frame, stages, []) == []


@pytest.mark.parametrize("name", ["helpdesk.xes.gz", "receipt.csv"])
def test_single_timestamp_logs_get_no_block(name: str) -> None:
    log = read_log(DATA / "pm4py-logs" / name, lenient=True)
    assert log.frame["left_at"].null_count() == log.frame.height  # one timestamp per event
    assert flowsim.discover(log).process.parallels == ()
