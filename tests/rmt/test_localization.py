"""Singular-vector localization (WeightWatcher's ``vectors``): closed forms, and WeightWatcher's own functions."""

import numpy as np
import pytest

from netspectra.rmt.localization import discrete_entropy, localization_ratio, participation_ratio, vector_statistics


def test_flat_and_one_hot_vectors():
    flat, one = np.full(64, 0.125), np.eye(64)[3]
    assert localization_ratio(flat) == pytest.approx(64) and localization_ratio(one) == 1.0
    assert participation_ratio(flat) == pytest.approx(64**0.25) and participation_ratio(one) == 1.0


@pytest.mark.parametrize("seed", [0, 1])
def test_equal_to_weightwatchers_functions(seed):
    rmt_util = pytest.importorskip("weightwatcher.RMT_Util")
    v = np.random.default_rng(seed).standard_normal(300)
    assert localization_ratio(v) == pytest.approx(rmt_util.localization_ratio(v), rel=1e-14)
    assert participation_ratio(v) == pytest.approx(rmt_util.participation_ratio(v), rel=1e-14)
    assert discrete_entropy(v) == pytest.approx(rmt_util.discrete_entropy(v), rel=1e-14)


def test_statistics_of_every_right_singular_vector():
    w = np.random.default_rng(2).standard_normal((2, 50, 20))
    stats = vector_statistics(w)
    assert stats.eigenvalues.size == stats.localization.size == 40
    np.testing.assert_allclose(np.sort(stats.eigenvalues[:20]), np.linalg.eigvalsh(w[0].T @ w[0]), rtol=1e-10)
