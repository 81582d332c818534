"""The 5+1 phases on planted 1000 x 500 matrices (the data the thresholds were tuned on), two seeds each."""

import warnings

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from netspectra.diagnose.phase import PHASES, PhaseResult, classify_phase, tracy_widom_scale
from netspectra.linalg import Spectrum, compute_spectrum
from netspectra.rmt.powerlaw import fit_power_law

N, M = 1000, 500


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small dense problems run faster on one BLAS thread (and a busy 2-core machine thrashes with more)."""
    with threadpool_limits(1):
        yield


def _orthonormal(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    return np.linalg.qr(rng.standard_normal((n, k)))[0]


def _signal(rng: np.random.Generator, strengths) -> np.ndarray:
    """sum_i x_i sqrt(N) u_i v_i^T: strength x_i relative to unit noise (BGN normalisation)."""
    x = np.asarray(strengths, dtype=np.float64)
    return (_orthonormal(rng, N, x.size) * (x * np.sqrt(N))) @ _orthonormal(rng, M, x.size).T


PLANTED = {
    # Gaussian noise: MP, nothing outside.
    "random-like": lambda rng: rng.standard_normal((N, M)),
    # 8 components just above the BBP threshold x_c = 0.84: 7 outliers within ~40 TW scales of the edge.
    "bleeding-out": lambda rng: rng.standard_normal((N, M)) + _signal(rng, np.linspace(1.0, 1.4, 8)),
    # 3 strong components: outliers at 10.6, 27 and 66, far from l+ = 2.9.
    "bulk+spikes": lambda rng: rng.standard_normal((N, M)) + _signal(rng, [3.0, 5.0, 8.0]),
    # geometrically decaying singular values x_i = 1.5 * 0.995^i plus noise: ~22 outliers decaying
    # exponentially into the bulk (power law rejected against the exponential).
    "bulk-decay": lambda rng: rng.standard_normal((N, M)) + _signal(rng, 1.5 * 0.995 ** np.arange(M)),
    # power-law singular values: eigenvalues Pareto(alpha = 3) over the whole spectrum.
    "heavy-tailed": lambda rng: (_orthonormal(rng, N, M) * np.sqrt(N * (1 - rng.random(M)) ** -0.5))
    @ _orthonormal(rng, M, M).T,
    # rank M/4: 75% of the eigenvalues are zero.
    "rank-collapse": lambda rng: rng.standard_normal((N, M // 4)) @ rng.standard_normal((M // 4, M)),
}


def _classify(w: np.ndarray, with_fit: bool = True) -> PhaseResult:
    spectrum = compute_spectrum(w[None])
    nonzero = spectrum.eigenvalues[spectrum.eigenvalues > spectrum.zero_tolerance]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = fit_power_law(nonzero) if with_fit and nonzero.size >= 20 else None
    return classify_phase(spectrum, fit)


@pytest.mark.parametrize("phase", list(PLANTED))
def test_planted_phase(phase):
    for seed in range(2):
        result = _classify(PLANTED[phase](np.random.default_rng(seed)))
        assert result.phase == phase, result.reason
        assert result.reason


def test_second_bulk_decay_model_mp_times_exponential():
    """Column noise variances ~ Exp(1): no MP edge, the tail is better described by a truncated power law."""
    rng = np.random.default_rng(5)
    result = _classify(rng.standard_normal((N, M)) * np.sqrt(rng.exponential(1.0, M)))
    assert result.phase == "bulk-decay", result.reason


def test_without_a_power_law_fit_nothing_is_heavy_tailed():
    result = _classify(PLANTED["heavy-tailed"](np.random.default_rng(0)), with_fit=False)
    assert result.phase == "bulk-decay" and "no power-law fit" in result.reason


def test_labels_and_tracy_widom_scale():
    assert set(PLANTED) == set(PHASES)
    # 1000 x 500, sigma^2 = 1: Johnstone's scale with N - 1/2, M - 1/2 is 0.022897 (rmt_algorithms.md test case 1)
    assert tracy_widom_scale(1.0, N, M) == pytest.approx(0.022897, abs=2e-5)
    evals = np.sort(np.random.default_rng(1).uniform(0.5, 1.5, 40))
    assert classify_phase(Spectrum(evals, 80, 40), None).phase in PHASES
    with pytest.raises(ValueError, match="tail-only"):
        classify_phase(Spectrum(evals[-10:], 80, 40, trace=float(evals.sum())), None)
