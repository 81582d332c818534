"""Truncated power-law tail fit: p(x) = x^-alpha e^(-Lambda x) / Z on x >= xmin, xmin by minimum KS distance.

WeightWatcher's ``fit='TPL'`` (Martin & Mahoney, JMLR 22(165), 2021; CalculatedContent/WeightWatcher,
``fit_powerlaw``) asks the ``powerlaw`` package (Alstott, Bullmore & Plenz, PLoS ONE 9(1), 2014) for
``Fit(evals, xmin_distribution='truncated_power_law')``: for every candidate xmin, the truncated power law
fitted by maximum likelihood on the tail x >= xmin, and xmin where the KS distance between the tail's
empirical CDF and the fitted CDF is smallest (Clauset, Shalizi & Newman, SIAM Rev. 51, 2009, §3.3 with
the alternative distribution in place of the power law); it reports that fit's alpha and Lambda.
``fit='E_TPL'`` is the same with xmin restricted to the window around the peak of the ESD
(:func:`~netspectra.rmt.tail_tests.xmin_peak_range`).

Here the maximum-likelihood fit at each candidate is exact (Newton's method on the exponential family,
:func:`~netspectra.rmt.tail_tests.truncated_power_law_loglik`; alpha any real, Lambda >= 0, Lambda = 0
where the power law itself is the maximum) and the CDF is integrated to 1e-12
(:func:`~netspectra.rmt.tail_tests.truncated_power_law_cdf`), where ``powerlaw`` 2.0 runs Nelder–Mead to
1e-4 with alpha clamped to [0, 3].  Candidates and the empirical CDF follow
:func:`~netspectra.rmt.powerlaw.fit_power_law`.

Eigenvalue convention: values are eigenvalues of W^T W / N (W is N x M, N >= M); alpha is scale free,
Lambda is in the inverse units of the values (times N for WeightWatcher's s_i^2 units).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from netspectra.defaults import MIN_TAIL
from netspectra.rmt.powerlaw import MIN_LOG_RANGE, xmin_candidates
from netspectra.rmt.tail_tests import truncated_power_law_cdf, truncated_power_law_loglik

#: Candidates scanned exactly; beyond, a grid of :data:`_GRID` candidates refined around its minimum.
_EXACT_CANDIDATES = 4000
_GRID = 256


@dataclass(frozen=True)
class TruncatedPowerLawFit:
    """Result of :func:`fit_truncated_power_law`.

    Attributes
    ----------
    alpha : float
        Exponent of x^-alpha (any real: the cut-off keeps the law normalisable).
    rate : float
        Lambda of the cut-off e^(-Lambda x), >= 0, in inverse units of the values.
    xmin, xmax : float
        Smallest and largest value of the fitted tail.
    ks_distance : float
        KS distance of the tail to the fitted truncated power law.
    num_tail : int
        Values >= xmin.
    num_candidates : int
        xmin candidates in the range.
    """

    alpha: float
    rate: float
    xmin: float
    xmax: float
    ks_distance: float
    num_tail: int
    num_candidates: int


def fit_truncated_power_law(
    values: ArrayLike,
    *,
    xmin_range: tuple[float | None, float | None] = (None, None),
    min_tail: int = MIN_TAIL,
) -> TruncatedPowerLawFit:
    """Fit x^-alpha e^(-Lambda x) to the upper tail of ``values``, xmin by minimum KS distance.

    Parameters
    ----------
    values : array_like
        Positive samples (eigenvalues); values <= 0 are dropped.
    xmin_range : (lo, hi)
        Candidates are the unique values in [lo, hi) except the largest, as in
        :func:`~netspectra.rmt.powerlaw.fit_power_law` (None ends: the smallest value, and the value leaving
        ``min_tail`` points above it).
    min_tail : int
        For the default upper end of ``xmin_range``.

    Raises
    ------
    ValueError
        Fewer than 3 positive values, or no candidate with a non-degenerate tail.
    """
    x, cand = xmin_candidates(values, xmin_range, min_tail, "truncated power-law")
    cand = cand[np.log(x[-1]) - np.log(x[cand]) > MIN_LOG_RANGE]
    if cand.size < 1:
        raise ValueError("no xmin candidate with a non-degenerate tail in the requested range")
    below = np.searchsorted(x, x, side="left")
    memo: dict[int, tuple[float, float, float]] = {}

    def distance(position: int) -> float:
        if position not in memo:
            memo[position] = _fit_at(x, below, int(cand[position]))
        return memo[position][2]

    best = _argmin(distance, cand.size)
    alpha, rate, d = memo[best]
    k = int(cand[best])
    return TruncatedPowerLawFit(alpha, rate, float(x[k]), float(x[-1]), d, int(x.size - k), int(cand.size))


def _fit_at(x: np.ndarray, below: np.ndarray, k: int) -> tuple[float, float, float]:
    """(alpha, Lambda, KS distance) of the maximum-likelihood truncated power law on the tail x[k:]."""
    tail, xmin = x[k:], float(x[k])
    alpha_pl = 1.0 + tail.size / float(np.sum(np.log(tail / xmin)))
    (alpha, rate), _ = truncated_power_law_loglik(tail, xmin, alpha_pl)
    theory = truncated_power_law_cdf(tail, xmin, alpha, rate)
    empirical = (below[k:] - k) / tail.size
    return float(alpha), float(rate), float(np.max(np.abs(theory - empirical)))


def _argmin(distance: Callable[[int], float], count: int) -> int:
    """Position of the smallest ``distance(position)`` among ``count``: every one up to
    :data:`_EXACT_CANDIDATES`, else a grid of :data:`_GRID` refined between the neighbours of its minimum
    (the exact minimum where the distance is unimodal around it, a local one otherwise)."""
    lo, hi = 0, count
    while True:
        positions = np.unique(np.linspace(lo, hi - 1, min(hi - lo, _GRID if count > _EXACT_CANDIDATES else hi - lo)).round())
        values = [distance(int(p)) for p in positions]
        j = int(np.argmin(values))
        if positions.size == hi - lo:
            return int(positions[j])
        lo, hi = int(positions[max(j - 1, 0)]), int(positions[min(j + 1, positions.size - 1)]) + 1
