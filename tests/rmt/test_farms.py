"""FARMS (issue 18, part 5): pooled spectra of square submatrices, and ``--estimator farms``."""

from __future__ import annotations

import numpy as np
import pytest

from netspectra.diagnose.options import AnalysisOptions
from netspectra.errors import UsageError
from netspectra.pipeline import analyze_array
from netspectra.rmt.farms import farms_eigenvalues
from netspectra.rmt.powerlaw import fit_power_law
from netspectra.spec import AnalysisSpec


def _blocks_spectrum(blocks: list[np.ndarray]) -> np.ndarray:
    return np.sort(np.concatenate([np.linalg.eigvalsh(b.T @ b / b.shape[1]) for b in blocks]))


def test_tall_matrix_pools_its_square_blocks_and_aligns_the_last_one():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3 * 40, 40))
    expected = _blocks_spectrum([w[:40], w[40:80], w[80:]])
    np.testing.assert_allclose(farms_eigenvalues(w), expected, rtol=1e-12, atol=1e-14)
    v = rng.standard_normal((100, 40))  # 40 does not divide 100: blocks 0-40, 40-80 and 60-100
    np.testing.assert_allclose(farms_eigenvalues(v), _blocks_spectrum([v[:40], v[40:80], v[60:]]), rtol=1e-12, atol=1e-14)


def test_square_matrix_is_its_own_block():
    w = np.random.default_rng(1).standard_normal((50, 50))
    np.testing.assert_allclose(farms_eigenvalues(w), np.linalg.eigvalsh(w.T @ w / 50), rtol=1e-12, atol=1e-14)


def test_estimator_farms_fits_alpha_on_the_pooled_spectrum_only():
    w = np.random.default_rng(2).standard_t(3, (800, 200))
    full = analyze_array(w)
    farms = analyze_array(w, AnalysisSpec(fit=AnalysisOptions(estimator="farms")))
    assert farms.alpha == pytest.approx(fit_power_law(farms_eigenvalues(w)).alpha, rel=1e-12)
    assert farms.alpha != full.alpha
    assert farms.lambda_max == full.lambda_max and farms.log_det == full.log_det  # the other columns: full spectrum
    with pytest.raises(UsageError):
        AnalysisOptions(estimator="median")
