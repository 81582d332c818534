"""Per-layer metrics on planted matrices with known answers."""

import numpy as np
import pytest

from netspectra.diagnose.layer import analyze_spectrum
from netspectra.errors import MatrixError
from netspectra.linalg import compute_spectrum
from netspectra.pipeline import check_matrices


def _report(w, kind="linear"):
    return analyze_spectrum(compute_spectrum(w), name="w", layer_index=0, kind=kind)


def test_gaussian_1000x500():
    """docs/formulas.md#test-cases: lambda_+ = 2.914214 sigma^2, sigma^2 recovered within 1%, no spikes."""
    rng = np.random.default_rng(0)
    sigma2 = 0.04
    r = _report(np.sqrt(sigma2) * rng.standard_normal((1000, 500)))
    assert (r.N, r.M, r.Q, r.num_evals) == (1000, 500, 2.0, 500)
    assert r.sigma2_mp == pytest.approx(sigma2, rel=0.01)
    assert r.lambda_plus == pytest.approx(2.914214 * r.sigma2_mp, rel=1e-6)
    assert r.lambda_plus_tw > r.lambda_plus
    assert r.num_spikes == 0
    assert r.bulk_fraction == 1.0
    assert r.rank_loss == 0 and r.status == "ok"


def test_norms_match_numpy():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((300, 120))
    r = _report(w)
    assert r.spectral_norm == pytest.approx(np.linalg.norm(w, 2), rel=1e-10)
    assert r.frobenius_norm == pytest.approx(np.linalg.norm(w), rel=1e-10)
    assert r.log_spectral_norm == pytest.approx(np.log10(np.linalg.norm(w, 2)), rel=1e-10)
    assert r.lambda_max_ww == pytest.approx(np.linalg.norm(w, 2) ** 2, rel=1e-10)
    assert r.alpha_weighted == pytest.approx(r.alpha * np.log10(r.lambda_max_ww))
    assert r.log_norm_ww == pytest.approx(np.log10(np.linalg.norm(w) ** 2), rel=1e-10)
    s2 = np.linalg.svd(w, compute_uv=False) ** 2
    assert r.log_alpha_norm == pytest.approx(np.log10(np.sum(s2**r.alpha)), rel=1e-9)
    # orientation: the transpose has the same spectrum
    assert _report(w.T).alpha == r.alpha


@pytest.mark.parametrize("num_spikes", [1, 3])
def test_planted_spikes_are_counted(num_spikes):
    rng = np.random.default_rng(10 + num_spikes)
    n, m = 1000, 500
    w = rng.standard_normal((n, m))
    u = np.linalg.qr(rng.standard_normal((n, num_spikes)))[0]
    v = np.linalg.qr(rng.standard_normal((m, num_spikes)))[0]
    strengths = np.linspace(3.0, 5.0, num_spikes) * np.sqrt(n)  # x = 3..5, far above beta^(1/4)
    w += u @ np.diag(strengths) @ v.T
    r = _report(w)
    assert r.num_spikes == num_spikes
    assert r.sigma2_mp == pytest.approx(1.0, rel=0.02)


def test_rank_collapse_warning():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((400, 30)) @ rng.standard_normal((30, 200))
    r = _report(w)
    assert r.rank_loss == 170
    assert "rank-collapse" in r.warning


def test_full_rank_matrices_are_never_rank_collapse():
    """The audit's cases: W = G / sqrt(1000) + 600 u v^T (1000 x 500; one eigenvalue 1e8 times the bulk) and
    iid Student-t(1.5) were labelled rank-collapse ("100% of the eigenvalues below 1e-5 lambda_max") next
    to rank_loss 0.  One rule now: the phase, the warning and rank_loss agree."""
    from netspectra.diagnose.depth import depth_metrics

    rng = np.random.default_rng(0)
    u, v = rng.standard_normal(1000), rng.standard_normal(500)
    spiked = rng.standard_normal((1000, 500)) / np.sqrt(1000) + 600 * np.outer(u / np.linalg.norm(u), v / np.linalg.norm(v))
    for w in (spiked, *(np.random.default_rng(s).standard_t(1.5, (1000, 500)) for s in range(3))):
        spectrum = compute_spectrum(w)
        r = _report(w)
        depth = depth_metrics(spectrum, w[None], None)
        assert r.rank_loss == 0 and "rank-collapse" not in r.warning
        assert depth.phase_columns.phase not in ("rank-collapse", "")


def test_noise_made_heavy_by_its_entries_is_not_over_trained():
    """iid Student-t(1.5): alpha ~ 1.5 from single large entries; the layer is its entries at random
    positions (random-like), so it gets ``large-entries`` and not WeightWatcher's ``over-trained``."""
    from netspectra.diagnose.options import AnalysisOptions

    w = np.random.default_rng(1).standard_t(1.5, (1000, 500))
    r = analyze_spectrum(
        compute_spectrum(w), name="w", layer_index=0, kind="linear", options=AnalysisOptions(depth=True), stack=w[None]
    )
    assert r.alpha < 2 and r.phase == "random-like"
    assert r.warnings == ("large-entries",)
    assert "over-trained" in _report(w).warning  # without the depth analysis, alpha alone decides


def test_heavy_tailed_spectrum_is_over_trained():
    rng = np.random.default_rng(3)
    n, m = 800, 400
    u = np.linalg.qr(rng.standard_normal((n, m)))[0]
    v = np.linalg.qr(rng.standard_normal((m, m)))[0]
    s2 = (1.0 - rng.random(m)) ** (-1.0 / 0.5)  # eigenvalues Pareto with alpha = 1.5
    r = _report(u @ np.diag(np.sqrt(n * s2)) @ v.T)
    assert r.alpha == pytest.approx(1.5, abs=0.25)
    assert "over-trained" in r.warning


def test_conv_stack_pools_eigenvalues():
    rng = np.random.default_rng(4)
    stack = rng.standard_normal((9, 64, 32))
    r = _report(stack, kind="conv2d")
    assert (r.num_matrices, r.num_evals, r.N, r.M) == (9, 288, 64, 32)
    s_max2 = max(np.linalg.norm(w, 2) ** 2 for w in stack)
    assert r.lambda_max_ww == pytest.approx(s_max2 * 9 / 2, rel=1e-10)  # WW conv2d_norm: W * sqrt(k/2)


@pytest.mark.parametrize(
    "stack, message",
    [
        (np.zeros((1, 10, 5)), "all-zero"),
        (np.ones((1, 10, 1)), "single eigenvalue"),
        (np.full((1, 4, 3), np.nan), "NaN/Inf"),
        (np.zeros((1, 0, 0)), "empty"),
    ],
)
def test_bad_matrices_raise_matrix_error(stack, message):
    with pytest.raises(MatrixError, match=message):
        check_matrices(stack)
