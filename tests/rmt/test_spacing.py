"""Level statistics: <r> and Wigner/Poisson KS distances on GOE, Wishart and Poisson levels (test case 8)."""

import numpy as np
import pytest
from scipy import integrate
from threadpoolctl import threadpool_limits

from netspectra.rmt import spacing
from netspectra.rmt.marchenko_pastur import sigma2_median


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small dense problems run faster on one BLAS thread (and a busy 2-core machine thrashes with more)."""
    with threadpool_limits(1):
        yield


def _goe(rng: np.random.Generator, n: int = 1000) -> np.ndarray:
    a = rng.standard_normal((n, n))
    return np.linalg.eigvalsh((a + a.T) / 2)


def _wishart(rng: np.random.Generator, n: int = 1000, m: int = 500) -> np.ndarray:
    w = rng.standard_normal((n, m))
    return np.linalg.eigvalsh(w.T @ w / n)


def test_surmise_cdfs_are_normalised_with_unit_mean():
    goe_pdf = lambda s: np.pi / 2 * s * np.exp(-np.pi * s * s / 4)  # noqa: E731
    assert integrate.quad(lambda s: s * goe_pdf(s), 0, np.inf)[0] == pytest.approx(1.0)
    s = np.linspace(0.0, 4.0, 9)
    numeric = [integrate.quad(goe_pdf, 0, x)[0] for x in s]
    assert spacing.wigner_surmise_cdf(s) == pytest.approx(numeric, abs=1e-10)
    assert spacing.poisson_spacing_cdf(np.array([1.0]))[0] == pytest.approx(1 - np.exp(-1))
    assert spacing.POISSON_MEAN_RATIO == pytest.approx(0.386294, abs=1e-6)


def test_ratio_of_equally_spaced_levels_is_one_and_degenerate_pairs_are_dropped():
    assert np.all(spacing.spacing_ratios(np.arange(10.0)) == pytest.approx(1.0))
    assert spacing.spacing_ratios(np.array([0.0, 0.0, 0.0, 1.0, 3.0])).tolist() == [0.0, 0.5]


def test_goe_mean_ratio_and_ks():
    """GOE N=1000, 6 draws: pooled <r> = 0.531 +- 0.01 (measured 0.529); KS: surmise close, Poisson far."""
    rng = np.random.default_rng(0)
    ratios, stats = [], []
    for _ in range(6):
        evals = _goe(rng)
        stats.append(spacing.level_spacing(evals - evals.min() + 1e-3, 1000, 1000, unfolding="polynomial"))
        ratios.append(stats[-1].mean_ratio)
    assert np.mean(ratios) == pytest.approx(0.531, abs=0.01)
    assert max(s.ks_goe for s in stats) < 0.06  # measured <= 0.023 on 799 spacings
    assert min(s.ks_poisson for s in stats) > 0.15  # measured >= 0.21
    assert stats[0].num_spacings == 799


def test_wishart_bulk_ratio_and_both_unfoldings():
    """Wishart 1000x500, 6 draws: bulk <r> = 0.53 +- 0.01 (measured 0.536); MP and polynomial unfolding agree."""
    rng = np.random.default_rng(10)
    ratios = []
    for _ in range(6):
        evals = _wishart(rng)
        sigma2 = sigma2_median(evals, 0.5)
        with_mp = spacing.level_spacing(evals, 1000, 500, sigma2)
        with_poly = spacing.level_spacing(evals, 1000, 500, sigma2, unfolding="polynomial")
        ratios.append(with_mp.mean_ratio)
        assert with_mp.ks_goe < 0.07 and with_poly.ks_goe < 0.07  # measured <= 0.042
        assert with_mp.ks_poisson > 0.15 and with_poly.ks_poisson > 0.15
    assert np.mean(ratios) == pytest.approx(0.53, abs=0.01)


def test_poisson_levels():
    """iid uniform points: <r> = 2 ln 2 - 1 +- 0.005 on 40000 levels (SE 0.0015); KS: Poisson close, GOE far."""
    rng = np.random.default_rng(3)
    levels = rng.random(40000)
    assert np.mean(spacing.spacing_ratios(levels)) == pytest.approx(spacing.POISSON_MEAN_RATIO, abs=0.005)
    stats = spacing.level_spacing(1.0 + rng.random(2000), 2000, 2000, unfolding="polynomial")
    assert stats.ks_poisson < 0.05  # measured 0.013-0.02
    assert stats.ks_goe > 0.15  # measured 0.21


def test_spikes_above_the_edge_are_excluded():
    rng = np.random.default_rng(4)
    evals = _wishart(rng)
    spiked = np.concatenate([evals, [10.0, 20.0, 40.0]])
    sigma2 = sigma2_median(spiked, 0.5)
    clean = spacing.level_spacing(evals, 1000, 500, sigma2)
    with_spikes = spacing.level_spacing(spiked, 1000, 500, sigma2)
    assert with_spikes.num_spacings == clean.num_spacings


def test_argument_errors():
    with pytest.raises(ValueError, match="at least 10"):
        spacing.level_spacing(np.arange(1.0, 6.0), 10, 5, unfolding="polynomial")
    with pytest.raises(ValueError, match="sigma2"):
        spacing.level_spacing(np.arange(1.0, 60.0), 100, 59)
    with pytest.raises(ValueError, match="unfolding"):
        spacing.level_spacing(np.arange(1.0, 60.0), 100, 59, 1.0, unfolding="spline")


def test_polynomial_unfolding_is_the_least_squares_staircase_and_refuses_degenerate_levels():
    levels = np.sort(np.random.default_rng(3).uniform(0.0, 2.0, 200))
    expected = np.polynomial.Polynomial.fit(levels, np.arange(1.0, 201.0), deg=7)(levels)
    np.testing.assert_allclose(spacing.unfold_polynomial(levels), expected, rtol=1e-12)
    with pytest.raises(ValueError, match="too degenerate"):  # three distinct values cannot fix 8 coefficients
        spacing.unfold_polynomial(np.repeat([1.0, 2.0, 3.0], 20))
