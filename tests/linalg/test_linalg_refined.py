"""The float32 window refined in float64 (netspectra.linalg.refined): exact to 1e-9 relative, or refused.

Known answer: ``numpy.linalg.eigvalsh`` of the float64 Gram matrix W^T W / N (docs/formulas.md#float32-windows-refined-in-float64).
"""

import numpy as np
import pytest

from netspectra.linalg import SpectrumOptions, compute_top_spectrum
from netspectra.linalg.dense import dense_eigenvalues
from netspectra.linalg.refined import float32_top_eigenvectors, refine_top_eigenvalues, refined_top_eigenvalues, ritz_pairs
from netspectra.linalg.spectrum import RefinedWindows
from planted_windows import M, N, clustered, planted

K = 64


def exact_top(w, k):
    w = np.asarray(w, dtype=np.float64)
    return np.linalg.eigvalsh(w.T @ w / w.shape[0])[-k:]


@pytest.mark.parametrize("name", ["student", "power", "gauss"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_refined_top_k_is_the_float64_top_k(name, dtype):
    w = planted(name).astype(dtype)
    top = refined_top_eigenvalues(w, K)
    assert top is not None
    np.testing.assert_allclose(top, exact_top(w, K), rtol=1e-9, atol=0)
    assert np.all(np.diff(top) >= 0)


def test_the_float32_eigenvalues_alone_are_not_that_accurate():
    """What the refinement buys: the float32 Gram's own eigenvalues are off by far more than 1e-9 (so the test above can fail)."""
    w = planted("gauss").astype(np.float32)
    gram = w.T @ w / np.float32(N)
    err = np.abs(np.linalg.eigvalsh(gram)[-K:] - exact_top(w, K)) / exact_top(w, K)
    assert err.max() > 1e-8


def test_ritz_values_are_lower_bounds_and_a_too_small_subspace_is_refused():
    w = planted("student")
    vectors = float32_top_eigenvectors(w, 2 * K)
    assert vectors.shape == (M, 2 * K) and vectors.dtype == np.float32
    theta, norms = ritz_pairs(w, vectors)
    exact = exact_top(w, 2 * K)
    assert np.all(theta <= exact * (1 + 1e-13))  # Courant-Fischer: Ritz values bound the top eigenvalues from below
    assert np.all(np.abs(theta - exact) <= norms * (1 + 1e-6))  # within the residual (Bauer-Fike), here for the matched one
    assert refine_top_eigenvalues(w, vectors[:, -K:], K) is None  # no oversampling: no gap to check against


def test_a_window_ending_in_a_cluster_is_refused_and_computed_exactly_in_float64():
    w = clustered()
    vectors = float32_top_eigenvectors(w, 24)
    assert refine_top_eigenvalues(w, vectors, 20) is None  # theta_20 and the oversampled part sit in the cluster
    top = compute_top_spectrum(w, 20, SpectrumOptions(backend="refined", tail_only=20))
    np.testing.assert_array_equal(top.eigenvalues, dense_eigenvalues(w)[-20:])  # the float64 dense path, bit for bit


def test_windows_reuse_the_float32_subspace_and_match_the_dense_windows():
    stack = np.stack([planted("student"), planted("gauss")]).astype(np.float32)
    windows = RefinedWindows(stack)
    exact = np.sort(np.concatenate([exact_top(w, M) for w in stack]))
    for count in (32, 64, 128, 256):
        top = windows.top(count)
        np.testing.assert_allclose(top.eigenvalues, exact[-count:], rtol=1e-9, atol=0)
        assert top.total == pytest.approx(exact.sum(), rel=1e-12) and not top.complete
    assert windows.top(2 * M).complete


def test_a_subspace_that_is_the_whole_space_gives_every_eigenvalue():
    w = np.random.default_rng(2).standard_t(3, size=(100, 30))
    np.testing.assert_allclose(refined_top_eigenvalues(w, 20), exact_top(w, 20), rtol=1e-12, atol=0)  # c = min(M, 2k) = M


def test_a_wide_matrix_is_transposed_first():
    w = np.random.default_rng(0).standard_t(3, size=(700, 1800)).astype(np.float32)
    top = compute_top_spectrum(w, 40, SpectrumOptions(backend="refined", tail_only=40))
    assert (top.n, top.m) == (1800, 700)
    np.testing.assert_allclose(top.eigenvalues, exact_top(w.T, 40), rtol=1e-9, atol=0)


def test_entries_whose_squares_overflow_float32_fall_back_to_float64():
    w = planted("student") * 1e25  # fine in float64, W^T W overflows float32
    assert float32_top_eigenvectors(w, 2 * K) is None
    top = compute_top_spectrum(w, K, SpectrumOptions(backend="refined", tail_only=K))
    np.testing.assert_array_equal(top.eigenvalues, dense_eigenvalues(w)[-K:])
