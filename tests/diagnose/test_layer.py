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
    bare = _report(w)  # without the depth analysis the interval alone decides: [1.65, 2.33] straddles 2
    assert bare.alpha_lo < 2 < bare.alpha_hi and "over-trained" not in bare.warning


def test_heavy_tailed_spectrum_is_over_trained():
    rng = np.random.default_rng(3)
    n, m = 800, 400
    u = np.linalg.qr(rng.standard_normal((n, m)))[0]
    v = np.linalg.qr(rng.standard_normal((m, m)))[0]
    s2 = (1.0 - rng.random(m)) ** (-1.0 / 0.5)  # eigenvalues Pareto with alpha = 1.5
    r = _report(u @ np.diag(np.sqrt(n * s2)) @ v.T)
    assert r.alpha == pytest.approx(1.5, abs=0.25)
    assert r.alpha_lo < 1.5 < r.alpha_hi < 2.0  # the whole interval below 2
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


def test_alpha_labels_judge_the_interval_and_the_phase():
    """under-/over-trained only when the whole interval [alpha_lo, alpha_hi] is beyond the band, and
    over-trained only on a heavy-tailed (or unclassified) layer."""
    from netspectra.diagnose.rules import alpha_label

    assert alpha_label(6.2, 9.0) == "under-trained" and alpha_label(5.5, 9.0) is None
    assert alpha_label(1.3, 1.9, "heavy-tailed") == "over-trained" and alpha_label(1.3, 1.9) == "over-trained"
    assert alpha_label(1.5, 2.1, "heavy-tailed") is None
    for phase in ("bulk+spikes", "bulk-decay", "random-like", "rank-collapse", "bleeding-out", "isometric"):
        assert alpha_label(1.3, 1.9, phase) is None


def test_a_smoothly_decaying_bulk_is_not_over_trained():
    """Gaussian rows of covariance diag(exp(-i/50)) (1000 x 500): bulk-decay with alpha 2-7 in every draw, and
    over-trained in 1 of these 10 (4 of 10 in the audit's draws): a decay over decades is no learned tail."""
    from netspectra import analyze_array
    from netspectra.rmt import ensembles

    layers = [analyze_array(ensembles.decaying_covariance(1000, 500, 50.0, np.random.default_rng(s))) for s in range(10)]
    assert all(layer.phase == "bulk-decay" for layer in layers)
    assert not any("over-trained" in layer.warnings for layer in layers), [round(layer.alpha, 2) for layer in layers]


@pytest.mark.slow
def test_good_digits_models_are_not_over_trained():
    """scikit-learn MLPs on the digits (Adam, 60 epochs, test accuracy 0.97-0.98): the best 256-wide models
    (batch 8: test 0.980-0.982, fc1 heavy-tailed with alpha 1.93-1.98) and the 64-wide ones whose layers are
    bulk+spikes or rank-collapsed with alpha 1.7-2.0 were called over-trained.  Their intervals straddle 2,
    or their phase is not a learned tail."""
    import warnings

    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    from netspectra import analyze_array

    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x / 16.0, y, test_size=0.25, stratify=y, random_state=0)
    for hidden, batch, seed in (((256, 256), 8, 0), ((256, 256), 8, 1), ((64, 64), 32, 1), ((64, 64), 8, 0)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = MLPClassifier(hidden_layer_sizes=hidden, batch_size=batch, max_iter=60, random_state=seed).fit(x_tr, y_tr)
        assert clf.score(x_te, y_te) >= 0.97
        layers = [analyze_array(coef.T) for coef in clf.coefs_[:2]]
        assert min(layer.alpha for layer in layers) < 2.0  # what the old rule called over-trained
        assert not any("over-trained" in layer.warnings for layer in layers), [(layer.phase, layer.alpha) for layer in layers]
