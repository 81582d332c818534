"""Closed-form answers for norms, ranks and entropy."""

import numpy as np
import pytest

from netspectra.diagnose import metrics


def test_flat_spectrum():
    lam = np.full(50, 2.0)
    assert metrics.stable_rank(lam) == pytest.approx(50.0)
    assert metrics.effective_rank(lam) == pytest.approx(50.0)
    assert metrics.spectral_entropy(lam) == pytest.approx(1.0)


def test_rank_one_spectrum():
    lam = np.zeros(50)
    lam[-1] = 3.0
    assert metrics.stable_rank(lam) == pytest.approx(1.0)
    assert metrics.effective_rank(lam) == pytest.approx(1.0)
    assert metrics.spectral_entropy(lam) == pytest.approx(0.0)


def test_effective_rank_uses_singular_values():
    # two singular values 1 and 3: p = (1/4, 3/4), erank = exp(-(1/4 ln 1/4 + 3/4 ln 3/4))
    lam = np.array([1.0, 9.0])
    expected = np.exp(-(0.25 * np.log(0.25) + 0.75 * np.log(0.75)))
    assert metrics.effective_rank(lam) == pytest.approx(expected)
    assert metrics.stable_rank(lam) == pytest.approx(10.0 / 9.0)
