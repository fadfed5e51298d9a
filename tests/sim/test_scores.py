"""Forecast scores with known answers: CRPS, interval coverage, PIT."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from flowsim.sim.scores import ape, covered, crps_sample, pit, pit_histogram


def test_crps_of_a_point_forecast_is_the_absolute_error() -> None:
    point = np.array([[10.0, 3.0, 7.5]])  # one draw, three periods
    actual = np.array([12.0, 3.0, 1.0])
    assert crps_sample(point, actual) == pytest.approx([2.0, 0.0, 6.5])


def test_crps_equals_the_pairwise_definition_on_a_small_sample() -> None:
    rng = np.random.default_rng(1)
    x = rng.gamma(2.0, 3.0, size=37)
    y = 4.2
    pairwise = np.abs(x - y).mean() - 0.5 * np.abs(x[:, None] - x[None, :]).mean()
    assert crps_sample(x[:, None], np.array([y]))[0] == pytest.approx(pairwise, rel=1e-12)


@pytest.mark.parametrize("y", [-1.5, 0.0, 0.3, 2.7])
def test_crps_of_a_normal_sample_matches_the_closed_form(y: float) -> None:
    """CRPS(N(μ, σ²), y) = σ [z (2Φ(z) − 1) + 2φ(z) − 1/√π], z = (y − μ)/σ."""
    mu, sigma = 0.5, 2.0
    z = (y - mu) / sigma
    phi, cdf = stats.norm.pdf(z), stats.norm.cdf(z)
    exact = sigma * (z * (2 * cdf - 1) + 2 * phi - 1 / math.sqrt(math.pi))
    draws = stats.norm.ppf((np.arange(20_000) + 0.5) / 20_000, loc=mu, scale=sigma)
    assert crps_sample(draws[:, None], np.array([y]))[0] == pytest.approx(exact, rel=2e-3)


def test_a_calibrated_forecast_covers_its_nominal_share() -> None:
    """Actuals drawn from the forecast's own distribution: 80% inside P10-P90, 50% in P25-P75,
    and a flat PIT histogram."""
    rng = np.random.default_rng(7)
    periods = 4000
    scale = rng.uniform(1, 5, size=periods)
    samples = rng.normal(size=(500, periods)) * scale
    actual = rng.normal(size=periods) * scale
    assert covered(samples, actual, 0.1, 0.9).mean() == pytest.approx(0.8, abs=0.025)
    assert covered(samples, actual, 0.25, 0.75).mean() == pytest.approx(0.5, abs=0.03)
    hist = pit_histogram(pit(samples, actual, rng))
    assert sum(hist) == periods and max(hist) < 1.25 * periods / 10 < 1.6 * min(hist)


def test_the_randomised_pit_of_calibrated_counts_is_flat() -> None:
    """Poisson counts have ties; the randomised PIT is still uniform."""
    rng = np.random.default_rng(3)
    lam = rng.uniform(2, 8, size=3000)
    samples = rng.poisson(lam, size=(400, 3000))
    actual = rng.poisson(lam)
    hist = pit_histogram(pit(samples, actual, rng))
    assert max(hist) < 1.2 * 300 and min(hist) > 0.8 * 300


def test_too_narrow_bands_undercover_and_give_a_u_shaped_pit() -> None:
    rng = np.random.default_rng(5)
    samples = rng.normal(scale=0.3, size=(500, 2000))
    actual = rng.normal(size=2000)
    assert covered(samples, actual, 0.1, 0.9).mean() < 0.35
    hist = pit_histogram(pit(samples, actual, rng))
    assert hist[0] + hist[-1] > 0.5 * 2000


def test_ape_is_undefined_for_a_zero_actual() -> None:
    out = ape(np.array([12.0, 5.0]), np.array([10.0, 0.0]))
    assert out[0] == pytest.approx(0.2) and math.isnan(out[1])
