"""How good is a power-law tail fit: likelihood-ratio tests, bootstrap goodness of fit, xmin_peak.

Clauset, Shalizi & Newman, "Power-law distributions in empirical data", SIAM Rev. 51(4), 2009 (CSN):

* Vuong likelihood-ratio tests (CSN §5) of the power law on the tail x >= xmin against alternatives
  fitted by maximum likelihood on the same tail: an exponential and a log-normal, both truncated at
  xmin (non-nested: p = erfc(|R| / sqrt(2 n var))), and a truncated power law x^-alpha e^(-lambda x),
  which nests the power law at lambda = 0 (p from chi^2 with 1 degree of freedom on 2|R|).  R is the
  summed log-likelihood difference (power law minus alternative; R > 0 favours the power law), var
  the population variance of the pointwise differences, and the reported ratio is R / sqrt(n var),
  the conventions of the ``powerlaw`` package (Alstott, Bullmore & Plenz, PLoS ONE 9(1), 2014).
* The semi-parametric bootstrap p-value of the KS distance (CSN §4.1).
* WeightWatcher's ``fix_fingers='xmin_peak'`` (Martin & Mahoney; CalculatedContent/WeightWatcher):
  restrict xmin to [0.95 p, 1.5 p] around the peak p of the log-histogram of the eigenvalues, both
  bounds in linear units (WeightWatcher passes the lower one as log10(0.95 p), a unit mix-up).

Values are eigenvalues of W^T W / N (W is N x M, N >= M); every test here is scale invariant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special, stats

from netspectra.rmt.powerlaw import PowerLawFit, fit_power_law

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
_GAUSS_NODES, _GAUSS_WEIGHTS = np.polynomial.legendre.leggauss(12)
#: Objective value for parameters with no normalisable density (b = 0 with c <= 0): finite, so that
#: L-BFGS-B's line search backs off instead of failing.
_IMPROPER = 1e300
#: An alternative whose maximised log-likelihood beats the power law's by less than this (nats, in
#: total) is the power law itself, reached at the boundary of its family: Vuong's statistic R / sqrt(n var)
#: is 0/0 there and would turn optimizer round-off into "significance".
_TIE = 1e-6
#: L-BFGS-B tolerances for the alternatives' likelihoods: near a power law they are flat ridges.
_TIGHT = {"ftol": 1e-15, "gtol": 1e-10, "maxiter": 2000}


@dataclass(frozen=True)
class LikelihoodRatio:
    """Vuong test of the power law against one alternative on the same tail.

    Attributes
    ----------
    ratio : float
        Normalised log-likelihood ratio R / sqrt(n var); > 0 favours the power law.
    loglik_ratio : float
        R = sum_i (log p_PL(x_i) - log p_alt(x_i)).
    p_value : float
        Significance of the sign of R.
    nested : bool
        Whether the power law is a special case of the alternative (chi^2 test) or not (normal test).
    parameters : tuple of float
        Maximum-likelihood parameters of the alternative: (lambda,) for the exponential, (mu, sigma)
        for the log-normal, (alpha, lambda) for the truncated power law.
    """

    ratio: float
    loglik_ratio: float
    p_value: float
    nested: bool
    parameters: tuple[float, ...]


@dataclass(frozen=True)
class TailComparison:
    """The power law on x >= xmin against three alternatives (CSN 2009, Table 6.1)."""

    exponential: LikelihoodRatio
    lognormal: LikelihoodRatio
    truncated_power_law: LikelihoodRatio
    num_tail: int


def vuong_test(loglik_1: ArrayLike, loglik_2: ArrayLike, *, nested: bool) -> tuple[float, float, float]:
    """Vuong's test on pointwise log-likelihoods (Vuong, Econometrica 57(2), 1989; CSN eq. 5.1–5.2).

    Returns (R / sqrt(n var), R, p) with R = sum(l1 - l2) and var the population variance of l1 - l2;
    p = erfc(|R| / sqrt(2 n var)) for non-nested models and the chi^2(1) survival of 2|R| for nested
    ones.  Identical log-likelihoods give (0, 0, 1).
    """
    diff = np.asarray(loglik_1, dtype=np.float64) - np.asarray(loglik_2, dtype=np.float64)
    n = diff.size
    total = float(diff.sum())
    var = float(np.mean((diff - diff.mean()) ** 2))
    if nested:
        p = float(stats.chi2.sf(2.0 * abs(total), 1))
    else:
        p = float(special.erfc(abs(total) / np.sqrt(2.0 * n * var))) if var > 0 else 1.0
    ratio = total / np.sqrt(n * var) if var > 0 else 0.0
    return float(ratio), total, p


def power_law_loglik(tail: ArrayLike, xmin: float, alpha: float) -> NDArray[np.float64]:
    """log p(x) = log(alpha - 1) - log xmin - alpha log(x / xmin), x >= xmin (CSN eq. 2.2)."""
    x = np.asarray(tail, dtype=np.float64)
    return np.log(alpha - 1.0) - np.log(xmin) - alpha * np.log(x / xmin)


def exponential_loglik(tail: ArrayLike, xmin: float) -> tuple[float, NDArray[np.float64]]:
    """Exponential truncated at xmin, p(x) = lambda exp(-lambda (x - xmin)); closed-form MLE.

    Returns (lambda, pointwise log-likelihoods) with lambda = 1 / mean(x - xmin).
    """
    excess = np.asarray(tail, dtype=np.float64) - xmin
    rate = 1.0 / float(np.mean(excess))
    return rate, np.log(rate) - rate * excess


def lognormal_loglik(
    tail: ArrayLike, xmin: float, alpha_start: float
) -> tuple[tuple[float, float], NDArray[np.float64]]:
    """Log-normal truncated at xmin, fitted by maximum likelihood.

    p(x) = phi((ln x - mu)/sigma) / (x sigma Phi((mu - ln xmin)/sigma)), x >= xmin.  In t = ln(x/xmin)
    this is the log-parabola p(t) = exp(-c t - b t^2) / Z(c, b) with b = 1/(2 sigma^2),
    c = (ln xmin - mu)/sigma^2 and Z = sqrt(pi/(4b)) erfcx(c/(2 sqrt b)) (1/c at b = 0).  Fitting
    (c, b >= 0) by L-BFGS-B keeps the optimum finite: a power-law tail is the boundary b = 0
    (sigma -> inf, mu -> -inf), where (mu, sigma) would drift along a flat ridge.

    Returns ((mu, sigma), pointwise log-likelihoods).  At the boundary b = 0 (or within ``_TIE`` of
    it) the log-normal is the power law, whose closed-form MLE ``alpha_start`` replaces the optimizer's
    approximate one: (mu, sigma) = (-inf, inf) and R = 0.
    """
    x = np.asarray(tail, dtype=np.float64)
    t = np.log(x / xmin)
    mean_t, mean_t2 = float(t.mean()), float(np.mean(t * t))

    def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
        c, b = params
        log_z, d_c, d_b = _log_parabola_norm(c, b)
        value = x.size * (c * mean_t + b * mean_t2 + log_z)
        if not np.isfinite(value):
            return _IMPROPER, np.zeros(2)
        return value, x.size * np.array([mean_t + d_c, mean_t2 + d_b])

    log_x = np.log(x)
    spread2 = max(float(np.var(log_x)), 1e-12)
    starts = [
        np.array([alpha_start - 1.0, 1e-6]),
        np.array([(np.log(xmin) - float(log_x.mean())) / spread2, 0.5 / spread2]),
    ]
    bounds = [(-1e6, 1e6), (0.0, 1e12)]
    best = min(
        (
            optimize.minimize(objective, s0, jac=True, method="L-BFGS-B", bounds=bounds, options=_TIGHT)
            for s0 in starts
        ),
        key=lambda r: r.fun,
    )
    c, b = (float(v) for v in best.x)
    power_law = power_law_loglik(x, xmin, alpha_start)
    if b == 0.0 or -best.fun < power_law.sum() + _TIE:  # the family's boundary b = 0 is the power law
        return (-np.inf, np.inf), power_law
    loglik = -c * t - b * t * t - _log_parabola_norm(c, b)[0] - log_x
    sigma2 = 0.5 / b
    return (float(np.log(xmin) - c * sigma2), float(np.sqrt(sigma2))), loglik


def _log_parabola_norm(c: float, b: float) -> tuple[float, float, float]:
    """(log Z, d log Z / dc, d log Z / db), Z = int_0^inf exp(-c t - b t^2) dt.

    Z = sqrt(pi / (4 b)) erfcx(z), z = c / (2 sqrt b), and d log erfcx / dz = 2 z - 2 / (sqrt(pi) erfcx(z))
    (for z > 100 its asymptotic series -1/z + 1/z^3 - 5/(2 z^5)); at b = 0, Z = 1/c with derivatives -1/c
    and -2/c^2 (minus the first two moments of Exp(c)).
    """
    if b <= 0.0:
        if c <= 0:
            return np.inf, 0.0, 0.0
        return -np.log(c), -1.0 / c, -2.0 / (c * c)
    root = np.sqrt(b)
    z = c / (2.0 * root)
    log_z = 0.5 * np.log(np.pi) - np.log(2.0 * root) + np.log(special.erfcx(z))
    if z > 100.0:  # asymptotic series: the direct form cancels catastrophically
        d_log = -1.0 / z + z**-3 - 2.5 * z**-5
        one_plus = z**-2 - 2.5 * z**-4  # 1 + z d_log
    else:
        d_log = 2.0 * z - 2.0 / (np.sqrt(np.pi) * special.erfcx(z))
        one_plus = 1.0 + z * d_log
    return float(log_z), float(d_log / (2.0 * root)), float(-one_plus / (2.0 * b))


def truncated_power_law_loglik(
    tail: ArrayLike, xmin: float, alpha_start: float
) -> tuple[tuple[float, float], NDArray[np.float64]]:
    """Power law with exponential cut-off, p(x) = x^-alpha e^(-lambda x) / Z, x >= xmin, fitted by ML.

    Z = xmin^(1 - alpha) e^(-theta) I(alpha, theta), theta = lambda xmin,
    I = int_0^inf (1 + v)^(-alpha) e^(-theta v) dv = e^theta theta^(alpha-1) Gamma(1 - alpha, theta)
    (CSN Table 2.1), evaluated by :func:`_cutoff_integral` with its gradient.  The search runs over
    (alpha, log theta), log theta in [-40, 20], by L-BFGS-B from two starts; when it finds nothing
    better than the power law itself (theta = 0, alpha = ``alpha_start``) by more than ``_TIE`` that
    is returned, so R <= 0 and a pure power law gives R = 0, p = 1.

    Returns ((alpha, lambda), pointwise log-likelihoods).
    """
    u = np.asarray(tail, dtype=np.float64) / xmin
    mean_log_u, mean_excess = float(np.mean(np.log(u))), float(np.mean(u)) - 1.0
    size = u.size

    def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
        alpha, log_theta = params
        theta = np.exp(log_theta)
        log_i, d_alpha, d_theta = _cutoff_integral(alpha, theta)
        value = size * (alpha * mean_log_u + theta * mean_excess + log_i)
        return value, size * np.array([mean_log_u + d_alpha, theta * (mean_excess + d_theta)])

    power_law = size * (alpha_start * mean_log_u - np.log(alpha_start - 1.0))  # theta = 0
    starts = [np.array([alpha_start, -20.0]), np.array([1.0, -np.log(max(mean_excess, 1e-12))])]
    best = min(
        (
            optimize.minimize(
                objective, s0, jac=True, method="L-BFGS-B", bounds=[(-20.0, 60.0), (-40.0, 20.0)], options=_TIGHT
            )
            for s0 in starts
        ),
        key=lambda r: r.fun,
    )
    if not best.fun < power_law - _TIE:
        return (alpha_start, 0.0), power_law_loglik(u * xmin, xmin, alpha_start)
    alpha, theta = float(best.x[0]), float(np.exp(best.x[1]))
    log_norm = (1.0 - alpha) * np.log(xmin) - theta + _cutoff_integral(alpha, theta)[0]
    return (alpha, theta / xmin), -alpha * np.log(u * xmin) - theta * u - log_norm


def _cutoff_integral(alpha: float, theta: float) -> tuple[float, float, float]:
    """(log I, d log I / d alpha, d log I / d theta) for I = int_0^inf (1 + v)^(-alpha) e^(-theta v) dv.

    With v = e^t - 1, I = int_0^inf exp(f(t)) dt, f(t) = (1 - alpha) t - theta (e^t - 1), concave with its
    maximum at t* = log((1 - alpha)/theta) (or 0).  Gauss–Legendre (12 nodes) on panels no wider than
    the integrand's scale near t* (1, 0.7/sqrt(theta e^t*), 2/|1 - alpha|) covers [0, T] with
    f(T) <= f(t*) - 60; the derivatives are the moments -<t> and -<e^t - 1> of the same weights.
    """
    slope = 1.0 - alpha

    def exponent(t: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return slope * t - theta * np.expm1(t)

    peak = float(np.log(slope / theta)) if slope > theta else 0.0
    top = exponent(peak)
    reach = 1.0
    while exponent(peak + reach) > top - 60.0:
        reach *= 2.0
    width = min(1.0, 0.7 / np.sqrt(theta * np.exp(peak)), 2.0 / max(abs(slope), 1e-12))
    below = np.linspace(0.0, peak, int(np.ceil(peak / width)) + 1)[:-1]
    edges = np.concatenate([below, peak + width * np.arange(int(np.ceil(reach / width)) + 1)])
    lo, hi = edges[:-1, None], edges[1:, None]
    t = (0.5 * (hi - lo) * _GAUSS_NODES + 0.5 * (hi + lo)).ravel()
    weights = (0.5 * (hi - lo) * _GAUSS_WEIGHTS).ravel() * np.exp(exponent(t) - top)
    total = float(weights.sum())
    return top + float(np.log(total)), -float(weights @ t) / total, -float(weights @ np.expm1(t)) / total


def compare_tail(values: ArrayLike, xmin: float, alpha: float | None = None) -> TailComparison:
    """Likelihood-ratio tests of the power law on ``values >= xmin`` against the three alternatives.

    Parameters
    ----------
    values : array_like
        All samples (eigenvalues of W^T W / N); only those >= xmin enter.
    xmin : float
        Lower end of the tail, e.g. :attr:`PowerLawFit.xmin`.
    alpha : float, optional
        Power-law exponent; default the closed-form MLE on the tail (CSN eq. 3.1), which is what
        :func:`~netspectra.rmt.powerlaw.fit_power_law` reports.

    Raises
    ------
    ValueError
        If fewer than 2 values lie at or above xmin or they are all equal.
    """
    x = np.asarray(values, dtype=np.float64)
    tail = np.sort(x[x >= xmin])
    if tail.size < 2 or tail[-1] == tail[0]:
        raise ValueError("tail tests need at least two distinct values >= xmin")
    if alpha is None:
        alpha = 1.0 + tail.size / float(np.sum(np.log(tail / xmin)))
    pl = power_law_loglik(tail, xmin, alpha)
    rate, exp_ll = exponential_loglik(tail, xmin)
    ln_params, ln_ll = lognormal_loglik(tail, xmin, alpha)
    tpl_params, tpl_ll = truncated_power_law_loglik(tail, xmin, alpha)
    return TailComparison(
        exponential=LikelihoodRatio(*vuong_test(pl, exp_ll, nested=False), nested=False, parameters=(rate,)),
        lognormal=LikelihoodRatio(*vuong_test(pl, ln_ll, nested=False), nested=False, parameters=ln_params),
        truncated_power_law=LikelihoodRatio(
            *vuong_test(pl, tpl_ll, nested=True), nested=True, parameters=tpl_params
        ),
        num_tail=int(tail.size),
    )


def bootstrap_pvalue(
    values: ArrayLike,
    fit: PowerLawFit,
    *,
    n_boot: int = 100,
    seed: int = 0,
    min_tail: int = 10,
) -> float:
    """CSN semi-parametric bootstrap p-value of the power-law fit's KS distance (CSN §4.1).

    Each of ``n_boot`` synthetic data sets has n values: with probability n_tail / n a value is drawn
    from the fitted power law above xmin (inverse CDF xmin (1 - U)^(-1/(alpha-1))), otherwise it is
    resampled from the observed values below xmin.  Each set is refitted from scratch (xmin by KS,
    :func:`~netspectra.rmt.powerlaw.fit_power_law` with ``min_tail``) and p is the fraction of
    synthetic KS distances >= the observed one.  CSN reject the power law when p <= 0.1; n_boot = 2500
    gives p to +-0.01.  All random draws are made at once from ``numpy.random.default_rng(seed)``.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[x > 0]
    body = x[x < fit.xmin]
    n = x.size
    rng = np.random.default_rng(seed)
    from_tail = rng.random((n_boot, n)) < fit.num_tail / n
    if body.size == 0:
        from_tail[:] = True
    synthetic = np.where(
        from_tail,
        fit.xmin * (1.0 - rng.random((n_boot, n))) ** (-1.0 / (fit.alpha - 1.0)),
        body[rng.integers(0, max(body.size, 1), (n_boot, n))] if body.size else 0.0,
    )
    distances = np.array([fit_power_law(row, min_tail=min_tail).ks_distance for row in synthetic])
    return float(np.mean(distances >= fit.ks_distance))


