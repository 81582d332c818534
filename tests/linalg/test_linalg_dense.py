"""Dense backend: Gram + syevd, and the SVD fallback for ill-conditioned matrices."""

import numpy as np
import pytest

from netspectra.linalg import Spectrum, compute_spectrum
from netspectra.linalg.dense import dense_eigenvalues, gram_eigenvalues, needs_svd, svd_eigenvalues


def planted(n, m, singular_values, seed=0):
    rng = np.random.default_rng(seed)
    u = np.linalg.qr(rng.standard_normal((n, m)))[0]
    v = np.linalg.qr(rng.standard_normal((m, m)))[0]
    return (u * singular_values) @ v.T


def test_gram_and_svd_agree_on_a_well_conditioned_matrix():
    w = np.random.default_rng(1).standard_normal((300, 120))
    gram, svd = gram_eigenvalues(w), svd_eigenvalues(w)
    np.testing.assert_allclose(gram, svd, rtol=1e-12)
    assert not needs_svd(gram, 120)
    np.testing.assert_array_equal(dense_eigenvalues(w), gram)


def test_ill_conditioned_matrix_falls_back_to_svd_and_recovers_small_eigenvalues():
    n, m = 400, 100
    s = np.geomspace(1.0, 1e-6, m)  # lambda_min / lambda_max = 1e-12
    w = planted(n, m, s)
    true = np.sort(s**2 / n)
    gram = gram_eigenvalues(w)
    assert needs_svd(gram, m)
    gram_error = np.max(np.abs(gram - true) / true)
    dense_error = np.max(np.abs(dense_eigenvalues(w) - true) / true)
    assert gram_error > 1e-6  # eps lambda_max / lambda ~ 1e-4 at the bottom
    assert dense_error < 1e-9


def test_rank_deficient_matrix_keeps_the_gram_path():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((200, 10)) @ rng.standard_normal((10, 80))
    gram = gram_eigenvalues(w)
    assert not needs_svd(gram, 80)  # the 70 zero eigenvalues sit below the zero tolerance
    spectrum = compute_spectrum(w)
    assert np.count_nonzero(spectrum.eigenvalues <= spectrum.zero_tolerance) == 70


def test_compute_spectrum_orients_pools_and_clips():
    rng = np.random.default_rng(3)
    stack = rng.standard_normal((3, 40, 90))  # N < M: transposed to 90 x 40
    spectrum = compute_spectrum(stack)
    expected = np.sort(np.concatenate([np.linalg.eigvalsh(w @ w.T / 90) for w in stack]))
    assert (spectrum.n, spectrum.m, spectrum.num_matrices) == (90, 40, 3)
    np.testing.assert_allclose(spectrum.eigenvalues, np.maximum(expected, 0), rtol=1e-12, atol=1e-14)
    assert spectrum.complete and spectrum.trace is None
    assert spectrum.total == pytest.approx(np.sum(stack**2) / 90, rel=1e-12)


def test_top_window_of_a_spectrum():
    spectrum = Spectrum(eigenvalues=np.arange(1.0, 11.0), n=20, m=10)
    top = spectrum.top(3)
    np.testing.assert_array_equal(top.eigenvalues, [8.0, 9.0, 10.0])
    assert not top.complete and top.total == 55.0 and top.lambda_max == 10.0
    assert spectrum.top(10) is spectrum


def test_square_layer_keeps_the_gram_path_and_its_accuracy():
    """A square noise matrix has eigenvalues near the hard edge at 0 (lambda_min / lambda_max ~ 1/(4 N^2)):
    the Gram's measured error there stays far below 1e-6 relative, so no SVD is needed."""
    w = np.random.default_rng(4).standard_normal((1024, 1024))
    gram, svd = gram_eigenvalues(w), svd_eigenvalues(w)
    assert gram[0] / gram[-1] < 1e-6  # eigenvalues deep below the old threshold of 1e6 M eps lambda_max
    assert not needs_svd(gram, 1024)
    assert np.max(np.abs(gram - svd) / svd) < 1e-8
    np.testing.assert_array_equal(dense_eigenvalues(w), gram)


def test_a_few_coarse_eigenvalues_keep_the_gram_path():
    """A square layer with a strong low-rank part: one or two hard-edge eigenvalues fall below the SVD
    bound, too few to matter (the rest of the spectrum is accurate to 1e-8 and beyond)."""
    rng = np.random.default_rng(5)
    n = 400
    u, v = np.linalg.qr(rng.standard_normal((n, 8)))[0], np.linalg.qr(rng.standard_normal((n, 8)))[0]
    w = (u * np.geomspace(1e4, 1e3, 8)) @ v.T + rng.standard_normal((n, n))
    gram, svd = gram_eigenvalues(w), svd_eigenvalues(w)
    unit = np.finfo(np.float64).eps * gram[-1]
    coarse = np.count_nonzero((gram > 10 * n * unit) & (gram < 1e6 * unit))
    assert 0 < coarse <= 0.01 * n and not needs_svd(gram, n)
    accurate = svd > 1e6 * unit
    assert np.max(np.abs(gram - svd)[accurate] / svd[accurate]) < 1e-7


def test_gram_svd_is_the_svd_of_a_well_conditioned_matrix_tall_or_wide():
    from netspectra.linalg import gram_svd, thin_svd

    rng = np.random.default_rng(5)
    for w in (planted(500, 60, np.geomspace(10.0, 0.01, 60)), rng.standard_normal((40, 300))):
        u, s, vt = gram_svd(w)
        u0, s0, vt0 = thin_svd(w)
        k = min(w.shape)
        assert u.shape == (w.shape[0], k) and vt.shape == (k, w.shape[1])
        np.testing.assert_allclose(s, s0, rtol=1e-10)
        np.testing.assert_allclose((u * s) @ vt, w, atol=1e-12 * s[0])
        np.testing.assert_allclose(u.T @ u, np.eye(k), atol=1e-10)
        np.testing.assert_allclose(np.abs(np.sum(u * u0, axis=0)), 1.0, atol=1e-8)  # the same vectors, up to sign


def test_gram_svd_falls_back_to_gesdd_where_the_gram_is_too_coarse():
    """Rank-deficient or spread over more than 1e5 in singular value: the Gram's small eigenvalues are noise."""
    from netspectra.linalg import gram_svd, thin_svd

    for w in (planted(200, 50, np.r_[np.ones(5), np.zeros(45)]), planted(200, 50, np.geomspace(1.0, 1e-6, 50))):
        for got, expected in zip(gram_svd(w), thin_svd(w)):
            np.testing.assert_array_equal(got, expected)
