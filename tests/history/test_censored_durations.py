"""Censoring-aware stage durations: stays still running when the history ends count.

A young pipeline is the usual case: deals entered over the last two months, a stay takes
20 days on average, so a third of the stays are still running at the export. Fitting the
ended stays alone answers "how long did the quick ones take". The fits here are checked
against the truth of synthetic data (known distribution, known censoring), against scipy's
own censored maximum likelihood, and on Maven's real export against a Kaplan–Meier computed
with polars alone.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import special, stats

from flowsim.history import read_csv, read_log
from flowsim.history.discover import discover, fit_duration
from flowsim.history.fitting import censored_mle, log_gamma_sf
from flowsim.model import Empirical, Exponential, Gamma, LogNormal, Stage
from tests.data import DATA

approx = pytest.approx
MAVEN = DATA / "maven-crm-sales-opportunities" / "sales_pipeline.csv"
DAY = 24.0
#: The synthetic pipeline: deals enter uniformly over 60 days; the export is at day 60.
SPAN = 60 * DAY


def _young_pipeline(draw: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Administrative censoring: a stay of ``draw`` hours that began ``u`` hours before the
    export (u uniform over the span) has ended if it fits, else it has run ``u`` so far."""
    remaining = SPAN - rng.uniform(0, SPAN, len(draw))
    ended = draw <= remaining
    return draw[ended], remaining[~ended]


def _lognormal(mean: float, sd: float) -> tuple[float, float]:
    sigma = math.sqrt(math.log1p((sd / mean) ** 2))
    return math.log(mean) - sigma**2 / 2, sigma


# --- the likelihood itself, against scipy ---------------------------------------------------


def test_incomplete_gamma_tail_matches_scipy() -> None:
    x = np.linspace(0.01, 80, 500)
    for a in (0.3, 1.0, 2.5, 40.0):
        assert log_gamma_sf(a, x) == approx(np.log(special.gammaincc(a, x)), abs=1e-11)


def test_censored_mle_matches_scipy_censored_fit() -> None:
    """flowsim's censored ML (numpy, Nelder–Mead) = scipy.stats' fit of CensoredData."""
    rng = np.random.default_rng(5)
    mu, sigma = _lognormal(20 * DAY, 15 * DAY)
    ended, running = _young_pipeline(rng.lognormal(mu, sigma, 3000), rng)
    assert 0.25 < len(running) / 3000 < 0.45  # a third still running
    data = stats.CensoredData(uncensored=ended, right=running)
    logs = np.log(ended)
    (m, s), _ = censored_mle("lognormal", ended, running, (logs.mean(), logs.std()))
    shape, _, scale = stats.lognorm.fit(data, floc=0)
    assert (m, s) == approx((math.log(scale), shape), rel=1e-4)

    ended, running = _young_pipeline(rng.gamma(2.0, 10 * DAY, 3000), rng)
    (k, theta), _ = censored_mle("gamma", ended, running, (1.0, float(ended.mean())))
    data = stats.CensoredData(uncensored=ended, right=running)
    k_ref, _, theta_ref = stats.gamma.fit(data, floc=0)
    assert (k, theta) == approx((k_ref, theta_ref), rel=1e-4)

    # exponential: the closed form, total time at risk over the exits
    (mean, _), _ = censored_mle("exponential", ended, running, (1.0, 0.0))
    assert mean == approx((ended.sum() + running.sum()) / len(ended), rel=1e-12)


# --- recovering a known distribution under known censoring -----------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_censored_fit_recovers_a_lognormal_that_closed_stays_understate(seed: int) -> None:
    """Truth: lognormal, mean 20 d, sd 15 d. Within 6% (mean) and 12% (sd) with censoring;
    the ended stays alone understate the mean by more than 15%."""
    rng = np.random.default_rng(seed)
    ended, running = _young_pipeline(rng.lognormal(*_lognormal(20 * DAY, 15 * DAY), 4000), rng)
    fit = fit_duration(ended, running)
    assert fit.chosen == "lognormal" and isinstance(fit.distribution, LogNormal)
    assert fit.censored == len(running) > 1000
    assert fit.distribution.mean == approx(20 * DAY, rel=0.06)
    assert fit.distribution.sd == approx(15 * DAY, rel=0.12)
    closed_only = fit_duration(ended)
    assert isinstance(closed_only.distribution, LogNormal | Gamma)
    assert closed_only.distribution.mean < 0.85 * 20 * DAY