def xmin_peak_range(values: ArrayLike, *, bins: int = 100, upper: float = 1.5) -> tuple[float, float]:
    """WeightWatcher's xmin_peak window [0.95 p, upper p], p = 10^(left edge of the fullest log10 bin).

    The histogram of log10(values) over ``bins`` equal bins locates the peak of the ESD (Martin &
    Mahoney's ``fix_fingers='xmin_peak'``); both bounds are in the units of ``values``.
    """
    x = np.asarray(values, dtype=np.float64)
    counts, edges = np.histogram(np.log10(x[x > 0]), bins=bins)
    peak = 10.0 ** edges[int(np.argmax(counts))]
    return 0.95 * peak, upper * peak


def fit_power_law_xmin_peak(
    values: ArrayLike, *, bins: int = 100, upper: float = 1.5, min_tail: int = 10
) -> PowerLawFit:
    """:func:`~netspectra.rmt.powerlaw.fit_power_law` with xmin restricted to :func:`xmin_peak_range`.

    Stops "fingers" — a few large, tightly clustered eigenvalues — from pulling the KS-chosen xmin
    into the cluster, where a huge alpha fits the handful of points.
    """
    return fit_power_law(values, xmin_range=xmin_peak_range(values, bins=bins, upper=upper), min_tail=min_tail)
