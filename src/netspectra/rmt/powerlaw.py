"""Power-law tail of an eigenvalue spectrum: continuous MLE with xmin chosen by minimum KS distance.

Clauset, Shalizi & Newman, "Power-law distributions in empirical data", SIAM Rev. 51(4), 2009 (CSN).
The continuous power law p(x) = (alpha - 1)/xmin (x/xmin)^(-alpha), x >= xmin, has the MLE
alpha_hat = 1 + n / sum_{x_i >= xmin} ln(x_i/xmin) and standard error (alpha_hat - 1)/sqrt(n).  xmin is the
candidate minimising the Kolmogorov–Smirnov distance between the tail's empirical CDF and the fitted
CDF F(x) = 1 - (x/xmin)^(1 - alpha).

The conventions follow the ``powerlaw`` package (Alstott, Bullmore & Plenz, PLoS ONE 2014), so that the
two agree to rounding: candidates are the unique data values in [lo, hi) except the largest, the
empirical CDF at a tail point x_i is #{tail values < x_i} / n_tail, and
D = max(max(F - C), max(C - F)) over the tail points.  Unlike ``powerlaw`` 2.0.0 (whose default
parameter range clamps alpha to [0, 3] and which switches to Nelder–Mead with tol 1e-4 outside (1.5, 3]),
alpha is always the exact closed-form MLE.  The xmin scan is vectorised: all candidates' alphas come
from suffix sums in O(n), and the KS distances in blocks of O(n K) array operations.

Uncertainty (``alpha_lo``, ``alpha_hi``).  CSN's standard error covers the sampling noise of alpha at the
chosen xmin, not the choice of xmin, which is where a finite spectrum misleads: the tail fitted from
inside the bulk of an MP spectrum mixes in its steep edge (a Gaussian bulk with a planted 10% Pareto(2.5)
tail gives alpha 3.2 on average at 128 x 64 and 256 x 64, 2.9-3.1 at M = 128 to 256, and alpha -+ 1.645
alpha_se covers 2.5 in a third to two thirds of the draws), and a power law fitted to the top of pure
noise can look like a trained layer's (alpha 2.5 to 5.2 at 128 x 64).  The interval therefore takes every xmin at which
the tail is a power law by the data: for a fixed xmin, ln(x / xmin) of a power-law tail is exponential
with rate alpha - 1, so the tail's KS distance D to its own MLE fit is Lilliefors' exponential
statistic, and xmin is *plausible* when Stephens' modified statistic (D - 0.2/n)(sqrt(n) + 0.26 +
0.5/sqrt(n)) stays below its 10% point 0.990 (Stephens, JASA 69(347), 1974, Table 1A; n the tail
size, at least ``min_tail`` + 1) and its tail keeps at least 15% of the fitted one's values.  The
interval is the union over the plausible xmin (and the chosen one) of alpha -+ :data:`ALPHA_Z`
(alpha - 1)/sqrt(n).  Measured coverage of the planted exponent (``benchmarks/coverage.py``; Gaussian
bulk + 10% Pareto tail, aspect ratios 1, 2, 4, M = 64 to 1024, 8-30 draws per cell): alpha = 2.5, 3 and
4 in 93-100% of draws in every cell, where alpha -+ 1.645 alpha_se covered 33-97%; alpha = 2 in 90-100%
except at M = 64 with N = 2M and 4M (80% and 70%: six tail eigenvalues).  Pure Gaussian noise: alpha_lo
above 6 at M = 1024 in 20 of 24 draws, never at M <= 256 (whose alpha, 2.5 to 15, says nothing).

Eigenvalue convention: the fit is scale invariant, so it may be given eigenvalues of W^T W / N or of
W^T W; netspectra passes those of W^T W / N (W is N x M, N >= M).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from netspectra.defaults import MIN_TAIL

#: Largest number of (candidate, point) pairs evaluated at once in the KS scan (bounds memory to ~32 MB).
_BLOCK_ELEMENTS = 4_000_000
#: Candidates per block at most: a block spans the points from its smallest candidate on, so small blocks
#: skip most of the (candidate, point-below-xmin) pairs that do not count.
_BLOCK_CANDIDATES = 64
#: Most (candidate, point) pairs of one KS scan: 20,000 values are scanned exactly over every candidate
#: (every dense layer up to M = 20,000); a larger sample (a conv stack of 100k positions pools 1.6M
#: eigenvalues, an exact scan of which takes hours) is scanned on a grid refined around its minimum.
_SCAN_PAIRS = 20_000**2
#: Fewest candidates per level of the refined grid.
_MIN_GRID = 64
#: Half-width of each plausible xmin's alpha interval in standard errors (the 90% normal quantile).
ALPHA_Z = 1.645
#: 10% point of Stephens' modified Lilliefors statistic for an exponential of unknown rate (JASA 69, 1974).
PLAUSIBLE_KS = 0.990
#: Plausible xmin keep at least this share of the fitted tail: shorter tails are the top few eigenvalues,
#: whose own sampling noise would widen the interval of a clean power law 2x (400 Pareto(1.5) values: width
#: 0.29 instead of 0.56) for no coverage gained (measured, benchmarks/coverage.py).
TAIL_SHARE = 0.15
#: A tail whose values span less than this in ln(x) (relative spread 1e-9) is equal to rounding error
#: (e.g. an orthogonal matrix, whose eigenvalues are all 1): no exponent can be read from it.
MIN_LOG_RANGE = 1e-9


@dataclass(frozen=True)
class PowerLawFit:
    """Result of :func:`fit_power_law`.

    Attributes
    ----------
    alpha : float
        Tail exponent of p(x) ~ x^(-alpha).
    alpha_se : float
        Asymptotic standard error (alpha - 1)/sqrt(num_tail) (CSN eq. 3.2).
    alpha_lo, alpha_hi : float
        Interval of alpha over the plausible xmin (module docstring).
    xmin, xmax : float
        Smallest and largest eigenvalue of the fitted tail.
    ks_distance : float
        Two-sided KS distance D of the tail to the fitted power law.
    num_tail : int
        Number of eigenvalues >= xmin.
    num_candidates : int
        Number of xmin candidates scanned.
    """

    alpha: float
    alpha_se: float
    alpha_lo: float
    alpha_hi: float
    xmin: float
    xmax: float
    ks_distance: float
    num_tail: int
    num_candidates: int

    @classmethod
    def of_tail(
        cls, x: np.ndarray, k: int, alpha: float, ks_distance: float, counts: tuple[int, int], interval: tuple[float, float]
    ) -> PowerLawFit:
        """The fit of the tail ``x[k:]`` of the ascending values ``x``; ``counts`` = (num_tail, num_candidates),
        ``interval`` = (alpha_lo, alpha_hi); the standard error from CSN eq. 3.2."""
        num_tail, num_candidates = counts
        lo, hi = interval
        se = (alpha - 1.0) / np.sqrt(num_tail)
        return cls(alpha, se, lo, hi, float(x[k]), float(x[-1]), ks_distance, num_tail, num_candidates)


def power_law_alpha(tail: ArrayLike, xmin: float) -> float:
    """Closed-form continuous MLE alpha = 1 + n / sum ln(x_i / xmin) over x_i >= xmin (CSN eq. 3.1)."""
    x = np.asarray(tail, dtype=np.float64)
    x = x[x >= xmin]
    return float(1.0 + x.size / np.sum(np.log(x / xmin)))


def default_xmin_range(sorted_values: np.ndarray, min_tail: int) -> tuple[float, float]:
    """[lo, hi) such that every candidate xmin leaves at least ``min_tail`` + 1 points in the tail."""
    n = sorted_values.size
    hi_index = max(n - min_tail, 1)
    return float(sorted_values[0]), float(sorted_values[min(hi_index, n - 1)])


def xmin_candidates(
    values: ArrayLike, xmin_range: tuple[float | None, float | None], min_tail: int, fit: str
) -> tuple[np.ndarray, np.ndarray]:
    """The positive ``values``, sorted, and the indices of the xmin candidates among them: the first of each
    unique value in ``xmin_range`` = [lo, hi) but the largest (the ``powerlaw`` package's rule; None ends are
    those of :func:`default_xmin_range`).

    Raises
    ------
    ValueError
        Fewer than 3 positive values (the message names the ``fit``).
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    x = x[x > 0]
    if x.size < 3:
        raise ValueError(f"{fit} fit needs at least 3 positive values, got {x.size}")
    lo_default, hi_default = default_xmin_range(x, min_tail)
    lo = lo_default if xmin_range[0] is None else xmin_range[0]
    hi = hi_default if xmin_range[1] is None else xmin_range[1]
    unique_vals, first_index = np.unique(x, return_index=True)
    return x, first_index[(unique_vals >= lo) & (unique_vals < hi)][:-1]


