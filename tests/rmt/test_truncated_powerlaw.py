"""The truncated power-law tail fit (WeightWatcher's ``fit='TPL'``): its CDF against the incomplete gamma function,
its parameters on samples drawn from it, and the ``powerlaw`` package's own ``xmin_distribution='truncated_power_law'``
fit (the call WeightWatcher makes; WeightWatcher 0.7.7 itself refuses ``fit='TPL'`` with its default package and
fails with ``pl_package='powerlaw'`` 2.0: docs/from-weightwatcher.md)."""

import warnings

import numpy as np
import pytest

from netspectra.rmt.tail_tests import truncated_power_law_cdf, truncated_power_law_loglik, xmin_peak_range
from netspectra.rmt.truncated_powerlaw import fit_truncated_power_law


@pytest.mark.parametrize("alpha, rate", [(2.5, 0.1), (0.5, 0.3), (-1.0, 2.0), (3.0, 1e-4)])
def test_cdf_is_the_regularised_incomplete_gamma(alpha, rate):
    mpmath = pytest.importorskip("mpmath")
    x = np.array([1.0, 1.5, 2.0, 5.0, 10.0, 50.0])
    exact = [1 - float(mpmath.gammainc(1 - alpha, rate * v) / mpmath.gammainc(1 - alpha, rate)) for v in x]
    np.testing.assert_allclose(truncated_power_law_cdf(x, 1.0, alpha, rate), exact, rtol=0, atol=1e-14)


def test_cdf_without_cutoff_is_the_power_law():
    x = np.array([1.0, 2.0, 10.0])
    np.testing.assert_allclose(truncated_power_law_cdf(x, 1.0, 2.5, 0.0), 1 - x**-1.5, rtol=1e-15)


def tpl_sample(alpha: float, rate: float, n: int, seed: int) -> np.ndarray:
    """x >= 1 from x^-alpha e^(-rate x) by rejection from the Pareto(alpha) law."""
    rng = np.random.default_rng(seed)
    out = np.empty(0)
    while out.size < n:
        x = (1.0 - rng.random(4 * n)) ** (-1.0 / (alpha - 1.0))
        out = np.concatenate([out, x[rng.random(x.size) < np.exp(-rate * (x - 1.0))]])
    return out[:n]


def test_recovers_the_parameters_of_a_truncated_power_law():
    fit = fit_truncated_power_law(tpl_sample(1.8, 0.05, 5000, 0), xmin_range=(None, 1.05))
    assert fit.alpha == pytest.approx(1.8, abs=0.05)
    assert fit.rate == pytest.approx(0.05, rel=0.15)
    assert fit.xmin < 1.05 and fit.ks_distance < 0.02


def test_a_pure_power_law_has_no_cutoff():
    x = (1.0 - np.random.default_rng(1).random(3000)) ** (-1.0 / 1.5)
    fit = fit_truncated_power_law(x, xmin_range=(None, 1.01))
    assert fit.rate == pytest.approx(0.0, abs=1e-3) and fit.alpha == pytest.approx(2.5, abs=0.1)


def test_e_tpl_window_is_the_peak_window():
    x = tpl_sample(2.0, 0.1, 500, 2)
    lo, hi = xmin_peak_range(x)
    fit = fit_truncated_power_law(x, xmin_range=(lo, hi))
    assert lo <= fit.xmin < hi


def student_t_spectrum(seed: int) -> np.ndarray:
    w = np.random.default_rng(seed).standard_t(4, (160, 80))
    return np.linalg.eigvalsh(w.T @ w)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 2])
def test_against_the_powerlaw_package(seed):
    """Where Nelder-Mead converges (seed 2) the same xmin, alpha and Lambda to its tolerance; everywhere a KS
    distance at least as small, and at its xmin a likelihood at least as large (ours is the exact maximum)."""
    powerlaw = pytest.importorskip("powerlaw")
    evals = student_t_spectrum(seed)
    ours = fit_truncated_power_law(evals, min_tail=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = powerlaw.Fit(evals, xmin_distribution="truncated_power_law", parameter_ranges={"alpha": [-50, 50]}, verbose=0)
        theirs = fit.truncated_power_law
    assert ours.ks_distance <= fit.D + 1e-4
    tail = np.sort(evals[evals >= fit.xmin])
    alpha_pl = 1.0 + tail.size / np.sum(np.log(tail / fit.xmin))
    _, loglik = truncated_power_law_loglik(tail, fit.xmin, alpha_pl)
    assert loglik.sum() >= theirs.loglikelihood - 1e-9
    if seed == 2:
        assert ours.xmin == fit.xmin
        assert ours.alpha == pytest.approx(theirs.alpha, rel=1e-3)
        assert ours.rate == pytest.approx(theirs.Lambda, rel=1e-3)
        assert ours.ks_distance == pytest.approx(fit.D, abs=1e-4)
