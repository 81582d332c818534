"""Property tests: metrics are invariant to transposition and to row/column permutations, and scale as
documented under W -> cW (eigenvalues by c^2, norms by |c|, alpha and the ranks unchanged)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netspectra.diagnose.layer import analyze_spectrum
from netspectra.linalg import compute_spectrum

INVARIANT = ["alpha", "ks_distance", "num_tail", "stable_rank", "effective_rank", "entropy", "num_spikes", "rank_loss"]
SCALE_SQUARED = ["lambda_max", "sigma2_mp", "lambda_plus", "lambda_plus_tw", "xmin", "xmax", "lambda_max_ww"]
SCALE_ABS = ["spectral_norm", "frobenius_norm"]


def _report(w):
    return analyze_spectrum(compute_spectrum(w), name="w", layer_index=0, kind="linear")


matrices = st.builds(
    lambda seed, n, m, tail: np.random.default_rng(seed).standard_t(tail, size=(n, m)),
    st.integers(0, 2**32 - 1),
    st.integers(30, 90),
    st.integers(25, 60),
    st.sampled_from([2.5, 4.0, 30.0]),
)


def _close(a, b, rel=1e-7):
    if isinstance(a, (int, np.integer)):
        return a == b
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=rel, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(matrices, st.integers(0, 1000))
def test_invariant_to_transpose_and_permutations(w, seed):
    rng = np.random.default_rng(seed)
    base = _report(w)
    for other in (_report(w.T), _report(w[rng.permutation(w.shape[0])][:, rng.permutation(w.shape[1])])):
        for column in INVARIANT + SCALE_SQUARED + SCALE_ABS:
            assert _close(getattr(other, column), getattr(base, column)), column


@settings(max_examples=25, deadline=None)
@given(matrices, st.sampled_from([1e-3, 0.5, 3.0, -7.0, 1e4]))
def test_scaling(w, c):
    base, scaled = _report(w), _report(c * w)
    for column in INVARIANT:
        assert _close(getattr(scaled, column), getattr(base, column), rel=1e-6), column
    for column in SCALE_SQUARED:
        assert _close(getattr(scaled, column), c * c * getattr(base, column), rel=1e-6), column
    for column in SCALE_ABS:
        assert _close(getattr(scaled, column), abs(c) * getattr(base, column), rel=1e-6), column
    if math.isfinite(base.alpha):
        shift = 2 * math.log10(abs(c)) * base.alpha
        assert scaled.alpha_weighted == pytest.approx(base.alpha_weighted + shift, rel=1e-6, abs=1e-6)