@pytest.mark.parametrize("seed", [4, 5])
def test_censored_fit_recovers_a_gamma_and_an_exponential(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ended, running = _young_pipeline(rng.gamma(2.0, 10 * DAY, 4000), rng)
    fit = fit_duration(ended, running)
    assert fit.chosen == "gamma" and isinstance(fit.distribution, Gamma)
    assert fit.distribution.mean == approx(20 * DAY, rel=0.06)
    assert fit.distribution.sd == approx(math.sqrt(2) * 10 * DAY, rel=0.12)
    gamma_closed = fit_duration(ended).distribution
    assert isinstance(gamma_closed, Gamma) and gamma_closed.mean < 0.85 * 20 * DAY

    ended, running = _young_pipeline(rng.exponential(15 * DAY, 4000), rng)
    fit = fit_duration(ended, running)
    assert fit.chosen == "exponential" and isinstance(fit.distribution, Exponential)
    assert fit.distribution.mean == approx(15 * DAY, rel=0.06)
    expo_closed = fit_duration(ended).distribution
    assert expo_closed is not None and expo_closed.mean < 0.85 * 15 * DAY


def test_a_heavy_tail_the_body_hides_is_resampled() -> None:
    """5% of the stays 8x longer: AIC picks a lognormal and KS (0.07) lets it pass, but it
    makes stays beyond the history's 98th percentile 20 times rarer: the tail rule refuses it
    and the stays are resampled, keeping the long ones."""
    rng = np.random.default_rng(14)
    body = rng.gamma(4.0, 5.0, 2850)
    stays = np.r_[body, rng.gamma(4.0, 5.0, 150) * 8]
    fit = fit_duration(stays)
    assert fit.ks is not None and fit.ks < 0.1
    assert min(fit.aic, key=lambda f: fit.aic[f]) == "lognormal"
    assert fit.chosen == "empirical" and "misses the tail" in fit.reason
    assert isinstance(fit.distribution, Empirical)
    assert max(fit.distribution.values) > 100  # the long stays are still there
    assert fit_duration(body).chosen == "gamma"  # without the tail: the family stands


def test_empirical_durations_weigh_the_stays_still_running() -> None:
    """Too few stays to fit: resampled from Kaplan–Meier. A stay still running at 1.5 h is
    at risk of ending after 1 h but not of ending at 1 h: the stays that ended at 2, 3 and 4 h
    weigh 4/15 each, the one at 1 h 3/15 (not a quarter each, as ended stays alone say)."""
    ended = np.array([1.0, 2.0, 3.0, 4.0])
    fit = fit_duration(ended, np.array([1.5]))
    assert fit.censored == 1 and isinstance(fit.distribution, Empirical)
    assert len(fit.distribution.values) == 20  # unequal weights: 20 midpoint quantiles
    assert fit.distribution.values.count(1.0) == 4  # 20% of them
    assert fit_duration(ended).distribution == Empirical(values=(1.0, 2.0, 3.0, 4.0))
    # stays still running beyond every ended one are the routing's 'ended' share
    # (Aalen–Johansen), not durations as well: the ended stays keep their weights
    fit = fit_duration(ended, np.array([10.0, 30.0]))
    assert fit.distribution == Empirical(values=(1.0, 2.0, 3.0, 4.0))


# --- discovery on a log: the open deals' stays are censored at the export ---------------------


def test_discovery_fits_the_time_in_stage_with_the_open_deals(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    mu, sigma = _lognormal(20 * DAY, 15 * DAY)
    start = np.datetime64("2024-01-01T00:00")
    lines = ["deal,stage,timestamp"]
    export = start + np.timedelta64(int(SPAN), "h")
    n_open = 0
    for i in range(3000):
        entered = start + np.timedelta64(int(rng.uniform(0, SPAN * 60)), "m")
        left = entered + np.timedelta64(int(rng.lognormal(mu, sigma) * 60), "m")
        lines.append(f"D{i},Engaging,{entered}")
        if left <= export:
            lines.append(f"D{i},Won,{left}")
        else:
            n_open += 1
    lines.append(f"D{3000},Engaging,{export}")  # the export's own date: the last timestamp
    path = tmp_path / "pipeline.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = discover(read_csv(path))
    fit = found.fits["Engaging"]["wait"]
    assert fit.censored == n_open > 800
    stage = found.process.node("Engaging")
    assert isinstance(stage, Stage) and isinstance(stage.wait, LogNormal)
    assert stage.wait.mean == approx(20 * DAY, rel=0.06)
    assert any(f"{n_open} stays still running" in n for n in found.notes)


# --- Maven's open deals (1,589 still Engaging at the export) ----------------------------------


def _km_polars(ended: pl.Series, running: pl.Series) -> pl.DataFrame:
    """Kaplan–Meier with polars alone: per distinct time, exits d, at risk n, S = Π(1 - d/n)."""
    stays = pl.concat(
        [
            pl.DataFrame({"t": ended, "exit": pl.repeat(1, len(ended), eager=True)}),
            pl.DataFrame({"t": running, "exit": pl.repeat(0, len(running), eager=True)}),
        ]
    )
    per = stays.group_by("t").agg(d=pl.col("exit").sum(), all=pl.len()).sort("t")
    total = stays.height
    return per.with_columns(
        n=(total - pl.col("all").cum_sum().shift(1, fill_value=0)),
    ).with_columns(s=(1 - pl.col("d") / pl.col("n")).cum_prod())


def _maven_stays() -> tuple[pl.Series, pl.Series]:
    """Engaging stays in hours from the raw CSV: engage → close, or engage → the export (the
    last date in the file, 2017-12-31) for the deals still Engaging."""
    raw = pl.read_csv(MAVEN, try_parse_dates=True).filter(pl.col("engage_date").is_not_null())
    export = raw.select(pl.max_horizontal(pl.col("engage_date").max(), pl.col("close_date").max()))
    as_of = export.item()
    ended = raw.filter(pl.col("close_date").is_not_null()).select(
        (pl.col("close_date") - pl.col("engage_date")).dt.total_days() * 24
    )
    running = raw.filter(pl.col("close_date").is_null()).select(
        (pl.lit(as_of) - pl.col("engage_date")).dt.total_days() * 24
    )
    return ended.to_series().cast(pl.Float64), running.to_series().cast(pl.Float64)


def test_maven_engaging_time_counts_the_open_deals() -> None:
    """Discovery's Engaging wait is the Kaplan–Meier of polars: 1,589 deals still Engaging at
    the export weigh in; the ended stays alone make the stage shorter."""
    ended, running = _maven_stays()
    assert (ended.len(), running.len()) == (6711, 1589)
    log = read_log(MAVEN, lenient=True)
    found = discover(log)
    fit = found.fits["Engaging"]["wait"]
    assert (fit.n, fit.censored) == (6711, 1589)
    km = _km_polars(ended, running)
    s_end = km["s"][-1]  # after the longest ended stay (138 d): still Engaging
    assert s_end == approx(0.179, abs=0.001)  # the routing's share to 'ended', the same KM
    assert fit.chosen == "empirical" and isinstance(fit.distribution, Empirical)
    values = fit.distribution.values
    # midpoint quantiles of KM among the stays that end by the longest ended one (the 17.9%
    # beyond it are the routing's 'ended'): the first time with (1 - S) / (1 - S_end) >= q
    for q, v in zip((np.arange(20) + 0.5) / 20, values, strict=True):
        expected = km.filter((1 - pl.col("s")) / (1 - s_end) >= q - 1e-12)["t"][0]
        assert v == approx(expected, rel=0.05), q
    closed = fit_duration(ended.to_numpy())
    assert isinstance(closed.distribution, Empirical)
    median_closed = closed.distribution.values[9]
    median_km = values[9]
    assert (median_km, median_closed) == (38 * DAY, 34 * DAY)  # the ended stays alone: shorter


def test_maven_censored_lognormal_matches_scipy() -> None:
    """The censored lognormal of Maven's Engaging stays, cross-checked with scipy (the
    family AIC ranks best; the tail rule resamples it because the stays are bimodal)."""
    ended, running = (s.to_numpy() for s in _maven_stays())
    ended = ended[ended > 0]
    logs = np.log(ended)
    (mu, sigma), _ = censored_mle("lognormal", ended, running, (logs.mean(), logs.std()))
    shape, _, scale = stats.lognorm.fit(stats.CensoredData(uncensored=ended, right=running), floc=0)
    assert (mu, sigma) == approx((math.log(scale), shape), rel=1e-4)
    assert math.exp(mu + sigma**2 / 2) > 1.5 * math.exp(logs.mean() + logs.var() / 2)
