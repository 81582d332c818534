"""symmetric_eigenvalues: NumPy's own eigvalsh bit for bit, through LAPACKE without the GIL, or NumPy itself."""

import numpy as np
import pytest

from netspectra.linalg import lapack


def gram(n, m, seed):
    w = np.random.default_rng(seed).standard_normal((n, m))
    return w.T @ w / n


@pytest.mark.parametrize("shape", [(2, 2), (300, 17), (500, 500), (1200, 384)])
def test_eigenvalues_equal_numpy_bit_for_bit(shape):
    g = gram(*shape, seed=shape[1])
    assert np.array_equal(lapack.symmetric_eigenvalues(g), np.linalg.eigvalsh(g))


@pytest.mark.parametrize("shape", [(40, 40), (900, 600)])
def test_the_two_stage_reduction_is_within_1e_14_of_the_largest_eigenvalue(shape, monkeypatch):
    g = gram(*shape, seed=7)
    reference = np.linalg.eigvalsh(g)
    two_stage = lapack.symmetric_eigenvalues(g, two_stage=True)
    assert np.max(np.abs(two_stage - reference)) <= 1e-14 * reference[-1]
    monkeypatch.setattr(lapack, "TWO_STAGE_MIN_ORDER", shape[1])  # the default from that order on
    assert np.array_equal(lapack.symmetric_eigenvalues(g), two_stage)
    assert np.array_equal(lapack.symmetric_eigenvalues(g, two_stage=False), reference)


def test_the_lapacke_path_is_the_one_taken_with_numpys_openblas():
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    if blas["name"] != "scipy-openblas" or "USE64BITINT" not in blas.get("openblas configuration", ""):
        pytest.skip(f"NumPy links {blas['name']}: numpy.linalg.eigvalsh is used")
    assert lapack._lapacke_dsyevd() is not None and lapack._lapacke_dsyevd(two_stage=True) is not None


def test_without_lapacke_numpy_is_used(monkeypatch):
    g = gram(100, 40, seed=1)
    monkeypatch.setattr(lapack, "_lapacke_dsyevd", lambda two_stage=False: None)
    assert np.array_equal(lapack.symmetric_eigenvalues(g), np.linalg.eigvalsh(g))


def test_input_is_left_unchanged_and_nan_is_an_error():
    g = gram(60, 30, seed=2)
    kept = g.copy()
    lapack.symmetric_eigenvalues(g)
    assert np.array_equal(g, kept)
    g[3, 3] = np.nan
    if lapack._lapacke_dsyevd() is not None:  # LAPACKE checks for NaN; NumPy's own path may return NaNs
        with pytest.raises(np.linalg.LinAlgError, match="NaN"):
            lapack.symmetric_eigenvalues(g)
    with pytest.raises(np.linalg.LinAlgError, match="non-square"):
        lapack.symmetric_eigenvalues(np.ones((3, 4)))
    assert lapack.symmetric_eigenvalues(np.zeros((0, 0))).shape == (0,)


def test_float32_top_eigenvectors_are_those_of_scipys_ssyevr():
    from scipy.linalg import eigh

    from netspectra.linalg.lapack import _lapacke_ssyevr, top_eigenvectors_float32

    assert _lapacke_ssyevr() is not None  # NumPy's OpenBLAS, not the SciPy fallback
    a = np.random.default_rng(5).standard_normal((300, 120)).astype(np.float32)
    gram = a.T @ a
    values, expected = eigh(gram, subset_by_index=(120 - 16, 119), driver="evr")
    vectors = top_eigenvectors_float32(gram.copy(), 16)
    assert vectors.shape == (120, 16) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.abs(np.sum(vectors * expected, axis=0)), 1.0, atol=1e-4)  # same vectors up to sign
    np.testing.assert_allclose(gram @ vectors, vectors * values, atol=1e-3 * values[-1])
