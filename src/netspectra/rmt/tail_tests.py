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

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from netspectra.defaults import MIN_TAIL
from netspectra.linalg import solve_linear
from netspectra.rmt.powerlaw import PowerLawFit, fit_power_law

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
_GAUSS_NODES, _GAUSS_WEIGHTS = np.polynomial.legendre.leggauss(12)
#: Newton decrement (per observation) at which the alternatives' fits stop: the mean log-likelihood is
#: then within 1e-18 of its maximum, far below the quadrature's 1e-12.
_CONVERGED = 1e-18
#: An alternative whose maximised log-likelihood beats the power law's by less than this (nats, in
#: total) is the power law itself, reached at the boundary of its family: Vuong's statistic R / sqrt(n var)
#: is 0/0 there and would turn optimizer round-off into "significance".
_TIE = 1e-6


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
        p = math.erfc(math.sqrt(abs(total)))  # the chi^2(1) survival of 2|R|: erfc(sqrt(2|R| / 2))
    else:
        p = math.erfc(abs(total) / math.sqrt(2.0 * n * var)) if var > 0 else 1.0
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


def lognormal_loglik(tail: ArrayLike, xmin: float, alpha_start: float) -> tuple[tuple[float, float], NDArray[np.float64]]:
    """Log-normal truncated at xmin, fitted by maximum likelihood.

    p(x) = phi((ln x - mu)/sigma) / (x sigma Phi((mu - ln xmin)/sigma)), x >= xmin.  In t = ln(x/xmin)
    this is the log-parabola p(t) = exp(-c t - b t^2) / Z(c, b), an exponential family with natural
    parameters (c, b >= 0) and sufficient statistics (t, t^2), b = 1/(2 sigma^2) and
    c = (ln xmin - mu)/sigma^2; its log-likelihood is concave and is maximised by Newton's method
    (:func:`_fit_tilted_exponential`).  A power-law tail is the boundary b = 0 (sigma -> inf,
    mu -> -inf).

    Returns ((mu, sigma), pointwise log-likelihoods).  When the maximum is on the boundary b = 0 (or
    within ``_TIE`` of the power law) the log-normal is the power law with the closed-form MLE
    ``alpha_start``: (mu, sigma) = (-inf, inf) and R = 0.
    """
    x = np.asarray(tail, dtype=np.float64)
    t = np.log(x / xmin)
    power_law = power_law_loglik(x, xmin, alpha_start)
    found = _fit_tilted_exponential(t, _SQUARE, float(power_law.sum()) + float(np.log(x).sum()))
    if found is None:
        return (-np.inf, np.inf), power_law
    (c, b), log_z = found
    sigma2 = 0.5 / b
    return (float(np.log(xmin) - c * sigma2), float(np.sqrt(sigma2))), -c * t - b * t * t - log_z - np.log(x)


def truncated_power_law_loglik(
    tail: ArrayLike, xmin: float, alpha_start: float
) -> tuple[tuple[float, float], NDArray[np.float64]]:
    """Power law with exponential cut-off, p(x) = x^-alpha e^(-lambda x) / Z, x >= xmin, fitted by ML.

    In t = ln(x/xmin) the density is p(t) = exp(-(alpha - 1) t - theta (e^t - 1)) / I(alpha, theta),
    theta = lambda xmin, I = int_0^inf (1 + v)^(-alpha) e^(-theta v) dv = e^theta theta^(alpha-1)
    Gamma(1 - alpha, theta) (CSN Table 2.1): an exponential family with natural parameters
    (alpha - 1, theta >= 0) and sufficient statistics (t, e^t - 1), maximised by Newton's method
    (:func:`_fit_tilted_exponential`).  When the maximum is the power law itself (theta = 0, or within
    ``_TIE`` of it) that is returned with alpha = ``alpha_start``, so R <= 0 and a pure power law gives
    R = 0, p = 1.

    Returns ((alpha, lambda), pointwise log-likelihoods).
    """
    x = np.asarray(tail, dtype=np.float64)
    t = np.log(x / xmin)
    power_law = power_law_loglik(x, xmin, alpha_start)
    found = _fit_tilted_exponential(t, _CUTOFF, float(power_law.sum()) + float(np.log(x).sum()))
    if found is None:
        return (alpha_start, 0.0), power_law
    (slope, theta), log_i = found
    return (slope + 1.0, theta / xmin), -slope * t - theta * np.expm1(t) - log_i - np.log(x)


@dataclass(frozen=True)
class _Tilt:
    """g of the density exp(-eta_1 t - eta_2 g(t)) on t >= 0 (g convex, increasing, g(0) = 0): g on arrays
    and scalars, g'' for the width of the peak, the peak t* of -eta_1 t - eta_2 g(t) for eta_1 < 0, and
    E[g] under Exp(eta_1) (eta_2 = 0)."""

    g: Callable[[np.ndarray], np.ndarray]
    g_scalar: Callable[[float], float]
    curvature: Callable[[float], float]
    peak: Callable[[float, float], float]
    exponential_mean: Callable[[float], float]


