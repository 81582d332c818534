"""Known answers for the RMT thresholds, shrinkers and overlap predictions (docs/formulas.md#test-cases)."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from netspectra.rmt.marchenko_pastur import mp_edges
from netspectra.rmt.thresholds import (
    Threshold,
    bema0_threshold,
    bgn_cos2_left,
    bgn_cos2_right,
    bgn_signal_strength,
    gavish_donoho_threshold,
    gd_lambda_star,
    gd_omega,
    mp_edge_threshold,
    rmt_threshold,
    shrink,
    shrink_frobenius,
    shrink_nuclear,
    shrink_operator,
    sigma_from_median,
)

N, M = 1000, 500
BETA = M / N
Y_AT_X2 = np.sqrt((1 + 4) * (BETA + 4)) / 2  # y(x = 2) = 2.3717082 at beta = 0.5


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small dense problems run faster on one BLAS thread (and a busy 2-core machine thrashes with more)."""
    with threadpool_limits(1):
        yield


def noise_singular_values(rng: np.random.Generator, n: int = N, m: int = M, sigma: float = 1.0) -> np.ndarray:
    """Singular values of an n x m matrix of iid N(0, sigma^2) entries, descending (via the Gram matrix)."""
    w = rng.standard_normal((n, m)) * sigma
    return np.sqrt(np.clip(np.linalg.eigvalsh(w.T @ w), 0, None))[::-1]


# ------------------------------------------------------------------------------------------ Gavish–Donoho


@pytest.mark.parametrize(("beta", "expected"), [(0.5, 1.978599), (1.0, 4 / np.sqrt(3))])
def test_lambda_star_known_values(beta, expected):
    assert gd_lambda_star(beta) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(("beta", "expected"), [(0.5, 2.171185), (1.0, 2.858362)])
def test_omega_is_exact_not_the_cubic_approximation(beta, expected):
    assert gd_omega(beta) == pytest.approx(expected, abs=5e-6)
    cubic = 0.56 * beta**3 - 0.95 * beta**2 + 1.82 * beta + 1.43
    assert abs(cubic - expected) > 1e-3  # the approximation would fail the line above


def test_gavish_donoho_known_sigma_threshold():
    t = gavish_donoho_threshold(np.ones(M), N, M, sigma=1.0)
    assert t.tau == pytest.approx(62.5688, abs=1e-4)
    assert t.tau**2 / N == pytest.approx(3.91485, abs=1e-5)
    assert t.sigma_known and t.method == "gavish-donoho"


def test_gavish_donoho_unknown_sigma_is_omega_times_median():
    s = noise_singular_values(np.random.default_rng(1))
    t = gavish_donoho_threshold(s, N, M)
    assert t.tau == pytest.approx(gd_omega(BETA) * np.median(s), rel=1e-12)
    assert t.sigma == pytest.approx(1.0, abs=0.01)
    assert t.tau == pytest.approx(62.5688, rel=0.01)
    assert not t.sigma_known


def test_sigma_from_median_is_scale_equivariant_and_ignores_a_few_spikes():
    s = noise_singular_values(np.random.default_rng(2), sigma=0.3)
    spiked = s.copy()
    spiked[:5] *= 50.0
    assert sigma_from_median(s, N, M) == pytest.approx(0.3, rel=0.01)
    assert sigma_from_median(spiked, N, M) == pytest.approx(sigma_from_median(s, N, M), rel=1e-3)


# ----------------------------------------------------------------------------------------------- shrinkers


def test_shrinkers_known_values_at_x_equal_2():
    assert Y_AT_X2 == pytest.approx(2.3717082, abs=1e-7)
    assert shrink_frobenius(Y_AT_X2, BETA) == pytest.approx(1.633843, abs=1e-6)
    assert shrink_operator(Y_AT_X2, BETA) == pytest.approx(2.0, abs=1e-9)
    assert shrink_nuclear(Y_AT_X2, BETA) == pytest.approx(1.280290, abs=1e-6)


def test_frobenius_shrinker_takes_the_root_of_the_numerator_only():
    # The public-port pitfall sqrt(A / y) gives 2.5162 here instead of sqrt(A) / y = 1.6338.
    a = (Y_AT_X2**2 - BETA - 1) ** 2 - 4 * BETA
    assert shrink_frobenius(Y_AT_X2, BETA) == pytest.approx(np.sqrt(a) / Y_AT_X2)
    assert abs(shrink_frobenius(Y_AT_X2, BETA) - np.sqrt(a / Y_AT_X2)) > 0.5


@pytest.mark.parametrize("kind", ["frobenius", "operator", "nuclear"])
def test_shrinkers_vanish_at_and_below_the_bulk_edge(kind):
    y = np.array([0.0, 0.5, 1.0, 1.5, 1.7071067, 1 + np.sqrt(BETA)])
    assert np.all(shrink(kind, y, BETA) == 0.0)
    assert shrink(kind, 1 + np.sqrt(BETA) + 1e-3, BETA) >= 0.0


@pytest.mark.parametrize("beta", [0.1, 0.5, 1.0])
def test_shrinkers_are_ordered_monotone_and_tend_to_identity(beta):
    y = np.linspace(1 + np.sqrt(beta) + 1e-6, 30, 400)
    fro, op, nuc = shrink("frobenius", y, beta), shrink("operator", y, beta), shrink("nuclear", y, beta)
    assert np.all(nuc <= fro + 1e-12) and np.all(fro <= op + 1e-12) and np.all(op < y)
    assert np.all(np.diff(fro) > 0) and np.all(np.diff(op) > 0) and np.all(np.diff(nuc) >= 0)
    assert fro[-1] / y[-1] == pytest.approx(1.0, abs=0.01)


