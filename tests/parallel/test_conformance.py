"""Conformance of a parallel history: moves are read per branch, not in time order."""

from __future__ import annotations

import polars as pl

import flowsim
from flowsim.sim.simulate import simulate
from tests.parallel.test_engine import PROCESS


def test_a_log_simulated_from_a_parallel_model_fits_it() -> None:
    process = flowsim.parse(PROCESS)
    log = simulate(process, replications=1, seed=3, deals=400, workers=1).event_log
    report = flowsim.conformance(log, process)
    assert report.fitting_share == 1.0
    assert not [e for e in report.edges if e.flagged]
    edges = {(e.source, e.target): e for e in report.edges}
    # cross-check legal's two ways out with polars alone: a deal lost in legal never reaches
    # the contract; every other deal that finished legal does
    frame = log.frame
    by_deal = frame.group_by("deal").agg(
        pl.col("stage").is_in(["legal"]).any().alias("legal"),
        (pl.col("stage") == "contract").any().alias("contract"),
        (pl.col("stage") == "lost").any().alias("lost"),
        pl.col("left_at").filter(pl.col("stage") == "legal").is_not_null().any().alias("done"),
    )
    lost_in_legal = by_deal.filter(pl.col("legal") & pl.col("lost") & ~pl.col("contract"))
    assert edges[("legal", "lost")].count == lost_in_legal.height
    legal_then_contract = by_deal.filter(pl.col("legal") & pl.col("contract")).height
    assert edges[("legal", "contract")].count == legal_then_contract
