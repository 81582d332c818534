"""HTMP density (docs/formulas.md#htmp and its test case), its beta-Laguerre origin, and the (kappa, c) fit."""

import numpy as np
import pytest
from scipy import integrate
from scipy.linalg import eigvalsh_tridiagonal
from threadpoolctl import threadpool_limits

from netspectra.rmt import htmp
from netspectra.rmt.marchenko_pastur import mp_pdf

mpmath = pytest.importorskip("mpmath")


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small dense problems run faster on one BLAS thread (and a busy 2-core machine thrashes with more)."""
    with threadpool_limits(1):
        yield


def _closed_form_logpdf(s: float, gamma: float, kappa: float) -> float:
    """The formula of docs/formulas.md#htmp (Hodgkinson, Wang & Mahoney 2025) evaluated pointwise with mpmath.hyperu (the oracle)."""
    a, b = kappa / 2 * (1 / gamma - 1) - 1, kappa / 2
    y = b / gamma * s
    value = (
        mpmath.log(b / gamma)
        + a * mpmath.log(y)
        - y
        - mpmath.loggamma(b + 1)
        - mpmath.loggamma(a + b + 1)
        - 2 * mpmath.log(abs(mpmath.hyperu(b, -a, -y)))
    )
    return float(value)


def _moment(density: htmp.HTMPDensity, power: int) -> float:
    """int s^power p(s) ds by quadrature in log s over the table and its power-law extension."""
    lo, hi = density.log_s[0] - 40.0, density.log_s[-1] + 2.0
    integrand = lambda t: np.exp(density.logpdf(np.exp(t)) + (power + 1) * t)  # noqa: E731
    return integrate.quad(integrand, lo, hi, limit=400, points=[np.log(0.5), 0.0, np.log(2.0)])[0]


def _beta_laguerre(rng: np.random.Generator, m: int, gamma: float, kappa: float) -> np.ndarray:
    """s = gamma lambda / kappa for the beta-Laguerre ensemble at beta = kappa/m, n = m/gamma.

    Dumitriu–Edelman bidiagonal model (J. Math. Phys. 43, 2002): diagonal chi_{beta(n-i)}, sub-diagonal
    chi_{beta(m-1-i)}; the eigenvalues of B^T B (tridiagonal) have mean beta n = kappa/gamma.
    """
    beta, n = kappa / m, m / gamma
    diag = np.sqrt(rng.chisquare(beta * (n - np.arange(m))))
    sub = np.sqrt(rng.chisquare(beta * (m - 1 - np.arange(m - 1))))
    main = diag**2
    main[:-1] += sub**2
    return gamma * eigvalsh_tridiagonal(main, sub * diag[1:]) / kappa


@pytest.mark.parametrize("gamma, kappa", [(0.3, 4.0), (0.5, 6.0), (0.5, 50.0), (0.1, 1.0), (0.9, 5.0)])
def test_table_matches_the_closed_form(gamma, kappa):
    """ODE table vs mpmath.hyperu at points inside the bulk and the tails (measured error <= 7e-7)."""
    density = htmp.htmp_density(gamma, kappa)
    for s in (0.1, 0.4, 0.77, 1.0, 1.6, 2.5):
        exact = _closed_form_logpdf(s, gamma, kappa)
        if exact > -30:
            assert density.logpdf(s) == pytest.approx(exact, abs=1e-5)


@pytest.mark.parametrize("gamma, kappa", [(0.1, 8.0), (0.8, 16.0), (0.02, 16.0), (0.5, 40.0)])
def test_wkb_start_matches_mpmath(gamma, kappa):
    """Third-order WKB value of rho = y w'/w at the bulk centre, used when b >= 4 and sqrt(D) >= 15 (<= 5e-4)."""
    a, b = kappa / 2 * (1 / gamma - 1) - 1, kappa / 2
    y0 = a + 1 + 2 * b
    exact = complex(y0 * b * mpmath.hyperu(b + 1, 1 - a, -y0) / mpmath.hyperu(b, -a, -y0))
    assert abs(htmp._wkb_log_derivative(np.log(y0), a, b) - exact) / abs(exact) < 5e-4  # measured <= 2.3e-4


@pytest.mark.parametrize("gamma", [0.3, 0.5])
@pytest.mark.parametrize("kappa", [4.0, 6.0, 50.0])
def test_mass_one_mean_one_and_inverse_moments(gamma, kappa):
    density = htmp.htmp_density(gamma, kappa)
    assert density.mass == pytest.approx(1.0, abs=1e-6)
    assert _moment(density, 0) == pytest.approx(1.0, abs=1e-6)
    assert _moment(density, 1) == pytest.approx(1.0, abs=1e-6)
    # E[1/s] = kappa / ((1 - gamma) kappa - 2 gamma)
    assert _moment(density, -1) == pytest.approx(kappa / ((1 - gamma) * kappa - 2 * gamma), rel=1e-6)
    # E[s^2] = 1 + gamma + 2 gamma / kappa (beta-Laguerre tridiagonal model, second moment; derived for this suite)
    assert _moment(density, 2) == pytest.approx(1 + gamma + 2 * gamma / kappa, rel=1e-6)