def test_unknown_shrinker_is_refused():
    with pytest.raises(ValueError, match="unknown shrinker"):
        shrink("soft", 2.0, 0.5)


# ------------------------------------------------------------------------------------- BGN signal + noise


def test_bgn_overlaps_known_values():
    assert bgn_cos2_left(2.0, BETA) == pytest.approx(0.775)
    assert bgn_cos2_right(2.0, BETA) == pytest.approx(0.861111, abs=1e-6)
    x_c = BETA**0.25
    assert x_c == pytest.approx(0.840896, abs=1e-6)
    assert bgn_cos2_left(x_c * 0.999, BETA) == 0.0 and bgn_cos2_right(x_c * 0.999, BETA) == 0.0
    assert bgn_cos2_left(x_c * 1.01, BETA) > 0.0


@pytest.mark.parametrize("beta", [0.1, 0.5, 1.0])
def test_signal_strength_inverts_the_outlier_location(beta):
    x = np.linspace(beta**0.25 + 0.05, 10, 50)
    y = np.sqrt((1 + x**2) * (beta + x**2)) / x
    assert np.allclose(bgn_signal_strength(y, beta), x, rtol=1e-9)
    assert bgn_signal_strength(Y_AT_X2, BETA) == pytest.approx(2.0)
    assert np.all(bgn_signal_strength([0.5, 1 + np.sqrt(beta)], beta) == 0.0)


def test_overlaps_tend_to_one_for_infinite_signal():
    assert bgn_cos2_left(np.inf, BETA) == 1.0 and bgn_cos2_right(np.inf, BETA) == 1.0


# -------------------------------------------------------------------------------------------- bulk edges


def test_bema0_threshold_known_value():
    t = bema0_threshold(np.ones(M), N, M, sigma=1.0)
    assert t.tau**2 / N == pytest.approx(2.92452, abs=1e-5)


def test_mp_edge_threshold_uses_the_finite_n_tracy_widom_edge():
    t = mp_edge_threshold(np.ones(M), N, M, sigma=1.0)
    lam = t.tau**2 / N
    # Leading order l+ + q95 s_N = 2.93664; Johnstone's finite-N centring/scale with N-1/2, M-1/2 is ~2.9346.
    assert lam == pytest.approx(2.93664, abs=3e-3)
    assert mp_edges(BETA)[1] < lam < 2.95


@pytest.mark.slow
def test_bema0_and_mp_edge_on_pure_noise_as_rates():
    """BEMA0 over 100 pure-noise draws of 1000 x 500 (docs/formulas.md#test-cases): k_hat = 0 in 75-97% of draws, never above 2,
    sigma2 within ~1%; the MP edge at the 95% Tracy–Widom level is crossed in about 5-8% of draws."""
    rng = np.random.default_rng(5)
    bema, edge, sigma2 = [], [], []
    for _ in range(100):
        s = noise_singular_values(rng)
        t = bema0_threshold(s, N, M)
        bema.append(t.count(s))
        sigma2.append(t.sigma**2)
        edge.append(mp_edge_threshold(s, N, M).count(s))
    bema, edge, sigma2 = np.array(bema), np.array(edge), np.array(sigma2)
    assert 0.75 <= np.mean(bema == 0) <= 0.97
    assert bema.max() <= 2
    assert np.max(np.abs(sigma2 - 1)) < 0.012 and abs(np.mean(sigma2) - 1) < 0.005
    assert 0.85 <= np.mean(edge == 0) <= 0.99


def test_thresholds_keep_a_strong_spike_and_gavish_donoho_drops_a_weak_one():
    rng = np.random.default_rng(7)
    w = rng.standard_normal((N, M))
    u, v = rng.standard_normal(N), rng.standard_normal(M)
    u, v = u / np.linalg.norm(u), v / np.linalg.norm(v)
    strong = np.linalg.svd(w + 2.0 * np.sqrt(N) * np.outer(u, v), compute_uv=False)
    # x = 1.2 is above detection (0.84) but below the Gavish–Donoho keep level x* = 1.479 at beta = 0.5.
    weak = np.linalg.svd(w + 1.2 * np.sqrt(N) * np.outer(u, v), compute_uv=False)
    for method in ("mp-edge", "gavish-donoho", "bema"):
        assert rmt_threshold(method, strong, N, M).count(strong) == 1
    assert rmt_threshold("gavish-donoho", weak, N, M).count(weak) == 0
    assert rmt_threshold("mp-edge", weak, N, M).count(weak) == 1
    assert rmt_threshold("bema", weak, N, M).count(weak) == 1


def test_threshold_dispatch_and_validation():
    assert isinstance(rmt_threshold("bema", np.ones(M), N, M, sigma=1.0), Threshold)
    assert rmt_threshold("gavish-donoho", np.ones(M), N, M, sigma=1.0).to_dict()["method"] == "gavish-donoho"
    with pytest.raises(ValueError, match="unknown threshold method"):
        rmt_threshold("otsu", np.ones(M), N, M)
    with pytest.raises(ValueError, match="N >= M"):
        gavish_donoho_threshold(np.ones(M), M, N)
    with pytest.raises(ValueError, match="tail probability"):
        bema0_threshold(np.ones(M), N, M, sigma=1.0, b=0.2)
