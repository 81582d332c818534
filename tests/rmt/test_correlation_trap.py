"""Correlation traps: shuffled-entry spectra of Gaussian, trapped and low-rank matrices."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from netspectra.linalg import compute_spectrum
from netspectra.rmt.correlation_trap import correlation_trap

N, M = 1000, 500


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small dense problems run faster on one BLAS thread (and a busy 2-core machine thrashes with more)."""
    with threadpool_limits(1):
        yield


def _trap(w: np.ndarray, **kwargs):
    stack = w[None] if w.ndim == 2 else w
    return correlation_trap(stack, compute_spectrum(stack).eigenvalues, **kwargs)


def test_gaussian_is_not_a_trap_and_sits_on_mp():
    for seed in range(4):
        rng = np.random.default_rng(seed)
        result = _trap(2.0 * rng.standard_normal((N, M)) + 0.3, seed=seed)  # a common mean is no trap
        assert not result.is_trap
        assert result.sigma2 == pytest.approx(4.0, rel=0.01)
        assert result.lambda_max_ratio == pytest.approx(1.0, abs=0.02)  # measured 0.997
        assert result.ks_distance < 0.03  # measured 0.006


def test_randomized_top_eigenvalue_is_exact():
    rng = np.random.default_rng(5)
    w = rng.standard_normal((N, M))
    result = _trap(w, seed=11)
    shuffled = np.random.default_rng(11)
    entries = (w - w.mean()).ravel()
    shuffled.shuffle(entries)
    exact = compute_spectrum(entries.reshape(N, M)[None]).lambda_max
    assert result.lambda_max_randomized == pytest.approx(exact, rel=1e-6)


def test_a_few_huge_entries_are_a_trap():
    """Three entries of 100 sigma: each alone gives an eigenvalue ~ 100^2 / N = 10 >> l+ = 2.9."""
    for seed in range(3):
        rng = np.random.default_rng(seed)
        w = rng.standard_normal((N, M))
        w.ravel()[rng.choice(w.size, 3, replace=False)] = 100.0
        result = _trap(w, seed=seed)
        assert result.is_trap
        assert result.lambda_max_ratio > 3.0  # measured 3.8


def test_low_rank_signal_is_far_from_its_randomized_esd_but_no_trap():
    """Rank-5 signal of strength x = 10: the signal's energy raises the entry variance to ~2, the noise
    bulk stays at sigma^2 = 1, so the ESD is far from MP(beta, 2); shuffling spreads the signal thin."""
    rng = np.random.default_rng(3)
    u = np.linalg.qr(rng.standard_normal((N, 5)))[0]
    v = np.linalg.qr(rng.standard_normal((M, 5)))[0]
    w = (u * (10.0 * np.sqrt(N))) @ v.T + rng.standard_normal((N, M))
    result = _trap(w)
    assert result.ks_distance > 0.25  # measured 0.30 (Gaussian: 0.006)
    assert not result.is_trap


def test_stack_and_orientation():
    rng = np.random.default_rng(4)
    stack = rng.standard_normal((9, 64, 32))
    result = _trap(stack)
    assert not result.is_trap and result.ks_distance < 0.05
    transposed = correlation_trap(np.swapaxes(stack, 1, 2), compute_spectrum(stack).eigenvalues)
    assert transposed.mp_edge == result.mp_edge
    assert np.isnan(correlation_trap(stack, None).ks_distance)  # tail-only callers skip the distance
    with pytest.raises(ValueError, match="variance"):
        correlation_trap(np.ones((1, 10, 5)), np.ones(5))
