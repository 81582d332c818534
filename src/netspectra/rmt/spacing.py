"""Level statistics of the bulk: nearest-neighbour spacings and the spacing ratio.

Short-range correlations of eigenvalues are universal: a real random matrix (GOE, or the bulk of a
Wishart matrix W^T W / N) repels its levels and the unfolded spacings follow the Wigner surmise
P(s) = (pi/2) s exp(-pi s^2 / 4), while uncorrelated levels give Poisson spacings P(s) = exp(-s)
(Mehta, Random Matrices, 3rd ed. 2004, §1.5).  Aarts, Lucini & Park (PRE 111, 015303, 2025;
arXiv 2407.16427) and Aarts, Hajizadeh, Lucini & Park (arXiv 2411.13512) track the spacing
distribution of W^T W during training and find the surmise throughout.

* Unfolding maps eigenvalues to a unit mean density: xi_i = n F(lambda_i), with F the fitted MP CDF
  (sigma^2 known) or a polynomial fit of the staircase; 10% of the levels at each edge are dropped.
* The spacing ratio r_n = min(s_n, s_{n-1}) / max(s_n, s_{n-1}) needs no unfolding (Oganesyan & Huse,
  PRB 75, 155111, 2007; Atas, Bogomolny, Giraud & Roux, PRL 110, 084101, 2013): <r> = 2 ln 2 - 1 =
  0.3863 for Poisson levels and 0.5307 for large GOE matrices.

Eigenvalue convention: eigenvalues of W^T W / N, W is N x M with N >= M.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.polynomial import Polynomial
from numpy.typing import ArrayLike, NDArray

from netspectra.defaults import DEPTH_TW_LEVEL
from netspectra.rmt.marchenko_pastur import mp_cdf, tracy_widom_edge

#: <r> for Poisson levels, 2 ln 2 - 1 (Atas et al. 2013).
POISSON_MEAN_RATIO = 2.0 * np.log(2.0) - 1.0
#: <r> for large GOE matrices (Atas et al. 2013, numerics).
GOE_MEAN_RATIO = 0.5307


@dataclass(frozen=True)
class SpacingStats:
    """Level statistics of the bulk.

    Attributes
    ----------
    mean_ratio : float
        <r>, the mean spacing ratio over the bulk (GOE 0.5307, Poisson 0.3863).
    ks_goe, ks_poisson : float
        KS distances of the unfolded nearest-neighbour spacings to the Wigner surmise and to exp(-s).
    num_spacings : int
        Number of unfolded spacings behind the KS distances.
    """

    mean_ratio: float
    ks_goe: float
    ks_poisson: float
    num_spacings: int


def wigner_surmise_cdf(s: ArrayLike) -> NDArray[np.float64]:
    """CDF of the GOE Wigner surmise, 1 - exp(-pi s^2 / 4) (density (pi/2) s exp(-pi s^2/4), mean 1)."""
    s = np.asarray(s, dtype=np.float64)
    return -np.expm1(-np.pi * s * s / 4.0)


def poisson_spacing_cdf(s: ArrayLike) -> NDArray[np.float64]:
    """CDF of Poisson (uncorrelated) level spacings, 1 - exp(-s)."""
    return -np.expm1(-np.asarray(s, dtype=np.float64))


def spacing_ratios(levels: ArrayLike) -> NDArray[np.float64]:
    """r_n = min(s_n, s_{n-1}) / max(s_n, s_{n-1}) for consecutive spacings of the sorted levels.

    Oganesyan & Huse (2007).  Pairs of zero spacings (exactly degenerate levels) are dropped.
    """
    gaps = np.diff(np.sort(np.asarray(levels, dtype=np.float64)))
    lo = np.minimum(gaps[1:], gaps[:-1])
    hi = np.maximum(gaps[1:], gaps[:-1])
    keep = hi > 0
    return lo[keep] / hi[keep]


def unfold_mp(eigenvalues: ArrayLike, beta: float, sigma2: float) -> NDArray[np.float64]:
    """Unfold with the MP CDF: xi_i = n F_MP(lambda_i; beta, sigma^2), n = number of eigenvalues.

    Eigenvalues of W^T W / N with W N x M, beta = M/N; the unfolded levels have unit mean spacing where
    the spectrum follows MP(beta, sigma^2) (Marchenko & Pastur 1967).
    """
    evals = np.sort(np.asarray(eigenvalues, dtype=np.float64))
    return evals.size * mp_cdf(evals, beta, sigma2)


def unfold_polynomial(eigenvalues: ArrayLike, degree: int = 7) -> NDArray[np.float64]:
    """Unfold with a least-squares polynomial fit of the staircase N(lambda_(i)) = i.

    The smooth part of the counting function is the fitted polynomial (Guhr, Müller-Groeling &
    Weidenmüller, Phys. Rep. 299, 1998, §2.2); the fit is done in a scaled domain for stability.

    Raises
    ------
    ValueError
        If the levels are too degenerate for the fit (e.g. many equal eigenvalues).
    """
    evals = np.sort(np.asarray(eigenvalues, dtype=np.float64))
    staircase = np.arange(1, evals.size + 1, dtype=np.float64)
    degree = min(degree, evals.size - 1)
    # full=True reports the rank instead of warning: no process-wide warning filter (layers run in threads)
    smooth, (_, rank, _, _) = Polynomial.fit(evals, staircase, deg=degree, full=True)
    if rank != degree + 1:
        raise ValueError(f"levels too degenerate for a polynomial unfolding: rank {rank} < {degree + 1}")
    return smooth(evals)


def unfolded_spacings(unfolded: ArrayLike, trim: float = 0.1) -> NDArray[np.float64]:
    """Nearest-neighbour spacings of the middle (1 - 2 trim) of the unfolded levels, scaled to mean 1."""
    xi = np.sort(np.asarray(unfolded, dtype=np.float64))
    cut = int(np.floor(trim * xi.size))
    gaps = np.diff(xi[cut : xi.size - cut])
    return gaps / gaps.mean()


def ks_distance_to(sample: ArrayLike, cdf: Callable[[np.ndarray], np.ndarray]) -> float:
    """Two-sided one-sample KS distance sup |F_n - F| of ``sample`` to the continuous CDF ``cdf``."""
    x = np.sort(np.asarray(sample, dtype=np.float64))
    f = cdf(x)
    i = np.arange(1, x.size + 1)
    return float(max(np.max(i / x.size - f), np.max(f - (i - 1) / x.size)))


def level_spacing(
    eigenvalues: ArrayLike,
    n: int,
    m: int,
    sigma2: float | None = None,
    *,
    unfolding: Literal["mp", "polynomial"] = "mp",
    trim: float = 0.1,
    level: float = DEPTH_TW_LEVEL,
) -> SpacingStats:
    """Spacing ratio and Wigner/Poisson KS distances of the bulk of one matrix's spectrum.

    The bulk is the eigenvalues of W^T W / N (W is N x M, N >= M, beta = M/N) that are positive and, when
    ``sigma2`` is given, at or below the Tracy–Widom edge tau(sigma^2, N, M, level) — spikes and the tail
    carry no level statistics of the bulk.  The ``trim`` fraction of bulk levels at each edge is dropped
    (soft edges have Airy, not sine-kernel, statistics).  <r> needs no unfolding; the spacings are
    unfolded with the MP CDF (``unfolding="mp"``, needs ``sigma2``) or with a degree-7 polynomial fit
    of the staircase (``unfolding="polynomial"``, for bulks that are not MP-shaped).

    The levels must come from one matrix: a superposition of k independent spectra (a pooled conv
    kernel) has Poisson-like statistics whatever each spectrum does.

    Raises
    ------
    ValueError
        If fewer than 10 bulk levels remain, or MP unfolding is asked for without ``sigma2``.
    """
    if unfolding not in ("mp", "polynomial"):
        raise ValueError(f"unfolding must be 'mp' or 'polynomial', got {unfolding!r}")
    if unfolding == "mp" and sigma2 is None:
        raise ValueError("MP unfolding needs sigma2")
    if n < m:
        n, m = m, n
    evals = np.sort(np.asarray(eigenvalues, dtype=np.float64))
    bulk = evals[evals > 0]
    if sigma2 is not None:
        bulk = bulk[bulk <= tracy_widom_edge(sigma2, n, m, level)]
    if bulk.size < 10:
        raise ValueError(f"level statistics need at least 10 bulk eigenvalues, got {bulk.size}")
    unfolded = unfold_mp(bulk, m / n, sigma2) if unfolding == "mp" else unfold_polynomial(bulk)
    gaps = unfolded_spacings(unfolded, trim)
    cut = int(np.floor(trim * bulk.size))
    return SpacingStats(
        mean_ratio=float(np.mean(spacing_ratios(bulk[cut : bulk.size - cut]))),
        ks_goe=ks_distance_to(gaps, wigner_surmise_cdf),
        ks_poisson=ks_distance_to(gaps, poisson_spacing_cdf),
        num_spacings=int(gaps.size),
    )