def fit_power_law(
    values: ArrayLike,
    *,
    xmin_range: tuple[float | None, float | None] = (None, None),
    min_tail: int = MIN_TAIL,
) -> PowerLawFit:
    """Fit a continuous power law to the upper tail of ``values`` (CSN 2009).

    Parameters
    ----------
    values : array_like
        Positive samples (eigenvalues of W^T W / N); values <= 0 are dropped.
    xmin_range : (lo, hi)
        Candidates are the unique values v with lo <= v < hi, except the largest of them (the
        ``powerlaw`` package's rule).  ``None`` ends default to the smallest value and to the value
        leaving ``min_tail`` points above it.
    min_tail : int
        Used for the default upper end of ``xmin_range``.

    Returns
    -------
    PowerLawFit

    Raises
    ------
    ValueError
        If fewer than two candidates exist or every candidate's tail is degenerate.
    """
    x, cand = xmin_candidates(values, xmin_range, min_tail, "power-law")
    if cand.size < 1:
        raise ValueError("fewer than two xmin candidates in the requested range")

    n = x.size
    logx = np.log(x)
    suffix = np.cumsum(logx[::-1])[::-1]  # suffix[k] = sum_{i >= k} ln x_i
    tail_size = n - cand
    denom = suffix[cand] - tail_size * logx[cand]
    with np.errstate(divide="ignore", invalid="ignore"):
        alphas = 1.0 + tail_size / denom
    ok = np.isfinite(alphas) & (denom > 0) & (logx[-1] - logx[cand] > MIN_LOG_RANGE)
    if not ok.any():
        raise ValueError("every xmin candidate has a degenerate tail (values equal to rounding)")
    cand, alphas, tail_size = cand[ok], alphas[ok], tail_size[ok]

    below = np.searchsorted(x, x, side="left")  # #values < x_i, the powerlaw package's CDF numerator
    best, scanned, distances = _best_candidate(x, logx, below, cand, alphas, tail_size)
    k = int(cand[best])
    alpha = float(alphas[best])
    m = int(tail_size[best])
    lo, hi = alpha_interval(alphas[scanned], tail_size[scanned], distances, int(np.flatnonzero(scanned == best)[0]))
    distance = float(distances[scanned == best][0])
    return PowerLawFit.of_tail(x, k, alpha, distance, (m, int(cand.size)), (lo, hi))