#: g(t) = t^2 (the log-normal): peak -eta_1 / (2 eta_2), E[t^2] = 2 / eta_1^2 under Exp(eta_1).
_SQUARE = _Tilt(
    g=np.square,
    g_scalar=lambda t: t * t,
    curvature=lambda t: 2.0,
    peak=lambda e1, e2: -e1 / (2.0 * e2),
    exponential_mean=lambda e1: 2.0 / (e1 * e1),
)
#: g(t) = e^t - 1 (the power law with cut-off): peak log(-eta_1 / eta_2), E[e^t - 1] = 1 / (eta_1 - 1).
_CUTOFF = _Tilt(
    g=np.expm1,
    g_scalar=lambda t: math.expm1(t) if t < 700.0 else math.inf,
    curvature=math.exp,
    peak=lambda e1, e2: math.log(-e1 / e2),
    exponential_mean=lambda e1: 1.0 / (e1 - 1.0) if e1 > 1.0 else math.inf,
)


def _panels(eta1: float, eta2: float, tilt: _Tilt) -> tuple[np.ndarray, float]:
    """Panel edges covering [0, T] for the density exp(f(t)), f(t) = -eta_1 t - eta_2 g(t) (eta_2 > 0), and f(t*).

    f is concave with its maximum at t* (0 when eta_1 >= 0); panels are no wider than the integrand's scale
    near t* (1, 0.7 / sqrt(eta_2 g''(t*)), 2 / |eta_1|) and reach T with f(T) <= f(t*) - 60.
    """

    def exponent(t: float) -> float:
        return -eta1 * t - eta2 * tilt.g_scalar(t)

    peak = max(tilt.peak(eta1, eta2), 0.0) if eta1 < 0 else 0.0
    top = exponent(peak)
    width = min(1.0, 0.7 / math.sqrt(eta2 * tilt.curvature(peak)), 2.0 / max(abs(eta1), 1e-12))
    reach = width  # from the integrand's own scale: a steep one (a tail of a few close values) needs few panels
    while exponent(peak + reach) > top - 60.0:
        reach *= 2.0
    edges = np.concatenate(
        [np.linspace(0.0, peak, math.ceil(peak / width) + 1)[:-1], peak + width * np.arange(math.ceil(reach / width) + 1)]
    )
    return edges, top


