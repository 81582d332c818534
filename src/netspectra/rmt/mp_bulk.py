"""Marchenko–Pastur fit of the bulk: width sigma^2, area A (spectral weight in the bulk), KS fit quality.

Aarts, Hajizadeh, Lucini & Park (arXiv 2411.13512) fit A * MP(x; sigma^2) to the ESD of
W^T W during training and track two numbers per matrix: the width sigma^2, which grows as SGD acts like
Dyson Brownian motion, and the area A < 1 left in the MP part as 15–25% of the spectral weight moves
into a power-law tail.  Here A is the fraction of the spectral weight (the trace, sum of eigenvalues)
inside the fitted bulk [0, tau], tau the Tracy–Widom edge of the fitted law, so that
"weight moved to the tail" is 1 - A, one number per layer.

Width estimator: one trimming step of the median estimator.  sigma^2_0 = median(lambda) / mu_beta
(Gavish & Donoho, IEEE TIT 60(8), 2014; mu_beta the median of MP(beta, 1)), then
sigma^2 = median{lambda <= tau(sigma^2_0)} / mu_beta.  The median is robust (breakdown 50%) and needs no
binning.  When a fraction 1 - A_count of the eigenvalues has left the bulk the plain median is biased
upward (it is the MP quantile at 1 / (2 A_count)); the trimming step removes spikes and a tail that
starts above the first edge.  The step is not iterated to a fixed point: on a broad non-MP spectrum
(bulk decay, mixed noise levels) repeated trimming erodes the spectrum into a small lower sub-bulk
that fits MP well, hiding the misfit the KS test should report.  A histogram least-squares fit would
add a bin-width choice and, for trained layers with a contiguous tail, weight the tail bins.

Eigenvalue convention: eigenvalues of W^T W / N, W is N x M with N >= M, beta = M/N.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

from netspectra.defaults import DEPTH_TW_LEVEL
from netspectra.rmt.ks import ks_sf
from netspectra.rmt.marchenko_pastur import mp_cdf, mp_edges, mp_median, tracy_widom_edge
from netspectra.rmt.search import golden_section_minimum


@dataclass(frozen=True)
class MPBulkFit:
    """Result of :func:`fit_mp_bulk`.

    Attributes
    ----------
    sigma2 : float
        Fitted MP width sigma^2 (the noise entry variance).
    edge : float
        Tracy–Widom edge tau of MP(beta, sigma^2) at the requested level; the bulk is [0, tau].
    area : float
        A = sum_{lambda <= tau} lambda / sum lambda, the spectral weight inside the bulk.
    count_fraction : float
        Fraction of eigenvalues inside the bulk.
    ks_distance : float
        KS distance of the bulk eigenvalues to MP(beta, sigma^2) truncated at tau.
    ks_pvalue : float
        p-value of ``ks_distance`` under the iid one-sample KS law with n = bulk size.
    num_bulk : int
        Number of eigenvalues in the bulk.
    """

    sigma2: float
    edge: float
    area: float
    count_fraction: float
    ks_distance: float
    ks_pvalue: float
    num_bulk: int

    @property
    def tail_weight(self) -> float:
        """1 - A, the fraction of the spectral weight outside the bulk."""
        return 1.0 - self.area


def fit_mp_bulk(eigenvalues: ArrayLike, n: int, m: int, *, level: float = DEPTH_TW_LEVEL) -> MPBulkFit:
    """Fit MP(beta, sigma^2) to the bulk and measure the spectral weight outside it.

    Parameters
    ----------
    eigenvalues : array_like
        Eigenvalues of W^T W / N (W is N x M, N >= M; pooled over a stack is fine).
    n, m : int
        Matrix shape (swapped if N < M); beta = M/N.
    level : float
        Tracy–Widom quantile of the bulk edge (0.90, 0.95 or 0.99; Johnstone, Ann. Stat. 29, 2001).

    Returns
    -------
    MPBulkFit
        The KS p-value is exact for iid draws from the fitted law; eigenvalues are far more rigid than
        iid points and sigma^2 is fitted to the same data, so for an MP bulk it is conservative (close
        to 1): read a small value as a clear departure from MP, not a large one as proof.

    Raises
    ------
    ValueError
        If the trace is not positive, half the eigenvalues are numerically zero (below
        10 n eps lambda_max), or the bulk holds fewer than 2.
    """
    if n < m:
        n, m = m, n
    beta = m / n
    evals = np.sort(np.asarray(eigenvalues, dtype=np.float64))
    total = float(evals.sum())
    if not total > 0:
        raise ValueError("MP bulk fit needs a spectrum with positive trace")
    if np.median(evals) <= 10.0 * evals.size * np.finfo(np.float64).eps * evals[-1]:
        raise ValueError("MP bulk fit needs fewer than half of the eigenvalues at (numerical) zero")
    mu = mp_median(beta)
    first_edge = tracy_widom_edge(float(np.median(evals)) / mu, n, m, level)
    trimmed = evals[evals <= first_edge]
    if trimmed.size < 2:
        raise ValueError("the fitted MP bulk holds fewer than 2 eigenvalues")
    sigma2 = float(np.median(trimmed)) / mu
    edge = tracy_widom_edge(sigma2, n, m, level)
    bulk = evals[evals <= edge]
    cdf_edge = float(mp_cdf(edge, beta, sigma2))
    distance = _ks_truncated(bulk, beta, sigma2, cdf_edge)
    return MPBulkFit(
        sigma2=sigma2,
        edge=edge,
        area=float(bulk.sum()) / total,
        count_fraction=bulk.size / evals.size,
        ks_distance=distance,
        ks_pvalue=ks_sf(distance, bulk.size),
        num_bulk=int(bulk.size),
    )


def _ks_truncated(bulk: np.ndarray, beta: float, sigma2: float, cdf_edge: float) -> float:
    """Two-sided KS distance of sorted ``bulk`` to F_MP(x; beta, sigma^2) / F_MP(tau)."""
    f = mp_cdf(bulk, beta, sigma2) / cdf_edge
    i = np.arange(1, bulk.size + 1)
    return float(max(np.max(i / bulk.size - f), np.max(f - (i - 1) / bulk.size)))


def mp_log_likelihood(eigenvalues: ArrayLike, n: int, m: int) -> tuple[float, float]:
    """Maximised log-likelihood of the finite-N MP law: (max over sigma^2 of sum log f, argmax sigma^2).

    f is MP(beta, sigma^2) convolved with a Gaussian of standard deviation h = sigma^2 s_N,
    s_N = N^(-2/3) (1 + sqrt(beta))^(4/3) beta^(-1/6) the Tracy–Widom scale of the largest eigenvalue
    (Johnstone, Ann. Stat. 29, 2001): the exact MP density vanishes outside [l-, l+], so the plain
    likelihood of a finite matrix, whose extreme eigenvalues fluctuate past the edges by O(s_N), would
    be -inf about half the time.  Beyond the edges f decays like a Gaussian, so spikes and heavy tails
    still cost what they should.  sigma^2 is found by golden-section search on log sigma^2 within a
    factor e^0.7 of the median estimator, to 1e-8 in log sigma^2.

    Eigenvalues of W^T W / N, W is N x M (N >= M), beta = M/N; values <= 0 are dropped.
    """
    if n < m:
        n, m = m, n
    lam = np.asarray(eigenvalues, dtype=np.float64)
    lam = lam[lam > 0]
    grid, log_f, edges, width = _smoothed_mp_table(m / n, n)

    def negative(log_sigma2: float) -> float:
        t = lam / np.exp(log_sigma2)
        inside = np.interp(t, grid, log_f)
        beyond_hi = log_f[-1] - ((t - edges[1]) ** 2 - (grid[-1] - edges[1]) ** 2) / (2.0 * width**2)
        beyond_lo = log_f[0] - ((edges[0] - t) ** 2 - (edges[0] - grid[0]) ** 2) / (2.0 * width**2)
        log_density = np.where(t > grid[-1], beyond_hi, np.where(t < grid[0], beyond_lo, inside))
        return -(float(np.sum(log_density)) - lam.size * log_sigma2)

    centre = np.log(float(np.median(lam)) / mp_median(m / n))
    bounds = (centre - 0.7, centre + 0.7)
    best = golden_section_minimum(negative, *bounds, tolerance=1e-8)
    return -negative(best), float(np.exp(best))


@lru_cache(maxsize=64)
def _smoothed_mp_table(beta: float, n: int) -> tuple[np.ndarray, np.ndarray, tuple[float, float], float]:
    """log of MP(beta, 1) convolved with N(0, s_N^2) on a grid of step s_N/4 reaching 12 s_N past each edge."""
    width = n ** (-2.0 / 3.0) * (1.0 + np.sqrt(beta)) ** (4.0 / 3.0) * beta ** (-1.0 / 6.0)
    lo, hi = mp_edges(beta)
    step = width / 4.0
    grid = np.arange(lo - 12.0 * width, hi + 12.0 * width + step, step)
    masses = np.diff(mp_cdf(np.concatenate([grid - step / 2, grid[-1:] + step / 2]), beta))
    offsets = np.arange(-48, 49) * step
    kernel = np.exp(-0.5 * (offsets / width) ** 2)
    density = np.convolve(masses, kernel / (kernel.sum() * step), mode="same")
    return grid, np.log(np.maximum(density, np.finfo(float).tiny)), (lo, hi), width
