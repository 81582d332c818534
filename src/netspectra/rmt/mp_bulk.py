"""Marchenko–Pastur fit of the bulk: width sigma^2, area A (spectral weight in the bulk), KS fit quality.

Aarts, Hajizadeh, Lucini & Park (arXiv 2411.13512; seed talk 003) fit A * MP(x; sigma^2) to the ESD of
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

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from netspectra.rmt.marchenko_pastur import mp_cdf, mp_median, tracy_widom_edge


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


def fit_mp_bulk(eigenvalues: ArrayLike, n: int, m: int, *, level: float = 0.99) -> MPBulkFit:
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
        If the trace is not positive, half the eigenvalues are zero, or the bulk holds fewer than 2.
    """
    if n < m:
        n, m = m, n
    beta = m / n
    evals = np.sort(np.asarray(eigenvalues, dtype=np.float64))
    total = float(evals.sum())
    if not total > 0:
        raise ValueError("MP bulk fit needs a spectrum with positive trace")
    mu = mp_median(beta)
    first_edge = tracy_widom_edge(float(np.median(evals)) / mu, n, m, level)
    trimmed = evals[evals <= first_edge]
    if trimmed.size < 2:
        raise ValueError("the fitted MP bulk holds fewer than 2 eigenvalues")
    sigma2 = float(np.median(trimmed)) / mu
    if not sigma2 > 0:
        raise ValueError("MP bulk fit needs fewer than half of the eigenvalues at zero")
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
        ks_pvalue=float(stats.kstwo.sf(distance, bulk.size)),
        num_bulk=int(bulk.size),
    )


def _ks_truncated(bulk: np.ndarray, beta: float, sigma2: float, cdf_edge: float) -> float:
    """Two-sided KS distance of sorted ``bulk`` to F_MP(x; beta, sigma^2) / F_MP(tau)."""
    f = mp_cdf(bulk, beta, sigma2) / cdf_edge
    i = np.arange(1, bulk.size + 1)
    return float(max(np.max(i / bulk.size - f), np.max(f - (i - 1) / bulk.size)))
