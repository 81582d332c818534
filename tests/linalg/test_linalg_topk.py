"""Top-K eigenvalues: Lanczos (exact), randomized SVD (biased at the window bottom), pooled stacks."""

import numpy as np
import pytest

from netspectra.linalg import SpectrumOptions, compute_spectrum, compute_top_spectrum
from netspectra.linalg.lanczos import lanczos_top_eigenvalues
from netspectra.linalg.randomized import randomized_top_eigenvalues


@pytest.fixture(scope="module")
def heavy():
    """600 x 300 with power-law singular values (alpha ~ 3) plus noise."""
    rng = np.random.default_rng(0)
    n, m = 600, 300
    u = np.linalg.qr(rng.standard_normal((n, m)))[0]
    v = np.linalg.qr(rng.standard_normal((m, m)))[0]
    s = (1.0 - rng.random(m)) ** (-1.0 / 4.0)
    return (u * s) @ v.T + 0.3 * rng.standard_normal((n, m)) / np.sqrt(n)


def test_lanczos_matches_dense_top_k(heavy):
    exact = compute_spectrum(heavy).eigenvalues
    top = lanczos_top_eigenvalues(heavy, 40)
    np.testing.assert_allclose(top, exact[-40:], rtol=1e-10)
    np.testing.assert_allclose(lanczos_top_eigenvalues(heavy, 299), exact[-299:], rtol=1e-12)  # dense fallback


def test_randomized_bias_sits_at_the_window_bottom_and_oversampling_removes_it(heavy):
    exact = compute_spectrum(heavy).eigenvalues[-40:]
    rough = randomized_top_eigenvalues(heavy, 40, oversample=10, power_iterations=4)  # sklearn's defaults
    tuned = randomized_top_eigenvalues(heavy, 40)  # p = k, q = 7
    rough_err = np.abs(rough - exact) / exact
    tuned_err = np.abs(tuned - exact) / exact
    assert rough_err[:10].max() > 5 * rough_err[-10:].max()  # the bottom of the window is worst
    assert rough_err.max() > 3e-2
    assert tuned_err.max() < 1e-2 and tuned_err.max() < rough_err.max() / 5


def test_top_spectrum_of_a_stack_is_the_top_of_the_pooled_spectrum():
    stack = np.random.default_rng(4).standard_normal((3, 120, 60))
    full = compute_spectrum(stack)
    for backend in ("auto", "lanczos", "randomized"):
        top = compute_top_spectrum(stack, 50, SpectrumOptions(backend=backend, tail_only=50))
        assert top.eigenvalues.size == 50 and not top.complete
        np.testing.assert_allclose(top.eigenvalues, full.eigenvalues[-50:], rtol=1e-3 if backend == "randomized" else 1e-10)
        assert top.total == pytest.approx(full.total, rel=1e-12)
    assert compute_top_spectrum(stack, 180).complete
