"""The metrics JSON is compact: Kaplan–Meier curves at 0.1% steps of S(t), full steps opt-in.

A 200k-deal log's curves have one step per distinct exit time (10 MB of JSON); written where
S(t) first falls to each multiple of 0.001 they take at most 1,000 points a stage, and any
S(t) read from them is within 0.001 of the full curve (the bound is the resolution: between
two kept steps the curve stays in one band).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from flowsim.history import read_log
from flowsim.history.metrics import CURVE_RESOLUTION, StageSurvival, metrics, thin_curve
from tests.data import DATA

BPIC = DATA / "bpic2012" / "bpic2012.xes.gz"


def _curve(drops: list[float]) -> tuple[list[float], list[float]]:
    """A non-increasing survival curve from multiplicative drops, at times 1, 2, 3, ..."""
    surv = np.cumprod(1.0 - np.asarray(drops))
    return [float(t) for t in range(1, len(drops) + 1)], surv.tolist()


def _worst_gap(full: StageSurvival, thin: StageSurvival) -> float:
    times = np.asarray(full.times_hours)
    probes = np.concatenate([[0.0], times, times + 1e-9, [times.max() + 1.0 if len(times) else 1]])
    return max(abs(full.at(float(t)) - thin.at(float(t))) for t in probes)


def _survival(times: list[float], surv: list[float]) -> StageSurvival:
    return StageSurvival(
        visits=len(times), exits=len(times), censored=0, median_hours=None,
        times_hours=times, survival=surv,
        p_advance=0.0, p_lost=0.0, p_unknown=0.0, p_still=surv[-1] if surv else 1.0,
    )  # fmt: skip


@given(st.lists(st.floats(0.0, 0.02), min_size=1, max_size=400))
@settings(max_examples=150, deadline=None)
def test_a_thinned_curve_is_within_the_resolution_everywhere(drops: list[float]) -> None:
    times, surv = _curve(drops)
    kept_t, kept_s = thin_curve(times, surv)
    assert kept_t[-1] == times[-1] and kept_s[-1] == surv[-1]  # p_still's step stays
    assert len(kept_t) <= round(1 / CURVE_RESOLUTION) + 1
    assert set(kept_t) <= set(times)
    assert _worst_gap(_survival(times, surv), _survival(kept_t, kept_s)) < CURVE_RESOLUTION


def test_bpic_metrics_json_is_compact_and_reads_the_same_curves() -> None:
    result = metrics(read_log(BPIC))
    compact = json.loads(result.to_json())
    full = json.loads(result.to_json(curves="full"))
    assert len(result.to_json()) < len(result.to_json(curves="full")) / 3
    assert {k: v for k, v in compact.items() if k != "survival"} == {
        k: v for k, v in full.items() if k != "survival"
    }
    for stage, curve in result.survival.items():
        every = StageSurvival(**full["survival"][stage])
        assert len(every.times_hours) == len(curve.times_hours)
        thin = StageSurvival(**compact["survival"][stage])
        assert len(thin.times_hours) <= 1001
        # both JSONs round to 6 significant digits: S within 5e-6 more than the resolution
        assert _worst_gap(every, thin) < CURVE_RESOLUTION + 1e-5, stage
        assert thin.median_hours == every.median_hours and thin.p_still == every.p_still


def test_the_command_writes_steps_by_default_and_every_step_with_curves_full(
    tmp_path: Path,
) -> None:
    from click.testing import CliRunner

    from flowsim.cli import main

    maven = DATA / "maven-crm-sales-opportunities" / "sales_pipeline.csv"
    out = {}
    for curves in ("steps", "full"):
        path = tmp_path / f"{curves}.json"
        args = ["metrics", str(maven), "--lenient", "-q", "--format", "json", "-o", str(path)]
        r = CliRunner().invoke(main, [*args, "--curves", curves])
        assert r.exit_code == 0, r.output
        out[curves] = json.loads(path.read_text(encoding="utf-8"))
    # the deals counted are the export's dated ones (an independent polars count of its ids);
    # the undated Prospecting rows are skipped with --lenient, and counted
    raw = pl.read_csv(maven)
    dated = raw.filter(pl.col("engage_date").is_not_null())["opportunity_id"].n_unique()
    assert out["steps"]["header"]["deals"] == out["full"]["header"]["deals"] == dated
    assert out["steps"]["header"]["rows_skipped"] == raw.height - dated
    for stage, curve in out["full"]["survival"].items():
        thin = out["steps"]["survival"][stage]
        assert len(thin["times_hours"]) <= min(len(curve["times_hours"]), 1001)
        assert thin["survival"][-1] == curve["survival"][-1]
