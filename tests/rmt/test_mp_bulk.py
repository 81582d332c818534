"""MP bulk fit: width, area A = spectral weight in the bulk, KS quality (seed 003)."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from netspectra.rmt.marchenko_pastur import mp_median, mp_pdf
from netspectra.rmt.mp_bulk import fit_mp_bulk, mp_log_likelihood
from netspectra.rmt.spikes import outlier_eigenvalue

N, M = 1000, 500


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small dense problems run faster on one BLAS thread (and a busy 2-core machine thrashes with more)."""
    with threadpool_limits(1):
        yield


def _evals(w: np.ndarray) -> np.ndarray:
    return np.linalg.eigvalsh(w.T @ w / w.shape[0])


def test_wishart_area_one_and_width_sigma2():
    for seed in range(4):
        rng = np.random.default_rng(seed)
        fit = fit_mp_bulk(_evals(1.7 * rng.standard_normal((N, M))), N, M)
        assert fit.area > 0.995 and fit.tail_weight < 0.005  # measured A = 1 in every draw
        assert fit.sigma2 == pytest.approx(1.7**2, rel=0.01)  # measured within 0.4%
        assert fit.ks_distance < 0.02 and fit.ks_pvalue > 0.5  # measured D ~ 0.006
        assert fit.count_fraction > 0.99


def test_planted_spikes_reduce_area_by_their_predicted_weight():
    """x = 3, 2.5, 2: the outliers sit at lambda(x) (BGN); their share of the trace M + sum x^2 is 0.0462."""
    x = np.array([3.0, 2.5, 2.0])
    predicted = outlier_eigenvalue(x, M / N).sum() / (M + np.sum(x**2))
    for seed in range(4):
        rng = np.random.default_rng(seed)
        u = np.linalg.qr(rng.standard_normal((N, 3)))[0]
        v = np.linalg.qr(rng.standard_normal((M, 3)))[0]
        w = (u * (x * np.sqrt(N))) @ v.T + rng.standard_normal((N, M))
        fit = fit_mp_bulk(_evals(w), N, M)
        assert fit.tail_weight == pytest.approx(predicted, abs=0.002)  # measured 0.0463-0.0467 vs 0.0462
        assert fit.num_bulk == M - 3
        assert fit.sigma2 == pytest.approx(1.0, abs=0.01)


def test_trimming_fixes_the_median_bias_of_a_separated_tail():
    """20% of the eigenvalues moved far out: the plain median over-estimates sigma^2, the trimmed one does not."""
    rng = np.random.default_rng(7)
    bulk = rng.choice(_evals(rng.standard_normal((N, M))), 400, replace=False)  # MP(0.5) shape, area 0.8
    tail = np.geomspace(20.0, 200.0, 100)
    evals = np.concatenate([bulk, tail])
    fit = fit_mp_bulk(evals, N, M)
    assert fit.sigma2 == pytest.approx(np.median(bulk) / mp_median(0.5))  # the bulk-only estimator
    assert fit.sigma2 == pytest.approx(1.0, abs=0.06)  # a 400-of-500 subsample's median; measured 1.026
    assert fit.num_bulk == 400
    assert fit.tail_weight == pytest.approx(tail.sum() / evals.sum())
    assert np.median(evals) / np.median(bulk) > 1.15  # the bias of the untrimmed estimator