def alpha_interval(alphas: np.ndarray, tail_size: np.ndarray, distances: np.ndarray, best: int) -> tuple[float, float]:
    """(alpha_lo, alpha_hi): the union of alpha -+ :data:`ALPHA_Z` (alpha - 1)/sqrt(n) over the xmin candidates
    whose tail of n values is a power law at the 10% level by Stephens' modified Lilliefors statistic
    (D - 0.2/n)(sqrt(n) + 0.26 + 0.5/sqrt(n)) <= :data:`PLAUSIBLE_KS` and keeps at least :data:`TAIL_SHARE`
    of the chosen tail's values, and the chosen one ``best`` (module docstring)."""
    n = tail_size.astype(np.float64)
    root = np.sqrt(n)
    plausible = ((distances - 0.2 / n) * (root + 0.26 + 0.5 / root) <= PLAUSIBLE_KS) & (n >= TAIL_SHARE * n[best])
    plausible[best] = True
    half = ALPHA_Z * (alphas[plausible] - 1.0) / root[plausible]
    return float(np.min(alphas[plausible] - half)), float(np.max(alphas[plausible] + half))


def _best_candidate(
    x: np.ndarray, logx: np.ndarray, below: np.ndarray, cand: np.ndarray, alphas: np.ndarray, tail_size: np.ndarray
) -> tuple[int, np.ndarray, np.ndarray]:
    """Position in ``cand`` of the smallest KS distance, the positions scanned (ascending) and their distances.

    Exact (every candidate) while candidates x values <= :data:`_SCAN_PAIRS`.  Beyond, a grid of
    ``_SCAN_PAIRS // n`` evenly spaced candidates (at least :data:`_MIN_GRID`) is scanned, then again
    between the two grid neighbours of its minimum, until the bracket holds no more candidates than a
    grid: the exact minimum where the KS distance is unimodal around it, a local one otherwise.
    """
    per_level = max(_MIN_GRID, _SCAN_PAIRS // x.size)
    if cand.size <= per_level:  # every candidate: the exact scan (every dense layer up to M = 20,000)
        distances = ks_distances(x, logx, below, cand, alphas, tail_size)
        return int(np.argmin(distances)), np.arange(cand.size), distances
    scanned: dict[int, float] = {}
    lo, hi = 0, cand.size  # bracket [lo, hi) of candidate positions
    while True:
        positions = np.unique(np.linspace(lo, hi - 1, min(per_level, hi - lo)).round().astype(np.intp))
        distances = ks_distances(x, logx, below, cand[positions], alphas[positions], tail_size[positions])
        scanned.update(zip(positions.tolist(), distances.tolist()))
        j = int(np.argmin(distances))
        if positions.size == hi - lo:
            order = np.array(sorted(scanned), dtype=np.intp)
            return int(positions[j]), order, np.array([scanned[int(i)] for i in order])
        lo, hi = int(positions[max(j - 1, 0)]), int(positions[min(j + 1, positions.size - 1)]) + 1


def ks_distances(
    x: np.ndarray,
    logx: np.ndarray,
    below: np.ndarray,
    cand: np.ndarray,
    alphas: np.ndarray,
    tail_size: np.ndarray,
) -> np.ndarray:
    """KS distance of each candidate's tail to its fitted power law, in blocks of candidates.

    For candidate k (tail x_k..x_{n-1}, m = n - k points): C_i = (below_i - k)/m,
    F_i = 1 - exp((1 - alpha_k)(ln x_i - ln x_k)), D_k = max_i |F_i - C_i| over i >= k.  ``below`` is the
    empirical CDF's numerator: #values < x_i (the ``powerlaw`` package), or i (WeightWatcher's j / n).
    """
    n = x.size
    out = np.empty(cand.size)
    block = max(1, min(_BLOCK_CANDIDATES, _BLOCK_ELEMENTS // n))
    for start in range(0, cand.size, block):
        ks = cand[start : start + block]
        first = int(ks.min())
        cols = logx[first:]
        a = alphas[start : start + block, None]
        m = tail_size[start : start + block, None].astype(np.float64)
        # points below xmin have a positive exponent; they are masked below, so clip them to 0 first
        theory = -np.expm1(np.minimum((1.0 - a) * (cols[None, :] - logx[ks][:, None]), 0.0))
        empirical = (below[first:][None, :] - ks[:, None]) / m
        diff = np.abs(theory - empirical)
        diff[np.arange(first, n)[None, :] < ks[:, None]] = 0.0  # points below xmin are not in the tail
        out[start : start + block] = diff.max(axis=1)
    return out