def test_test_case_7_exponents():
    assert htmp.htmp_alpha(4.0, 0.5) == 3.0 and htmp.htmp_alpha(10.0, 0.5) == 6.0
    assert _moment(htmp.htmp_density(0.5, 10.0), -1) == pytest.approx(2.5, rel=1e-6)
    assert htmp.kappa_from_alpha(htmp.htmp_alpha(7.3, 0.2), 0.2) == pytest.approx(7.3)
    density = htmp.htmp_density(0.5, 4.0)
    # p(s) ~ s^a at 0 and the eigenvalue model lambda = c/s has p(l) ~ l^-alpha
    small = np.array([1e-9, 1e-8])
    assert np.diff(density.logpdf(small))[0] / np.log(10) == pytest.approx(density.a, abs=1e-4)
    c, large = 2.0, np.array([1e4, 1e5])
    log_p_lambda = density.logpdf(c / large) + np.log(c) - 2 * np.log(large)
    assert np.diff(log_p_lambda)[0] / np.log(10) == pytest.approx(-3.0, abs=0.01)


def test_mp_limit_with_rate_one_over_kappa():
    s = np.array([0.3, 0.6, 1.0, 1.5, 2.0])
    error = {k: np.abs(htmp.htmp_density(0.5, k).pdf(s) / mp_pdf(s, 0.5) - 1).max() for k in (100.0, 400.0)}
    assert error[400.0] < 0.005  # measured 0.0028
    assert 3.0 < error[100.0] / error[400.0] < 5.0  # O(1/kappa): measured 3.96


def test_density_is_the_high_temperature_beta_laguerre_law():
    """KS of 2 x 2000 beta-Laguerre eigenvalues at beta = kappa/M against the table: kappa = 4 fits
    (measured 0.009), kappa = 3 and 6 do not (0.028, 0.024)."""
    rng = np.random.default_rng(0)
    s = np.sort(np.concatenate([_beta_laguerre(rng, 2000, 0.5, 4.0) for _ in range(2)]))

    def ks(kappa: float) -> float:
        f = htmp.htmp_density(0.5, kappa).cdf_at(s)
        i = np.arange(1, s.size + 1)
        return max(np.max(i / s.size - f), np.max(f - (i - 1) / s.size))

    assert ks(4.0) < 0.015
    assert ks(3.0) > 0.02 and ks(6.0) > 0.02


def test_sampling_inverts_the_cdf():
    density = htmp.htmp_density(0.5, 4.0)
    s = np.array([0.05, 0.5, 1.0, 2.0, 5.0])
    assert density.ppf(density.cdf_at(s)) == pytest.approx(s, rel=1e-4)
    draws = density.sample(np.random.default_rng(1), 200_000)
    assert draws.mean() == pytest.approx(1.0, abs=0.01)  # sd of the mean 0.002
    assert np.mean(draws**2) == pytest.approx(1.75, abs=0.03)


@pytest.mark.parametrize("gamma, kappa", [(0.5, 4.0), (0.25, 2.0), (0.5, 10.0)])
def test_fit_recovers_kappa_from_samples(gamma, kappa):
    """1000 iid eigenvalues lambda = 2/s, s ~ HTMP: kappa within 20% and c within 5% in each of 3 seeds.

    Measured kappa_hat: 3.98-4.55 (kappa 4), 2.02-2.20 (kappa 2), 9.6-11.8 (kappa 10).
    """
    density = htmp.htmp_density(gamma, kappa)
    for seed in range(3):
        lam = 2.0 / density.sample(np.random.default_rng(seed), 1000)
        fit = htmp.fit_htmp(lam, 1000, round(1000 * gamma))
        assert not fit.prefers_mp
        assert fit.kappa == pytest.approx(kappa, rel=0.2)
        assert fit.scale == pytest.approx(2.0, rel=0.05)
        assert fit.alpha_htmp == pytest.approx(htmp.htmp_alpha(fit.kappa, gamma))
        assert fit.ks_distance < 0.06


def test_wishart_eigenvalues_prefer_mp():
    """The eigenvalue model's kappa -> inf limit is inverse-MP, so MP must win by likelihood (by ~120 nats)."""
    for seed in range(3):
        rng = np.random.default_rng(seed)
        w = rng.standard_normal((1000, 500))
        fit = htmp.fit_htmp(np.linalg.eigvalsh(w.T @ w / 1000), 1000, 500)
        assert fit.prefers_mp and fit.kappa == np.inf and fit.alpha_htmp == np.inf
        assert fit.loglik_mp - fit.loglik_htmp > 50


def test_restrictions():
    with pytest.raises(ValueError, match="gamma"):
        htmp.fit_htmp(np.linspace(0.1, 3, 100), 100, 100)
    with pytest.raises(ValueError, match="gamma"):
        htmp.htmp_density(1.0, 4.0)
    with pytest.raises(ValueError, match="kappa"):
        htmp.htmp_density(0.5, 0.0)
    with pytest.raises(ValueError, match="at least 10"):
        htmp.fit_htmp(np.ones(5), 20, 10)


def test_initial_value_ignores_the_shared_mpmath_precision():
    """mpmath's global context is shared by every thread, and its hypergeometric functions raise and restore
    its precision: two analysis threads tabulating at once ratcheted it from 53 to 403 bits (70x slower; a
    CI run never finished).  Each thread now has its own context, so what another thread does to the
    global precision cannot change a table."""
    import threading

    import mpmath

    y0, a, b = 5.0, 1.2, 1.5
    expected = htmp._initial_log_derivative(y0, a, b)
    saved = mpmath.mp.prec
    mpmath.mp.prec = 12  # another thread mid-computation, at low precision
    try:
        assert htmp._initial_log_derivative(y0, a, b) == expected
    finally:
        mpmath.mp.prec = saved
    values = []
    threads = [threading.Thread(target=lambda: values.append(htmp._initial_log_derivative(y0, a, b))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert values == [expected] * 4 and mpmath.mp.prec == saved
