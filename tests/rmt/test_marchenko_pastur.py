"""Known answers for the Marchenko-Pastur module (docs/formulas.md#test-cases)."""

import numpy as np
import pytest
from scipy import integrate

from netspectra.rmt import marchenko_pastur as mp


def test_edges_closed_form():
    lo, hi = mp.mp_edges(0.5)
    assert hi == pytest.approx(2.914214, abs=1e-6)
    assert lo == pytest.approx(0.085786, abs=1e-6)
    assert mp.mp_edges(0.5, 2.0)[1] == pytest.approx(2 * 2.914214, abs=1e-5)


@pytest.mark.parametrize("beta", [0.1, 0.5, 1.0])
def test_density_mass_mean_variance(beta):
    lo, hi = mp.mp_edges(beta)
    pdf = lambda x: mp.mp_pdf(np.array([x]), beta)[0]  # noqa: E731
    mass = integrate.quad(pdf, lo, hi, limit=200)[0]
    mean = integrate.quad(lambda x: x * pdf(x), lo, hi, limit=200)[0]
    second = integrate.quad(lambda x: x * x * pdf(x), lo, hi, limit=200)[0]
    assert mass == pytest.approx(1.0, abs=1e-6)
    assert mean == pytest.approx(1.0, abs=1e-6)
    assert second - mean**2 == pytest.approx(beta, abs=1e-5)


@pytest.mark.parametrize(
    "beta, median",
    [(0.1, 0.966565), (0.25, 0.916004), (0.5, 0.830466), (0.75, 0.742948), (1.0, 0.652776)],
)
def test_median_table(beta, median):
    assert mp.mp_median(beta) == pytest.approx(median, abs=2e-6)


def test_cdf_matches_quadrature_and_quantile_inverts():
    beta = 0.3
    lo, hi = mp.mp_edges(beta)
    for x in np.linspace(lo + 0.01, hi - 0.01, 7):
        exact = integrate.quad(lambda t: mp.mp_pdf(np.array([t]), beta)[0], lo, x, limit=200)[0]
        assert mp.mp_cdf(x, beta) == pytest.approx(exact, abs=1e-7)
    p = np.linspace(0.01, 0.99, 9)
    assert mp.mp_cdf(mp.mp_quantile(p, beta), beta) == pytest.approx(p, abs=1e-7)


def test_tracy_widom_edge_1000x500():
    # Johnstone centring/scale with Ma's N-1/2, M-1/2: centre 2.91216, scale 0.022897 (leading order 0.022901).
    tau = mp.tracy_widom_edge(1.0, 1000, 500, 0.95)
    assert tau == pytest.approx(2.91216 + 0.9793 * 0.022897, abs=2e-5)
    assert mp.tracy_widom_edge(1.0, 500, 1000, 0.95) == tau  # orientation does not matter
    with pytest.raises(ValueError):
        mp.tracy_widom_edge(1.0, 1000, 500, 0.5)


def _gaussian_evals(rng, n=1000, m=500, sigma=1.0):
    w = sigma * rng.standard_normal((n, m))
    return np.linalg.eigvalsh(w.T @ w / n)


def test_sigma2_estimators_recover_noise_level():
    rng = np.random.default_rng(0)
    evals = _gaussian_evals(rng, sigma=np.sqrt(2.0))
    assert mp.sigma2_median(evals, 0.5) == pytest.approx(2.0, rel=0.01)
    assert mp.sigma2_quantile_regression(evals, 0.5) == pytest.approx(2.0, rel=0.01)
    assert mp.sigma2_trace(evals) == pytest.approx(2.0, rel=0.01)


def test_median_estimator_robust_to_spikes_where_trace_is_not():
    rng = np.random.default_rng(1)
    n, m = 1000, 500
    w = rng.standard_normal((n, m))
    u = np.linalg.qr(rng.standard_normal((n, 5)))[0]
    v = np.linalg.qr(rng.standard_normal((m, 5)))[0]
    w += u @ np.diag([300.0, 250, 200, 150, 100]) @ v.T
    evals = np.linalg.eigvalsh(w.T @ w / n)
    assert mp.sigma2_median(evals, 0.5) == pytest.approx(1.0, rel=0.02)
    assert mp.sigma2_trace(evals) > 1.3  # each spike adds theta^2/(N M)


def test_tw_edge_false_spike_rate_on_pure_noise():
    """Spike count 0 at the 99% TW edge (sigma known) in at least 94% of 200 draws of 400 x 200 (docs/formulas.md#test-cases)."""
    rng = np.random.default_rng(2)
    tau = mp.tracy_widom_edge(1.0, 400, 200, 0.99)
    exceed = sum(_gaussian_evals(rng, 400, 200)[-1] > tau for _ in range(200))
    assert exceed <= 12  # nominal 1%; 6% allows the finite-N excess and sampling error
