"""Benaych-Georges–Nadakuditi spikes: closed forms (docs/formulas.md#spikes) and planted signals."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from netspectra.rmt import spikes
from netspectra.rmt.marchenko_pastur import mp_edges, sigma2_median

N, M = 1000, 500
BETA = M / N


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small dense problems run faster on one BLAS thread (and a busy 2-core machine thrashes with more)."""
    with threadpool_limits(1):
        yield


def _top_triplets(w: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k eigenvalues of W^T W / N with left (N-dim) and right (M-dim) singular vectors, and all eigenvalues."""
    evals, vecs = np.linalg.eigh(w.T @ w / w.shape[0])
    right = vecs[:, ::-1][:, :k]
    left = w @ right
    left /= np.linalg.norm(left, axis=0)
    return evals, left, right


def _planted(rng: np.random.Generator, strengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """W = sum x_i sqrt(N) u_i v_i^T + E with E iid N(0, 1) and orthonormal u, v."""
    u = np.linalg.qr(rng.standard_normal((N, strengths.size)))[0]
    v = np.linalg.qr(rng.standard_normal((M, strengths.size)))[0]
    return (u * (strengths * np.sqrt(N))) @ v.T + rng.standard_normal((N, M)), u, v


def test_closed_forms_test_case_2():
    assert spikes.detection_threshold(BETA) == pytest.approx(0.840896, abs=1e-6)
    assert spikes.outlier_eigenvalue(2.0, BETA) == pytest.approx(5.625)
    assert spikes.cos2_left(2.0, BETA) == pytest.approx(0.775)
    assert spikes.cos2_right(2.0, BETA) == pytest.approx(0.861111, abs=1e-6)
    assert spikes.outlier_eigenvalue(2.0, BETA, sigma2=3.0) == pytest.approx(3 * 5.625)


def test_below_threshold_sticks_to_edge_and_has_no_overlap():
    lplus = mp_edges(BETA)[1]
    x = np.array([0.3, 0.84, spikes.detection_threshold(BETA)])
    assert spikes.outlier_eigenvalue(x, BETA) == pytest.approx([lplus] * 3)
    assert np.all(spikes.cos2_left(x, BETA) == 0.0)
    assert np.all(spikes.cos2_right(x, BETA) == 0.0)
    # continuity at the threshold
    just_above = spikes.detection_threshold(BETA) * (1 + 1e-9)
    assert spikes.outlier_eigenvalue(just_above, BETA) == pytest.approx(lplus, rel=1e-7)


def test_inverse_map_round_trip():
    x = np.array([0.9, 1.2, 2.0, 5.0, 30.0])
    for sigma2 in (1.0, 0.37):
        lam = spikes.outlier_eigenvalue(x, BETA, sigma2)
        assert spikes.strength_from_eigenvalue(lam, BETA, sigma2) == pytest.approx(x, rel=1e-9)
    assert np.isnan(spikes.strength_from_eigenvalue(mp_edges(BETA)[1] * 0.99, BETA))


def test_rank_one_x2_matches_test_case_2():
    """lambda_1 -> 5.625, cos^2 -> 0.775 (left) and 0.861 (right); means over 10 draws."""
    lam1, left, right = [], [], []
    for seed in range(10):
        rng = np.random.default_rng(100 + seed)
        w, u, v = _planted(rng, np.array([2.0]))
        evals, lv, rv = _top_triplets(w, 1)
        lam1.append(evals[-1])
        left.append((lv[:, 0] @ u[:, 0]) ** 2)
        right.append((rv[:, 0] @ v[:, 0]) ** 2)
    # per-draw sd of lambda_1 is ~0.09, so 0.08 is ~3 standard errors of the 10-draw mean
    assert np.mean(lam1) == pytest.approx(5.625, abs=0.08)
    assert np.mean(left) == pytest.approx(0.775, abs=0.02)
    assert np.mean(right) == pytest.approx(0.8611, abs=0.02)


def test_planted_rank_five_counts_strengths_and_overlaps():
    """Strengths 3, 2, 1.5 (visible) and 0.5, 0.3 (below x_c = 0.84) over 6 seeds, sigma^2 estimated."""
    visible = np.array([3.0, 2.0, 1.5])
    strengths = np.concatenate([visible, [0.5, 0.3]])
    worst_overlap, worst_strength = 0.0, 0.0
    for seed in range(6):
        rng = np.random.default_rng(seed)
        w, u, v = _planted(rng, strengths)
        evals, lv, rv = _top_triplets(w, 3)
        sigma2 = sigma2_median(evals, BETA)
        for level in (0.95, 0.99):
            assert spikes.spike_estimates(evals, N, M, sigma2, level).num_spikes == 3
        est = spikes.spike_estimates(evals, N, M, sigma2, 0.99)
        measured_left = np.einsum("ij,ij->j", lv, u[:, :3]) ** 2
        measured_right = np.einsum("ij,ij->j", rv, v[:, :3]) ** 2
        worst_overlap = max(
            worst_overlap,
            np.abs(est.cos2_left - measured_left).max(),
            np.abs(est.cos2_right - measured_right).max(),
        )
        worst_strength = max(worst_strength, np.abs(est.strengths - visible).max())
        assert np.all(np.diff(est.eigenvalues) < 0)
    assert worst_overlap < 0.05  # measured 0.035
    assert worst_strength < 0.15  # measured 0.076


def test_pure_noise_has_no_spikes_at_99():
    hits = 0
    for seed in range(5):
        rng = np.random.default_rng(500 + seed)
        w = rng.standard_normal((N, M))
        evals = np.linalg.eigvalsh(w.T @ w / N)
        hits += spikes.spike_estimates(evals, N, M, sigma2_median(evals, BETA), 0.99).num_spikes
    assert hits == 0