def _panel_nodes(
    eta1: float, eta2: float, tilt: _Tilt, edges: np.ndarray, top: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes t (12 per panel, panel by panel), g(t) and the quadrature weights of exp(f(t) - top)."""
    half = 0.5 * np.diff(edges)[:, None]
    t = (half * _GAUSS_NODES + (edges[:-1, None] + half)).ravel()
    with np.errstate(over="ignore", under="ignore"):
        g = tilt.g(t)
        weights = (half * _GAUSS_WEIGHTS).ravel() * np.exp(-eta1 * t - eta2 * g - top)
    return t, g, weights


def _tilted_moments(eta1: float, eta2: float, tilt: _Tilt) -> tuple[float, np.ndarray, np.ndarray]:
    """(log Z, E[T], Cov(T)) of p(t) = exp(-eta_1 t - eta_2 g(t)) / Z on t >= 0, T = (t, g(t)), eta_2 > 0.

    f(t) = -eta_1 t - eta_2 g(t) is concave with its maximum at t* (0 when eta_1 >= 0).  Gauss–Legendre
    (12 nodes) on panels no wider than the integrand's scale near t* (1, 0.7 / sqrt(eta_2 g''(t*)),
    2 / |eta_1|) covers [0, T] with f(T) <= f(t*) - 60: relative error below 1e-12 in Z and the moments.
    """
    edges, top = _panels(eta1, eta2, tilt)
    t, g, weights = _panel_nodes(eta1, eta2, tilt, edges, top)
    total = float(weights.sum())
    weights /= total
    mean_t, mean_g = float(weights @ t), float(weights @ g)
    dt, dg = t - mean_t, g - mean_g
    cross = float(weights @ (dt * dg))
    cov = np.array([[float(weights @ (dt * dt)), cross], [cross, float(weights @ (dg * dg))]])
    return top + math.log(total), np.array([mean_t, mean_g]), cov


def _fit_tilted_exponential(t: np.ndarray, tilt: _Tilt, power_law_total: float) -> tuple[tuple[float, float], float] | None:
    """Maximum likelihood of p(t) = exp(-eta_1 t - eta_2 g(t)) / Z on the sample t (>= 0), eta_2 >= 0.

    An exponential family: the mean log-likelihood l(eta) = -eta . mean(T) - log Z(eta) is concave, its
    gradient E_eta[T] - mean(T) and its Hessian -Cov_eta(T), so Newton's method with a backtracking line
    search converges from any start.  At eta_2 = 0 the family is the exponential Exp(eta_1) in t (the
    power law) with MLE eta_1 = 1 / mean(t); that boundary point is the maximum (Karush–Kuhn–Tucker)
    when increasing eta_2 does not help, E_Exp[g] <= mean(g), and then None is returned, as when the
    interior maximum beats the power law (``power_law_total``, the sample's summed log-likelihood in t)
    by less than ``_TIE``.  Otherwise ((eta_1, eta_2), log Z).
    """
    sample = np.stack([t, tilt.g(t)]).mean(axis=1)
    boundary = 1.0 / sample[0]  # the MLE of eta_1 at eta_2 = 0
    if tilt.exponential_mean(boundary) <= sample[1]:
        return None
    eta = np.array([boundary, 1e-3 / max(sample[1], 1e-300)])

    def mean_loglik(e: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        log_z, mean, cov = _tilted_moments(float(e[0]), float(e[1]), tilt)
        return -float(e @ sample) - log_z, mean, cov

    value, mean, cov = mean_loglik(eta)
    for _ in range(200):
        gradient = mean - sample
        try:
            step = solve_linear(cov, gradient)
        except np.linalg.LinAlgError:
            break
        decrement = float(gradient @ step)  # twice the predicted gain: quadratic convergence once small
        if not decrement > _CONVERGED:
            break
        scale = 1.0
        while scale > 1e-12:
            trial = eta + scale * step
            if trial[1] > 0.0:
                trial_value, trial_mean, trial_cov = mean_loglik(trial)
                if trial_value >= value + 0.25 * scale * decrement:
                    break
            scale *= 0.5
        else:
            break
        eta, value, mean, cov = trial, trial_value, trial_mean, trial_cov
        if scale < 1.0 and decrement < 1e-12:  # round-off, not the model, limits the step
            break
    if not value * t.size > power_law_total + _TIE:
        return None
    return (float(eta[0]), float(eta[1])), float(-value - eta @ sample)


def truncated_power_law_cdf(values: ArrayLike, xmin: float, alpha: float, rate: float) -> NDArray[np.float64]:
    """CDF of the power law with exponential cut-off p(x) = x^-alpha e^(-rate x) / Z on x >= xmin, at ``values``.

    In t = ln(x / xmin), F(t) = int_0^t exp(-(alpha - 1) s - theta (e^s - 1)) ds / I(alpha, theta),
    theta = rate xmin (:func:`truncated_power_law_loglik`); with ``rate`` 0 the power law,
    F = 1 - (x / xmin)^(1 - alpha) (alpha > 1).  The integral is taken by 12-node Gauss–Legendre on the
    panels of the normalising integral, split at every value: relative error below 1e-12.  Values below
    xmin get 0, values past the panels (where the density is below e^-60 of its peak) 1.
    """
    x = np.asarray(values, dtype=np.float64)
    t = np.log(np.maximum(x, xmin) / xmin)
    if rate == 0.0:
        return -np.expm1((1.0 - alpha) * t)
    eta1, eta2 = alpha - 1.0, rate * xmin
    edges, top = _panels(eta1, eta2, _CUTOFF)
    inside = t < edges[-1]
    edges = np.union1d(edges, t[inside])
    _, _, weights = _panel_nodes(eta1, eta2, _CUTOFF, edges, top)
    cumulative = np.concatenate([[0.0], np.cumsum(weights.reshape(-1, _GAUSS_NODES.size).sum(axis=1))])
    cdf = np.ones_like(t)
    cdf[inside] = cumulative[np.searchsorted(edges, t[inside])] / cumulative[-1]
    return cdf


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
        truncated_power_law=LikelihoodRatio(*vuong_test(pl, tpl_ll, nested=True), nested=True, parameters=tpl_params),
        num_tail=int(tail.size),
    )


def bootstrap_pvalue(
    values: ArrayLike,
    fit: PowerLawFit,
    *,
    n_boot: int = 100,
    seed: int = 0,
    min_tail: int = MIN_TAIL,
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


def fit_power_law_xmin_peak(values: ArrayLike, *, bins: int = 100, upper: float = 1.5, min_tail: int = MIN_TAIL) -> PowerLawFit:
    """:func:`~netspectra.rmt.powerlaw.fit_power_law` with xmin restricted to :func:`xmin_peak_range`.

    Stops "fingers" — a few large, tightly clustered eigenvalues — from pulling the KS-chosen xmin
    into the cluster, where a huge alpha fits the handful of points.
    """
    return fit_power_law(values, xmin_range=xmin_peak_range(values, bins=bins, upper=upper), min_tail=min_tail)
