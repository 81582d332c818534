"""Marchenko–Pastur law: density, CDF, quantiles, noise-level estimators and the Tracy–Widom edge.

Convention (everywhere in netspectra): W is N x M with N >= M, beta = M/N in (0, 1], and the
eigenvalues are those of X = W^T W / N.  For W with iid entries of variance sigma^2 the empirical
spectral distribution of X tends to MP(beta, sigma^2), supported on [l-, l+] with
l+- = sigma^2 (1 +- sqrt(beta))^2, mean sigma^2 and variance beta sigma^4
(Marchenko & Pastur, Math. USSR-Sb. 1967).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from netspectra.defaults import TW1_QUANTILES, TW_LEVEL

_GRID_POINTS = 4097


def mp_edges(beta: float, sigma2: float = 1.0) -> tuple[float, float]:
    """Bulk edges of MP(beta, sigma^2): l+- = sigma^2 (1 +- sqrt(beta))^2.

    Parameters
    ----------
    beta : float
        Aspect ratio M/N in (0, 1] (eigenvalues of W^T W / N, W is N x M, N >= M).
    sigma2 : float
        Entry variance sigma^2 of the noise.

    Returns
    -------
    (lambda_minus, lambda_plus) : tuple of float
    """
    _check_beta(beta)
    root = np.sqrt(beta)
    return sigma2 * (1.0 - root) ** 2, sigma2 * (1.0 + root) ** 2


def mp_pdf(x: ArrayLike, beta: float, sigma2: float = 1.0) -> NDArray[np.float64]:
    """MP density rho(l) = sqrt((l+ - l)(l - l-)) / (2 pi beta sigma^2 l) on [l-, l+], 0 elsewhere.

    Eigenvalues of W^T W / N with W N x M, beta = M/N <= 1 (Marchenko & Pastur 1967).
    """
    lo, hi = mp_edges(beta, sigma2)
    x = np.asarray(x, dtype=np.float64)
    inside = (x > lo) & (x < hi)
    out = np.zeros_like(x)
    xi = x[inside]
    out[inside] = np.sqrt((hi - xi) * (xi - lo)) / (2.0 * np.pi * beta * sigma2 * xi)
    return out


@lru_cache(maxsize=256)
def _unit_cdf_table(beta: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Tabulate the MP(beta, 1) CDF on the substitution l = l- + (l+ - l-)(1 - cos t)/2.

    With that substitution the integrand becomes ((l+ - l-)/2)^2 sin^2 t / (2 pi beta l(t)), smooth on
    [0, pi], so the trapezoid rule is accurate to ~1e-10 with a few thousand points.
    """
    lo, hi = mp_edges(beta, 1.0)
    t = np.linspace(0.0, np.pi, _GRID_POINTS)
    half = (hi - lo) / 2.0
    lam = lo + half * (1.0 - np.cos(t))
    integrand = half**2 * np.sin(t) ** 2 / (2.0 * np.pi * beta * np.maximum(lam, 1e-300))
    if lo == 0.0:  # beta = 1: sin^2 t / l(t) -> 2 / half as t -> 0, a finite limit
        integrand[0] = half / (np.pi * beta)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (integrand[1:] + integrand[:-1]) * np.diff(t))])
    cdf /= cdf[-1]
    return lam, cdf


def mp_cdf(x: ArrayLike, beta: float, sigma2: float = 1.0) -> NDArray[np.float64]:
    """CDF of MP(beta, sigma^2) for eigenvalues of W^T W / N (beta = M/N <= 1)."""
    _check_beta(beta)
    lam, cdf = _unit_cdf_table(float(beta))
    return np.interp(np.asarray(x, dtype=np.float64) / sigma2, lam, cdf, left=0.0, right=1.0)


def mp_quantile(p: ArrayLike, beta: float, sigma2: float = 1.0) -> NDArray[np.float64]:
    """Quantile function of MP(beta, sigma^2): the l with CDF(l) = p, for p in [0, 1]."""
    _check_beta(beta)
    lam, cdf = _unit_cdf_table(float(beta))
    return sigma2 * np.interp(np.asarray(p, dtype=np.float64), cdf, lam)


def mp_median(beta: float) -> float:
    """mu_beta, the median of MP(beta, 1) (Gavish & Donoho, IEEE TIT 60(8), 2014).

    Known values: mu_0.5 = 0.830466, mu_1 = 0.652776.
    """
    return float(mp_quantile(0.5, beta))


