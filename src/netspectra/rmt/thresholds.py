"""Random-matrix thresholds, shrinkers and singular-vector overlaps for denoising a weight matrix.

Convention (everywhere in netspectra): W is N x M with N >= M, beta = M/N in (0, 1], eigenvalues are
those of X = W^T W / N, so the singular values of W are s_i = sqrt(N lambda_i).  The noise model is
W = S + E with E_ij iid, mean 0, variance sigma^2; a rank-one term theta u v^T has normalised strength
x = theta / (sigma sqrt N) and its singular value tends to sigma sqrt N y(x) with
y(x) = sqrt((1 + x^2)(beta + x^2)) / x above the detection threshold x > beta^(1/4)
(Benaych-Georges & Nadakuditi, J. Multivar. Anal. 111, 2012; Gavish & Donoho, IEEE TIT 60(8), 2014).

Every threshold here is a *keep* threshold on the singular values of W: component i is kept when
s_i > tau.  Each comes with the noise level sigma it was computed from, which the shrinkers and the
overlap predictions reuse.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from netspectra.defaults import TW_LEVEL
from netspectra.rmt.marchenko_pastur import (
    TW1_QUANTILES,
    mp_edges,
    mp_median,
    sigma2_median,
    sigma2_quantile_regression,
    tracy_widom_edge,
)

#: The keep thresholds of :func:`rmt_threshold`.
THRESHOLD_METHODS = ("mp-edge", "gavish-donoho", "bema")


@dataclass(frozen=True)
class Threshold:
    """A keep threshold on the singular values of an N x M matrix (N >= M).

    Attributes
    ----------
    method : str
        One of :data:`THRESHOLD_METHODS`.
    tau : float
        Keep s_i > tau (singular-value units of W; tau^2 / N in eigenvalue units of W^T W / N).
    sigma : float
        Noise entry standard deviation the threshold was computed from (given or estimated).
    sigma_known : bool
        Whether ``sigma`` was given rather than estimated from the spectrum.
    """

    method: str
    tau: float
    sigma: float
    sigma_known: bool

    def count(self, singular_values: ArrayLike) -> int:
        """Number of singular values strictly above ``tau``."""
        return int(np.count_nonzero(np.asarray(singular_values, dtype=np.float64) > self.tau))

    def to_dict(self) -> dict[str, object]:
        """The fields as a plain dict."""
        return asdict(self)


# ----------------------------------------------------------------------------------------- noise level


def sigma_from_median(singular_values: ArrayLike, n: int, m: int) -> float:
    """Robust noise level sigma_hat = median(s) / sqrt(N mu_beta).

    Equivalent to sigma^2 = median(lambda) / mu_beta on the eigenvalues lambda = s^2 / N of W^T W / N,
    mu_beta the median of MP(beta, 1) (Gavish & Donoho, IEEE TIT 60(8), 2014).
    ``singular_values`` are all M singular values of the N x M matrix W (N >= M).
    """
    s = np.asarray(singular_values, dtype=np.float64)
    return float(np.sqrt(sigma2_median(s**2 / n, _beta(n, m))))


# ----------------------------------------------------------------------------------------- thresholds


def gd_lambda_star(beta: float) -> float:
    """Gavish–Donoho optimal hard-threshold coefficient for known noise.

    lambda*(beta) = sqrt(2 (beta + 1) + 8 beta / ((beta + 1) + sqrt(beta^2 + 14 beta + 1)))
    (Gavish & Donoho, "The optimal hard threshold for singular values is 4/sqrt3", IEEE TIT 60(8),
    2014).  lambda*(0.5) = 1.978599, lambda*(1) = 4/sqrt(3).
    """
    _check_beta(beta)
    return float(np.sqrt(2.0 * (beta + 1.0) + 8.0 * beta / ((beta + 1.0) + np.sqrt(beta**2 + 14.0 * beta + 1.0))))


def gd_omega(beta: float) -> float:
    """Gavish–Donoho coefficient for unknown noise: omega(beta) = lambda*(beta) / sqrt(mu_beta).

    mu_beta is the median of MP(beta, 1), computed numerically (not the cubic approximation
    0.56 beta^3 - 0.95 beta^2 + 1.82 beta + 1.43).  omega(0.5) = 2.171185, omega(1) = 2.858362
    (Gavish & Donoho 2014).
    """
    return gd_lambda_star(beta) / float(np.sqrt(mp_median(beta)))


def gavish_donoho_threshold(singular_values: ArrayLike, n: int, m: int, sigma: float | None = None) -> Threshold:
    """Gavish–Donoho optimal hard threshold on the singular values of an N x M matrix (N >= M).

    Known noise: tau = lambda*(beta) sqrt(N) sigma.  Unknown noise: tau = omega(beta) median(s), and
    sigma is reported as median(s) / sqrt(N mu_beta), so that tau = lambda*(beta) sqrt(N) sigma holds in
    both cases (Gavish & Donoho, IEEE TIT 60(8), 2014).  It minimises the asymptotic mean squared error
    among hard thresholds; it keeps a spike only when x > x*(beta) (x* = 1.47856 at beta = 0.5), well
    above the detection threshold beta^(1/4).

    Parameters
    ----------
    singular_values : array_like
        All M singular values of W.
    n, m : int
        Shape of W, N >= M.
    sigma : float, optional
        Known noise entry standard deviation.
    """
    beta = _beta(n, m)
    if sigma is None:
        s = np.asarray(singular_values, dtype=np.float64)
        tau = gd_omega(beta) * float(np.median(s))
        return Threshold("gavish-donoho", tau, tau / (gd_lambda_star(beta) * float(np.sqrt(n))), False)
    return Threshold("gavish-donoho", gd_lambda_star(beta) * float(np.sqrt(n)) * sigma, float(sigma), True)


def mp_edge_threshold(
    singular_values: ArrayLike, n: int, m: int, sigma: float | None = None, level: float = TW_LEVEL
) -> Threshold:
    """Marchenko–Pastur bulk edge with its Tracy–Widom margin, from the robust (median) noise level.

    In eigenvalue units of W^T W / N, tau_lambda = sigma^2 [mu_NM + q_level s_NM] / N (Johnstone's finite-N
    centring and scale with N - 1/2, M - 1/2; see :func:`~netspectra.rmt.marchenko_pastur.tracy_widom_edge`),
    with sigma^2 = median(lambda) / mu_beta unless given; tau = sqrt(N tau_lambda) on singular values
    (Johnstone, Ann. Stat. 29, 2001; Gavish & Donoho 2014 for the median estimator).  A detection
    threshold: pure noise exceeds it with probability about 1 - level.

    Parameters
    ----------
    level : float
        Tracy–Widom quantile of the edge: 0.90, 0.95 (default, as ``netspectra analyze`` counts spikes) or 0.99.
    """
    _beta(n, m)
    known = sigma is not None
    if sigma is None:
        sigma = sigma_from_median(singular_values, n, m)
    tau_lambda = tracy_widom_edge(float(sigma) ** 2, n, m, level=level)
    return Threshold("mp-edge", float(np.sqrt(n * tau_lambda)), float(sigma), known)


def bema0_threshold(
    singular_values: ArrayLike, n: int, m: int, sigma: float | None = None, trim: float = 0.2, b: float = 0.1
) -> Threshold:
    """BEMA0 threshold: quantile-regression noise level and a leading-order Tracy–Widom margin.

    sigma^2 = sum_k q_k lambda_(k) / sum_k q_k^2 over the middle order statistics (``trim`` = alpha = 0.2
    cut at each end; :func:`~netspectra.rmt.marchenko_pastur.sigma2_quantile_regression`), then
    tau_lambda = sigma^2 [(1 + sqrt beta)^2 + q_TW1(1 - b) N^(-2/3) beta^(-1/6) (1 + sqrt beta)^(4/3)],
    tau = sqrt(N tau_lambda) (Ke, Ma & Lin, "Estimation of the number of spiked eigenvalues in a covariance
    matrix by bulk eigenvalue matching analysis", JASA 118, 2023, white-bulk case).  For 1000 x 500,
    b = 0.1: tau_lambda = 2.92452 sigma^2.  Assumes fewer than trim * M spikes.

    Parameters
    ----------
    b : float
        Tail probability of the TW1 margin: 0.10, 0.05 or 0.01.
    """
    beta = _beta(n, m)
    known = sigma is not None
    if sigma is None:
        s = np.asarray(singular_values, dtype=np.float64)
        sigma = float(np.sqrt(sigma2_quantile_regression(s**2 / n, beta, trim=trim)))
    level = round(1.0 - b, 10)
    if level not in TW1_QUANTILES:
        raise ValueError(f"BEMA tail probability b must be one of 0.1, 0.05, 0.01, got {b}")
    root = np.sqrt(beta)
    _, edge = mp_edges(beta)
    margin = TW1_QUANTILES[level] * n ** (-2.0 / 3.0) * beta ** (-1.0 / 6.0) * (1.0 + root) ** (4.0 / 3.0)
    tau_lambda = float(sigma) ** 2 * (edge + margin)
    return Threshold("bema", float(np.sqrt(n * tau_lambda)), float(sigma), known)


def rmt_threshold(method: str, singular_values: ArrayLike, n: int, m: int, sigma: float | None = None) -> Threshold:
    """Dispatch to the keep threshold ``method`` (one of :data:`THRESHOLD_METHODS`) with default settings."""
    if method == "mp-edge":
        return mp_edge_threshold(singular_values, n, m, sigma)
    if method == "gavish-donoho":
        return gavish_donoho_threshold(singular_values, n, m, sigma)
    if method == "bema":
        return bema0_threshold(singular_values, n, m, sigma)
    raise ValueError(f"unknown threshold method {method!r}; expected one of {', '.join(THRESHOLD_METHODS)}")


# ------------------------------------------------------------------------------ signal + noise (BGN)


def bgn_signal_strength(y: ArrayLike, beta: float) -> NDArray[np.float64]:
    """Signal strength x from a normalised singular value y = s / (sigma sqrt N): inverse of y(x).

    x(y) = sqrt([(y^2 - beta - 1) + sqrt((y^2 - beta - 1)^2 - 4 beta)] / 2) for y > 1 + sqrt(beta), else 0
    (no detectable spike at or below the bulk edge) (Benaych-Georges & Nadakuditi 2012; Gavish & Donoho
    2014).  x(2.3717082) = 2 at beta = 0.5.
    """
    _check_beta(beta)
    y = np.asarray(y, dtype=np.float64)
    t = y**2 - beta - 1.0
    above = y > 1.0 + np.sqrt(beta)
    disc = np.where(above, t**2 - 4.0 * beta, 0.0)
    return np.where(above, np.sqrt(np.maximum((t + np.sqrt(np.maximum(disc, 0.0))) / 2.0, 0.0)), 0.0)


def bgn_cos2_left(x: ArrayLike, beta: float) -> NDArray[np.float64]:
    """Predicted |<u_hat, u>|^2 for the N-dimensional (left) singular vector of a spike of strength x.

    (x^4 - beta) / (x^2 (x^2 + 1)) for x > beta^(1/4), else 0 (Benaych-Georges & Nadakuditi, J. Multivar.
    Anal. 111, 2012).  0.775 at x = 2, beta = 0.5.
    """
    x = np.asarray(x, dtype=np.float64)
    return _cos2(x, beta, 1.0)


def bgn_cos2_right(x: ArrayLike, beta: float) -> NDArray[np.float64]:
    """Predicted |<v_hat, v>|^2 for the M-dimensional (right) singular vector of a spike of strength x.

    (x^4 - beta) / (x^2 (x^2 + beta)) for x > beta^(1/4), else 0 (Benaych-Georges & Nadakuditi 2012).
    0.861111 at x = 2, beta = 0.5.
    """
    x = np.asarray(x, dtype=np.float64)
    return _cos2(x, beta, beta)


def _cos2(x: NDArray[np.float64], beta: float, shift: float) -> NDArray[np.float64]:
    _check_beta(beta)
    above = x > beta**0.25
    # (x^4 - beta) / (x^2 (x^2 + c)) = (1 - beta/x^4) / (1 + c/x^2): the same, and finite (1) at x = inf
    inv2 = 1.0 / np.where(above, x, 1.0) ** 2
    return np.where(above, (1.0 - beta * inv2**2) / (1.0 + shift * inv2), 0.0)


# ------------------------------------------------------------------------------------------- shrinkers

#: The optimal shrinkers of :func:`shrink`.
SHRINKERS = ("frobenius", "operator", "nuclear")


def shrink_frobenius(y: ArrayLike, beta: float) -> NDArray[np.float64]:
    """Frobenius-loss optimal shrinker eta(y) = sqrt((y^2 - beta - 1)^2 - 4 beta) / y, 0 for y <= 1 + sqrt beta.

    y = s / (sigma sqrt N); multiply eta by sigma sqrt N to get a singular value (Gavish & Donoho, "Optimal
    shrinkage of singular values", IEEE TIT 63(4), 2017).  The square root covers the numerator
    only: sqrt(A)/y, not sqrt(A/y).  1.633843 at y = 2.3717082, beta = 0.5.
    """
    _check_beta(beta)
    y = np.asarray(y, dtype=np.float64)
    above = y > 1.0 + np.sqrt(beta)
    safe = np.where(above, y, 1.0)
    a = np.maximum((safe**2 - beta - 1.0) ** 2 - 4.0 * beta, 0.0)
    return np.where(above, np.sqrt(a) / safe, 0.0)


def shrink_operator(y: ArrayLike, beta: float) -> NDArray[np.float64]:
    """Operator-norm-loss optimal shrinker eta(y) = x(y), the estimated signal strength (Gavish & Donoho 2017).

    0 for y <= 1 + sqrt(beta); 2.0 at y = 2.3717082, beta = 0.5.
    """
    return bgn_signal_strength(y, beta)


def shrink_nuclear(y: ArrayLike, beta: float) -> NDArray[np.float64]:
    """Nuclear-norm-loss optimal shrinker eta(y) = max(0, x^4 - sqrt(beta) x y - beta) / (x^2 y), x = x(y).

    0 for y <= 1 + sqrt(beta) (Gavish & Donoho, IEEE TIT 63(4), 2017).  1.280290 at y = 2.3717082, beta = 0.5.
    """
    y = np.asarray(y, dtype=np.float64)
    x = bgn_signal_strength(y, beta)
    above = x > 0.0
    xs, ys = np.where(above, x, 1.0), np.where(above, y, 1.0)
    value = np.maximum(xs**4 - np.sqrt(beta) * xs * ys - beta, 0.0) / (xs**2 * ys)
    return np.where(above, value, 0.0)


def shrink(kind: str, y: ArrayLike, beta: float) -> NDArray[np.float64]:
    """Apply the optimal shrinker ``kind`` (one of :data:`SHRINKERS`) to normalised singular values y."""
    if kind == "frobenius":
        return shrink_frobenius(y, beta)
    if kind == "operator":
        return shrink_operator(y, beta)
    if kind == "nuclear":
        return shrink_nuclear(y, beta)
    raise ValueError(f"unknown shrinker {kind!r}; expected one of {', '.join(SHRINKERS)}")


# ------------------------------------------------------------------------------------------------ misc


def _beta(n: int, m: int) -> float:
    if not 0 < m <= n:
        raise ValueError(f"expected an N x M matrix with N >= M >= 1, got {n} x {m}")
    return m / n


def _check_beta(beta: float) -> None:
    if not 0.0 < beta <= 1.0:
        raise ValueError(f"aspect ratio beta = M/N must lie in (0, 1], got {beta}")
