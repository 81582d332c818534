"""Outliers of a low-rank signal plus noise: detection threshold, location, strength and overlaps.

Rectangular additive model (Benaych-Georges & Nadakuditi, J. Multivar. Anal. 111, 2012, §3.1; the same
notation as Gavish & Donoho, IEEE TIT 60(8), 2014): W = sum_i theta_i u_i v_i^T + E, W is N x M with
N >= M, E has iid entries of mean 0 and variance sigma^2, beta = M/N, and the normalised strength of a
component is x_i = theta_i / (sigma sqrt(N)).  Eigenvalues are those of W^T W / N, singular values
of W are s = sqrt(N lambda), and y = s / (sigma sqrt(N)) = sqrt(lambda / sigma^2).  As N, M -> inf with
the rank fixed:

* a component is visible iff x > beta^{1/4} (BBP-type phase transition);
* its singular value tends to y(x) = sqrt((1 + x^2)(beta + x^2)) / x, i.e.
  lambda(x) = sigma^2 (1 + x^2)(beta + x^2) / x^2;
* the squared cosines between the empirical and true singular vectors tend to
  |<u_hat, u>|^2 = (x^4 - beta) / (x^2 (x^2 + 1)) (left, N-dimensional) and
  |<v_hat, v>|^2 = (x^4 - beta) / (x^2 (x^2 + beta)) (right, M-dimensional, eigenvectors of W^T W);
  both are 0 below the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from netspectra.defaults import TW_LEVEL
from netspectra.rmt.marchenko_pastur import mp_edges, spike_edge


def detection_threshold(beta: float) -> float:
    """Smallest visible normalised strength x_c = beta^{1/4} (Benaych-Georges & Nadakuditi 2012)."""
    return float(beta**0.25)


def outlier_eigenvalue(x: ArrayLike, beta: float, sigma2: float = 1.0) -> NDArray[np.float64]:
    """Limit of the eigenvalue of W^T W / N carried by a component of strength x.

    lambda(x) = sigma^2 (1 + x^2)(beta + x^2) / x^2 for x > beta^{1/4}; below the threshold the
    eigenvalue sticks to the bulk edge l+ = sigma^2 (1 + sqrt(beta))^2 (the two agree at x = beta^{1/4}).
    Benaych-Georges & Nadakuditi (2012), W is N x M with N >= M, beta = M/N.
    """
    x = np.asarray(x, dtype=np.float64)
    x2 = x * x
    with np.errstate(divide="ignore", invalid="ignore"):
        above = sigma2 * (1.0 + x2) * (beta + x2) / x2
    return np.where(x > detection_threshold(beta), above, mp_edges(beta, sigma2)[1])


def strength_from_eigenvalue(eigenvalue: ArrayLike, beta: float, sigma2: float = 1.0) -> NDArray[np.float64]:
    """Invert :func:`outlier_eigenvalue`: the strength x whose outlier sits at ``eigenvalue``.

    With y^2 = lambda / sigma^2 (y the normalised singular value),
    x(y) = sqrt([(y^2 - beta - 1) + sqrt((y^2 - beta - 1)^2 - 4 beta)] / 2) for y > 1 + sqrt(beta)
    (Benaych-Georges & Nadakuditi 2012; Gavish & Donoho 2017, the operator-norm shrinker).  Returns
    NaN at or below the bulk edge, where the strength is not identifiable.
    """
    y2 = np.asarray(eigenvalue, dtype=np.float64) / sigma2
    c = y2 - beta - 1.0
    disc = c * c - 4.0 * beta
    inside = y2 > (1.0 + np.sqrt(beta)) ** 2
    with np.errstate(invalid="ignore"):
        x = np.sqrt(0.5 * (c + np.sqrt(np.maximum(disc, 0.0))))
    return np.where(inside, x, np.nan)


def cos2_left(x: ArrayLike, beta: float) -> NDArray[np.float64]:
    """Limiting |<u_hat, u>|^2 = (x^4 - beta) / (x^2 (x^2 + 1)) for x > beta^{1/4}, else 0.

    u is the N-dimensional (left) singular vector of W (N x M, N >= M); Benaych-Georges &
    Nadakuditi (2012).  NaN strengths give NaN.
    """
    x = np.asarray(x, dtype=np.float64)
    x2 = x * x
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (x2 * x2 - beta) / (x2 * (x2 + 1.0))
    return np.where(np.isnan(x), np.nan, np.where(x > detection_threshold(beta), value, 0.0))


def cos2_right(x: ArrayLike, beta: float) -> NDArray[np.float64]:
    """Limiting |<v_hat, v>|^2 = (x^4 - beta) / (x^2 (x^2 + beta)) for x > beta^{1/4}, else 0.

    v is the M-dimensional (right) singular vector of W, an eigenvector of W^T W; Benaych-Georges &
    Nadakuditi (2012).  NaN strengths give NaN.
    """
    x = np.asarray(x, dtype=np.float64)
    x2 = x * x
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (x2 * x2 - beta) / (x2 * (x2 + beta))
    return np.where(np.isnan(x), np.nan, np.where(x > detection_threshold(beta), value, 0.0))


@dataclass(frozen=True)
class SpikeEstimates:
    """Outliers above the Tracy–Widom edge and their signal-plus-noise interpretation.

    Attributes
    ----------
    edge : float
        Tracy–Widom edge tau used for detection (eigenvalue units of W^T W / N).
    eigenvalues : ndarray
        Outlier eigenvalues (> edge), descending.
    strengths : ndarray
        Estimated normalised strengths x_hat = x(sqrt(lambda / sigma^2)), same order.
    cos2_left, cos2_right : ndarray
        Predicted squared cosines of the left (N-dim) and right (M-dim) singular vectors at x_hat.
    """

    edge: float
    eigenvalues: NDArray[np.float64]
    strengths: NDArray[np.float64]
    cos2_left: NDArray[np.float64]
    cos2_right: NDArray[np.float64]

    @property
    def num_spikes(self) -> int:
        """Number of eigenvalues above the edge."""
        return int(self.eigenvalues.size)


def spike_estimates(
    eigenvalues: ArrayLike, n: int, m: int, sigma2: float, level: float = TW_LEVEL, *, threshold: float | None = None
) -> SpikeEstimates:
    """Count and interpret the eigenvalues above the Tracy–Widom edge.

    An eigenvalue lambda of W^T W / N (W is N x M, N >= M, beta = M/N) is a spike when
    lambda > tau = :func:`~netspectra.rmt.marchenko_pastur.spike_edge` (the Tracy–Widom edge at ``level``
    above numerical zero; Johnstone, Ann. Stat. 29, 2001).  Each spike's strength is estimated by inverting the
    Benaych-Georges–Nadakuditi location map, and its singular-vector overlaps are predicted from that
    strength (plug-in estimates, consistent as N, M -> inf at fixed rank).

    Parameters
    ----------
    eigenvalues : array_like
        Eigenvalues of W^T W / N (any order).
    n, m : int
        Matrix shape, N >= M (swapped if given the other way round).
    sigma2 : float
        Noise entry variance, e.g. from :func:`~netspectra.rmt.marchenko_pastur.sigma2_median`.
    level : float
        Tracy–Widom quantile of the edge (0.90, 0.95 or 0.99).
    threshold : float, optional
        A higher detection edge, e.g. the noise ceiling of the layer's own entries
        (:meth:`~netspectra.rmt.entry_null.EntryNull.noise_ceiling`), which sparse or heavy-tailed noise
        needs: its outliers are not a low-rank signal.
    """
    if n < m:
        n, m = m, n
    beta = m / n
    evals = np.asarray(eigenvalues, dtype=np.float64)
    tau = max(spike_edge(evals, n, m, sigma2, level), threshold if threshold is not None else -np.inf)
    outliers = np.sort(evals[evals > tau])[::-1]
    x = strength_from_eigenvalue(outliers, beta, sigma2)
    return SpikeEstimates(
        edge=tau,
        eigenvalues=outliers,
        strengths=x,
        cos2_left=cos2_left(x, beta),
        cos2_right=cos2_right(x, beta),
    )