def sigma2_median(eigenvalues: ArrayLike, beta: float) -> float:
    """Robust noise level sigma^2 = median(lambda) / mu_beta (Gavish & Donoho 2014).

    Eigenvalues of W^T W / N (W is N x M, beta = M/N).  A number of spikes that is o(M) moves the
    median by o(1), unlike the edge-based estimate lambda_max / (1 + sqrt(beta))^2.
    """
    evals = np.asarray(eigenvalues, dtype=np.float64)
    return float(np.median(evals) / mp_median(beta))


def sigma2_quantile_regression(eigenvalues: ArrayLike, beta: float, trim: float = 0.2) -> float:
    """BEMA0 noise level: least-squares fit of the middle order statistics to MP(beta, 1) quantiles.

    sigma^2 = sum_k q_k lambda_(k) / sum_k q_k^2 over ascending order statistics k in
    [ceil(trim M), floor((1 - trim) M)], q_k the MP(beta, 1) quantile at k/M
    (Ke, Ma & Lin, JASA 2023, "bulk eigenvalue matching analysis").
    """
    evals = np.sort(np.asarray(eigenvalues, dtype=np.float64))
    m = evals.size
    k = np.arange(int(np.ceil(trim * m)), int(np.floor((1.0 - trim) * m)) + 1)
    k = k[(k >= 1) & (k <= m)]
    q = mp_quantile(k / m, beta)
    return float(np.dot(q, evals[k - 1]) / np.dot(q, q))


def sigma2_trace(eigenvalues: ArrayLike) -> float:
    """sigma^2 = tr(X)/M = ||W||_F^2 / (N M); unbiased only when W holds no signal."""
    return float(np.mean(np.asarray(eigenvalues, dtype=np.float64)))


def tracy_widom_edge(sigma2: float, n: int, m: int, level: float = TW_LEVEL) -> float:
    """Bulk edge with the Tracy–Widom margin: the level-quantile of the largest noise eigenvalue.

    tau = sigma^2 [mu_nm + q_level s_nm] / N with Johnstone's centring and scale
    mu_nm = (sqrt(N') + sqrt(M'))^2, s_nm = (sqrt(N') + sqrt(M'))(1/sqrt(N') + 1/sqrt(M'))^{1/3},
    N' = N - 1/2, M' = M - 1/2 (Johnstone, Ann. Stat. 29, 2001; Ma, Bernoulli 18, 2012), and q_level the
    TW1 quantile.  Eigenvalues of W^T W / N, W is N x M with N >= M.

    Parameters
    ----------
    level : float
        One of 0.90, 0.95, 0.99 (tabulated TW1 quantiles).
    """
    if level not in TW1_QUANTILES:
        raise ValueError(f"Tracy-Widom level must be one of {sorted(TW1_QUANTILES)}, got {level}")
    if n < m:
        n, m = m, n
    rn, rm = np.sqrt(n - 0.5), np.sqrt(m - 0.5)
    centre = (rn + rm) ** 2
    scale = (rn + rm) * (1.0 / rn + 1.0 / rm) ** (1.0 / 3.0)
    return float(sigma2 * (centre + TW1_QUANTILES[level] * scale) / n)


def spike_edge(eigenvalues: ArrayLike, n: int, m: int, sigma2: float, level: float = TW_LEVEL) -> float:
    """The edge above which an eigenvalue of W^T W / N is a spike: the larger of the Tracy–Widom edge of
    MP(M/N, sigma^2) at ``level`` (:func:`tracy_widom_edge`) and the numerical zero 10 M eps lambda_max.

    The second bound matters when sigma^2 = 0 (more than half the eigenvalues zero, so a zero median):
    the eigenvalues of a rank-deficient matrix that are zero up to rounding are not spikes.
    """
    evals = np.asarray(eigenvalues, dtype=np.float64)
    edge = tracy_widom_edge(sigma2, n, m, level) if sigma2 > 0 else 0.0
    zero = 10.0 * min(n, m) * np.finfo(np.float64).eps * float(evals.max(initial=0.0))
    return max(edge, zero)


def count_spikes(eigenvalues: ArrayLike, n: int, m: int, sigma2: float, level: float = TW_LEVEL) -> int:
    """The number of spikes: eigenvalues of W^T W / N above :func:`spike_edge` (Johnstone, Ann. Stat. 29, 2001).

    The one count behind the ``num_spikes`` column, merge-check's spike ranges and signal ranks, and the
    spikes of :func:`netspectra.rmt.spikes.spike_estimates`.
    """
    evals = np.asarray(eigenvalues, dtype=np.float64)
    return int(np.count_nonzero(evals > spike_edge(evals, n, m, sigma2, level)))


def _check_beta(beta: float) -> None:
    if not 0.0 < beta <= 1.0:
        raise ValueError(f"aspect ratio beta = M/N must lie in (0, 1], got {beta}")
