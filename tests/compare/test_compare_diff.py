"""Spectrum of W_B - W_A: numerical rank relative to the storage precision, relative norms, tail fit."""

import numpy as np
import pytest

from netspectra.compare.diff import difference_spectrum, storage_epsilon


def _norms(w):
    return dict(spectral_norm_a=np.linalg.norm(w, 2), frobenius_norm_a=np.linalg.norm(w))


def test_rank_and_norms_of_a_planted_low_rank_change():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((200, 80))
    delta = rng.standard_normal((200, 3)) @ rng.standard_normal((3, 80)) * 0.01
    d = difference_spectrum(delta[None], eps=storage_epsilon("F64"), **_norms(w))
    assert d.rank == 3
    assert d.rel_frobenius == pytest.approx(np.linalg.norm(delta) / np.linalg.norm(w), rel=1e-10)
    assert d.rel_spectral == pytest.approx(np.linalg.norm(delta, 2) / np.linalg.norm(w, 2), rel=1e-10)
    assert np.isnan(d.alpha)  # 3 non-zero eigenvalues: no tail fit


def test_storage_round_off_adds_no_rank():
    w64 = np.random.default_rng(1).standard_normal((300, 100))
    rounding = w64.astype(np.float32).astype(np.float64) - w64
    assert np.count_nonzero(rounding) > 0
    assert difference_spectrum(rounding[None], eps=storage_epsilon("F32", "F64"), **_norms(w64)).rank == 0
    assert difference_spectrum(rounding[None], eps=storage_epsilon("F64"), **_norms(w64)).rank == 100


def test_full_rank_noise_gets_a_tail_fit_and_epsilons_are_ordered():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((256, 128))
    d = difference_spectrum(0.05 * rng.standard_normal((1, 256, 128)), eps=storage_epsilon("F32"), **_norms(w))
    assert d.rank == 128 and np.isfinite(d.alpha) and d.alpha_se > 0
    assert storage_epsilon("F64") < storage_epsilon("F32") < storage_epsilon("F16") < storage_epsilon("BF16", "F32")
    assert storage_epsilon("I8") == storage_epsilon("F64")  # integers are exact