@pytest.mark.parametrize("kind", ["two-level", "exponential"])
def test_non_mp_bulk_has_small_p_value(kind):
    """Column noise variances 0.3/1.7 (half each) or Exp(1): the ESD is not MP and KS rejects."""
    rng = np.random.default_rng(8)
    variances = np.repeat([0.3, 1.7], M // 2) if kind == "two-level" else rng.exponential(1.0, M)
    fit = fit_mp_bulk(_evals(rng.standard_normal((N, M)) * np.sqrt(variances)), N, M)
    assert fit.ks_pvalue < 1e-3  # measured 7e-5 and 4e-7


def test_orientation_and_errors():
    rng = np.random.default_rng(9)
    evals = _evals(rng.standard_normal((N, M)))
    assert fit_mp_bulk(evals, M, N) == fit_mp_bulk(evals, N, M)
    with pytest.raises(ValueError, match="positive trace"):
        fit_mp_bulk(np.zeros(10), 20, 10)
    with pytest.raises(ValueError, match="half"):
        fit_mp_bulk(np.r_[np.zeros(6), np.ones(4)], 20, 10)


def test_finite_n_mp_likelihood():
    """Smoothed MP log-likelihood: finite where the exact one is -inf, close to it otherwise, punishes a spike."""
    gaps, infinite = [], 0
    for seed in range(4):
        evals = _evals(np.random.default_rng(seed).standard_normal((N, M)))
        loglik, sigma2 = mp_log_likelihood(evals, N, M)
        assert np.isfinite(loglik) and sigma2 == pytest.approx(1.0, abs=0.02)
        with np.errstate(divide="ignore"):
            exact = float(np.sum(np.log(mp_pdf(evals, M / N, sigma2))))
        if np.isfinite(exact):
            gaps.append(exact - loglik)
        else:
            infinite += 1  # an eigenvalue just past the edge (seed 1)
        spiked = np.concatenate([evals[:-1], [10.0]])  # lambda = 10 is ~310 TW scales past l+
        assert mp_log_likelihood(spiked, N, M)[0] < loglik - 1000
    assert infinite >= 1 and all(0 < gap < 5 for gap in gaps)  # measured gaps 3.0-3.4 nats of ~420


@pytest.mark.slow
def test_ks_law_is_exact():
    """The two-sided KS survival function against 40-digit mpmath (the matrix method written out) and
    against scipy.stats.kstwo where that is exact (n <= 140) and in its tail (2 P(D+ >= d))."""
    import math

    import mpmath
    from scipy import stats

    from netspectra.rmt.ks import ks_sf

    mpmath.mp.dps = 40

    def reference(d: float, n: int) -> float:
        k = int(math.floor(n * d)) + 1
        m, h = 2 * k - 1, mpmath.mpf(k) - n * mpmath.mpf(d)
        matrix = mpmath.matrix(m, m)
        for i in range(m):
            for j in range(m):
                matrix[i, j] = 1 if i - j + 1 >= 0 else 0
        for i in range(m):
            matrix[i, 0] -= h ** (i + 1)
            matrix[m - 1, i] -= h ** (m - i)
        if 2 * h - 1 > 0:
            matrix[m - 1, 0] += (2 * h - 1) ** m
        for i in range(m):
            for j in range(m):
                if i - j + 1 > 0:
                    matrix[i, j] /= mpmath.factorial(i - j + 1)
        return float(1 - (matrix**n)[k - 1, k - 1] * mpmath.factorial(n) / mpmath.mpf(n) ** n)

    for d, n in [(0.05, 384), (0.035, 384), (0.07, 384), (0.3, 20)]:
        assert ks_sf(d, n) == pytest.approx(reference(d, n), rel=1e-11)
    for n in (5, 50, 140, 1000):
        for p in (0.9, 0.3, 0.05, 1e-3, 1e-9):
            d = float(stats.kstwo.isf(p, n))
            assert ks_sf(d, n) == pytest.approx(float(stats.kstwo.sf(d, n)), rel=1e-6 if n > 140 else 1e-10)
    assert ks_sf(0.0, 10) == 1.0 and ks_sf(1.0, 10) == 0.0


def test_one_sided_ks_law_matches_scipy():
    """Birnbaum–Tingey in logarithms against scipy.special.smirnov (measured: 2e-11 relative at worst)."""
    from scipy import special

    from netspectra.rmt.ks import one_sided_sf

    for n in (1, 2, 5, 20, 384, 4096, 20000):
        for d in (0.001, 0.01, 0.05, 0.3, 0.5, 0.999):
            assert one_sided_sf(d, n) == pytest.approx(float(special.smirnov(n, d)), rel=1e-10, abs=1e-300)
