"""The arrival rate of a right-truncated log (flowsim.history.truncation; the rule is in
docs/metrics.md, "Arrivals").

A log that keeps only the deals that had ended (an event-log extract, the training part of a
split by end time) thins out towards its end: deals / weeks is low. Discovery detects it and
reads the rate where nearly every deal that started had ended, each start weighted by the
Lynden-Bell estimate of the share of durations that fit before the end. Synthetic logs are
drawn in numpy (Poisson arrivals, lognormal durations), not by flowsim's engine.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats

import flowsim
from flowsim.history import read_log
from flowsim.history.discover import discover
from flowsim.history.distances import end_time_split
from flowsim.history.truncation import poisson_cdf, product_limit, truncation

START = datetime(2024, 1, 1)
WEEKS = 20
PER_WEEK = 400.0
MEDIAN_DAYS, SIGMA = 10.0, 1.0
DAY = 86400.0


def _deals(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Poisson arrivals at PER_WEEK over WEEKS weeks, lognormal durations (days)."""
    rng = np.random.default_rng(seed)
    n = rng.poisson(PER_WEEK * WEEKS)
    starts = np.sort(rng.uniform(0, WEEKS * 7, n))
    return starts, rng.lognormal(math.log(MEDIAN_DAYS), SIGMA, n)


def _csv(path: Path, starts: np.ndarray, days: np.ndarray, keep_open: bool) -> Path:
    """Two records a deal (Intake, then Won or Lost at its end); a deal that had not ended by
    the end of the window is left out, or kept open at Intake (a CRM export)."""
    rows = ["deal,stage,timestamp"]
    fmt = "%Y-%m-%d %H:%M:%S"
    for k, (s, d) in enumerate(zip(starts, days, strict=True)):
        ended = s + d <= WEEKS * 7
        if not ended and not keep_open:
            continue
        rows.append(f"D{k},Intake,{START + timedelta(days=float(s)):{fmt}}")
        if ended:
            end = START + timedelta(days=float(s + d))
            rows.append(f"D{k},{'Won' if k % 3 else 'Lost'},{end:{fmt}}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_the_poisson_tail_matches_scipy() -> None:
    for k, mu in ((0, 0.5), (3, 7.0), (40, 55.0), (977, 1550.0), (1200, 1100.0)):
        assert poisson_cdf(k, mu) == pytest.approx(stats.poisson.cdf(k, mu), rel=1e-9)


def test_the_product_limit_recovers_the_durations_of_ended_deals() -> None:
    """Of 8,000 deals those that ended within 20 weeks: their plain durations are short (the
    long ones started late are missing), the Lynden-Bell estimate is within 0.02 of the
    lognormal at its quartiles and 90% point."""
    starts, days = _deals(seed=3)
    seen = starts + days <= WEEKS * 7
    grid, f = product_limit(days[seen] * DAY, (WEEKS * 7 - starts[seen]) * DAY)
    truth = stats.lognorm(SIGMA, scale=MEDIAN_DAYS)
    for q in (0.25, 0.5, 0.75, 0.9):
        x = truth.ppf(q) * DAY
        at = np.searchsorted(grid, x, side="right") - 1
        assert f[at] == pytest.approx(q, abs=0.02)
    assert np.mean(days[seen] <= truth.ppf(0.9)) > 0.92  # the plain share is biased high


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_a_truncated_log_is_corrected_to_its_true_rate(seed: int) -> None:
    """Five draws: the corrected rate within 3% of the draw's own rate (all its deals over 20
    weeks; on 20 draws the largest miss was 2.3%) and within 4% of the true 400 a week;
    deals / weeks of the ended deals about 11% low (more than 8% on every draw)."""
    starts, days = _deals(seed)
    drawn = len(starts) / WEEKS
    seen = starts + days <= WEEKS * 7
    s, e = starts[seen] * DAY, (starts + days)[seen] * DAY
    found = truncation(s, e, float(s.min()), float(e.max()), None)
    assert found.truncated
    assert found.per_week == pytest.approx(drawn, rel=0.03)
    assert found.per_week == pytest.approx(PER_WEEK, rel=0.04)
    plain = len(s) / ((e.max() - s.min()) / DAY / 7)
    assert plain < 0.92 * drawn


def test_discovery_states_the_corrected_rate(tmp_path: Path) -> None:
    """Through `discover`: the rate it writes is the corrected one, and a note says why."""
    starts, days = _deals(seed=7)
    log = read_log(_csv(tmp_path / "ended.csv", starts, days, keep_open=False))
    found = discover(log)
    assert found.process.arrivals is not None
    assert found.process.arrivals.count == pytest.approx(PER_WEEK, rel=0.04)
    note = next(n for n in found.notes if n.startswith("arrival rate:"))
    assert "right-truncated" in note and "Lynden-Bell" in note


def test_a_log_with_open_deals_is_not_corrected(tmp_path: Path) -> None:
    """The same deals with those not ended kept open (a CRM export): deals / weeks, as
    before, within 4% of the truth; nothing corrected."""
    starts, days = _deals(seed=7)
    log = read_log(_csv(tmp_path / "crm.csv", starts, days, keep_open=True))
    found = discover(log)
    n = log.frame["deal"].n_unique()
    span = log.frame["entered_at"].max() - log.frame["entered_at"].min()  # type: ignore[operator]
    assert found.process.arrivals is not None
    assert found.process.arrivals.count == round(n / (span.total_seconds() / DAY / 7))
    assert found.process.arrivals.count == pytest.approx(PER_WEEK, rel=0.04)
    note = next(n for n in found.notes if n.startswith("arrival rate:"))
    assert note.startswith("arrival rate: not truncated:") and "open" in note


def test_bpic_work_items_training_part_rate(bpic_log: flowsim.DealLog) -> None:
    """BPIC 2012 W's training part (bench/fidelity.py's protocol): 391 deals a week by deals /
    weeks, its last four weeks thinned; corrected to within 5% of the mean weekly starts of
    its weeks more than eight weeks before the end (counted here with polars)."""
    work = bpic_log.frame.filter(
        pl.col("stage").str.starts_with("W_")
        & pl.col("started_at").is_not_null()
        & pl.col("left_at").is_not_null()
    )
    train, _ = end_time_split(bpic_log.derive(work), 0.8)
    found = discover(train, tz="Europe/Amsterdam")
    assert found.process.arrivals is not None
    starts = train.frame.group_by("deal").agg(pl.col("entered_at").min())["entered_at"]
    t0 = starts.min()
    end = max(train.frame["entered_at"].max(), train.frame["left_at"].max())  # type: ignore[type-var]
    early = starts.filter(starts <= end - timedelta(weeks=8))
    weekly = early.len() / ((end - timedelta(weeks=8) - t0).total_seconds() / DAY / 7)
    assert starts.len() / ((end - t0).total_seconds() / DAY / 7) < 395
    assert found.process.arrivals.count == pytest.approx(weekly, rel=0.05)
    assert found.process.arrivals.count > 420


def test_deals_the_idle_rule_closes_stay_open(tmp_path: Path) -> None:
    """`--idle-lost` closes the open deals of a CRM export as lost (dated past the export's
    end): they are open deals of the source, so the log is still not corrected."""
    from flowsim.history.idle import apply_idle_rule

    starts, days = _deals(seed=7)
    log = read_log(_csv(tmp_path / "crm.csv", starts, days, keep_open=True))
    closed, _ = apply_idle_rule(log, "30d")
    found = discover(closed)
    note = next(n for n in found.notes if n.startswith("arrival rate:"))
    assert note.startswith("arrival rate: not truncated:") and "open" in note
