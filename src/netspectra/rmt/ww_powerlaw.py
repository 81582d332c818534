"""WeightWatcher's power-law tail fits, reproduced: its xmin search over tails of any length and its finger clipping.

WeightWatcher 0.7.7 (Martin & Mahoney, JMLR 22(165), 2021; CalculatedContent/WeightWatcher, ``WW_powerlaw.WWFit``
and ``RMT_Util.fit_clipped_powerlaw``) fits the same continuous power law as Clauset, Shalizi & Newman
(SIAM Rev. 51, 2009): alpha = 1 + n / sum_{i >= k} ln(x_i / x_k) and the KS distance
D_k = max_j |1 - (x_j / x_k)^(1 - alpha) - j / n| over the n = N - k values of the tail (j = 0 .. n - 1),
with xmin the argmin of D_k.  Where it differs from :func:`netspectra.rmt.powerlaw.fit_power_law`:

* every value but the largest is a candidate, so a tail may hold as few as 2 eigenvalues (netspectra
  keeps at least ``min_tail`` + 2): on MiniLM's ``encoder.layer.4.attention.self.value`` its KS minimum
  is a tail of 9 eigenvalues with alpha 8.44, where netspectra's best tail of 12 or more has alpha 2.43;
* the empirical CDF of the tail is j / n in sorted order (ties counted one by one; the ``powerlaw``
  package counts values strictly below);
* below 20 values (``SMALL_N``) it switches to a bias-corrected alpha = 1 + (n - 1) / sum ln(x_i / x_k) on
  tails of at least 8 values (``WWFit.fit_powerlaw_smallN``), xmin again by minimum D_k;
* it is given the eigenvalues s_i^2 above 1e-5 (``EVALS_THRESH``), not above a relative tolerance.

Values are eigenvalues in any units (the fit is scale invariant); WeightWatcher passes s_i^2.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike

from netspectra.rmt.powerlaw import PowerLawFit, ks_distances

#: Eigenvalues s_i^2 at or below this are left out of WeightWatcher's fit (``EVALS_THRESH``).
EVALS_THRESH = 1e-5
#: Below this many values WeightWatcher uses its small-sample fit (``SMALL_N_CUTOFF``).
SMALL_N = 20
#: Fewest values of a tail in the small-sample fit (``k_min``).
SMALL_N_MIN_TAIL = 8
#: Most values scanned: the scan is O(N^2) (20,000 values: 2 10^8 pairs, seconds); WeightWatcher itself leaves
#: out layers of more than 15,000 eigenvalues (``max_evals``).
MAX_VALUES = 20_000


def ww_sample(eigenvalues: ArrayLike, scale: float) -> np.ndarray:
    """The values WeightWatcher fits: ``scale`` x eigenvalues (its s_i^2) above :data:`EVALS_THRESH`, sorted."""
    values = np.sort(np.asarray(eigenvalues, dtype=np.float64) * scale)
    return values[values > EVALS_THRESH]


def fit_power_law_ww(values: ArrayLike) -> PowerLawFit:
    """WeightWatcher's power-law fit (``WWFit``) of ``values``: xmin over every value but the largest.

    Parameters
    ----------
    values : array_like
        Positive samples (WeightWatcher passes :func:`ww_sample`); they are sorted here.

    Returns
    -------
    PowerLawFit
        ``alpha_se`` = (alpha - 1) / sqrt(n), ``num_candidates`` the candidates scanned.

    Raises
    ------
    ValueError
        Fewer than 2 values (WeightWatcher reports the layer's fit as failed), more than :data:`MAX_VALUES`, or a
        KS minimum on a tail of equal values (WeightWatcher reports alpha = inf).
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    if x.size < 2:
        raise ValueError(f"power-law fit needs at least 2 values, got {x.size}")
    if x.size > MAX_VALUES:
        raise ValueError(f"WeightWatcher's exact xmin scan of {x.size:,} values is O(N^2); at most {MAX_VALUES:,} are scanned")
    logx = np.log(x)
    tail = x.size - np.arange(x.size - 1)  # tail size of each candidate x[0 .. N-2]
    suffix = np.cumsum(logx[::-1])[::-1][:-1]
    spread = suffix - tail * logx[:-1]  # sum_{j >= k} ln(x_j / x_k)
    if x.size < SMALL_N:
        return _small_sample_fit(x, logx, tail, spread)
    with np.errstate(divide="ignore"):
        alphas = 1.0 + tail / spread
    distances = _distances(logx, alphas)
    best = int(np.argmin(distances))
    if not np.isfinite(alphas[best]):  # WeightWatcher reports alpha = inf for a tail of equal values
        raise ValueError("the best tail's values are all equal: no exponent")
    return _result(x, best, float(alphas[best]), float(distances[best]), int(tail[best]), tail.size)


def fit_power_law_ww_from(values: ArrayLike, fit: PowerLawFit, min_tail: int) -> PowerLawFit:
    """:func:`fit_power_law_ww` of ``values`` given ``fit``, :func:`~netspectra.rmt.powerlaw.fit_power_law` of the same
    values with ``min_tail`` (an exact scan; ``fit`` may be in other units: it is rescaled): only the candidates
    that rule leaves out, the tails of 2 to ``min_tail`` + 1 values, are scanned, O(min_tail^2) instead of O(N^2).

    Valid for at least :data:`SMALL_N` distinct values, where both fits rank the same candidates by the same
    KS distance (the empirical CDFs agree without ties).
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = x.size
    logx = np.log(x)
    ks = np.arange(max(n - min_tail - 1, 0), n - 1)
    tail = n - ks
    alphas = np.zeros(n - 1)
    with np.errstate(divide="ignore"):
        alphas[ks] = 1.0 + tail / (np.cumsum(logx[::-1])[::-1][ks] - tail * logx[ks])
    distances = _distances(logx, alphas, ks)
    best = int(np.argmin(distances))
    if distances[best] < fit.ks_distance:
        return _result(x, int(ks[best]), float(alphas[ks[best]]), float(distances[best]), int(tail[best]), n - 1)
    factor = x[-1] / fit.xmax
    return replace(fit, alpha_lo=fit.alpha, alpha_hi=fit.alpha, xmin=fit.xmin * factor, xmax=float(x[-1]), num_candidates=n - 1)


def _small_sample_fit(x: np.ndarray, logx: np.ndarray, tail: np.ndarray, spread: np.ndarray) -> PowerLawFit:
    """``WWFit`` below :data:`SMALL_N` values: the bias-corrected alpha on tails of at least
    :data:`SMALL_N_MIN_TAIL`, xmin their smallest KS distance (``fit_powerlaw_smallN`` ranks them by
    D - 0.868 / sqrt(n), but ``WWFit.__init__`` then takes the argmin of D, which is what it reports).

    Raises
    ------
    ValueError
        No tail of at least 8 distinct values (WeightWatcher reports alpha 0 or a degenerate fit).
    """
    usable = (tail >= SMALL_N_MIN_TAIL) & (spread > 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        alphas = np.where(usable, 1.0 + (tail - 1.0) / spread, 0.0)
    candidates = np.flatnonzero(usable & (alphas > 1.0))
    if candidates.size == 0:
        raise ValueError(f"no tail of at least {SMALL_N_MIN_TAIL} distinct values among {x.size}")
    distances = _distances(logx, alphas, candidates)
    pick = int(np.argmin(distances))
    best = int(candidates[pick])
    return _result(x, best, float(alphas[best]), float(distances[pick]), int(tail[best]), tail.size)


def _result(x: np.ndarray, k: int, alpha: float, distance: float, num_tail: int, num_candidates: int) -> PowerLawFit:
    """A fit as WeightWatcher reports it: its point alpha is also the interval (WeightWatcher labels a layer
    by alpha alone, and ``ww_compat`` reproduces its labels)."""
    return PowerLawFit.of_tail(x, k, alpha, distance, (num_tail, num_candidates), (alpha, alpha))


def _distances(logx: np.ndarray, alphas: np.ndarray, candidates: np.ndarray | None = None) -> np.ndarray:
    """D_k = max_j |F(x_{k+j}) - j / n| over the tail of each candidate k (all but the last value when
    ``candidates`` is None; ``alphas`` indexed by candidate position), F(x) = 1 - (x / x_k)^(1 - alpha)
    (:func:`~netspectra.rmt.powerlaw.ks_distances` with WeightWatcher's empirical CDF).  A tail of equal values
    (alpha infinite) has F = 0 on it, so D = (n - 1) / n, as WeightWatcher computes it."""
    n = logx.size
    ks = np.arange(n - 1) if candidates is None else np.asarray(candidates)
    a = alphas[ks]
    tail = n - ks
    out = (tail - 1.0) / tail
    finite = np.isfinite(a)
    if finite.any():
        out[finite] = ks_distances(np.exp(logx), logx, np.arange(n), ks[finite], a[finite], tail[finite])
    return out


@dataclass(frozen=True)
class ClippedFit:
    """Result of :func:`clip_fingers`: the fit kept, how many of the largest values were clipped for it
    (0: none helped), and the alpha before clipping."""

    fit: PowerLawFit
    num_clipped: int
    raw_alpha: float


def clip_fingers(
    values: ArrayLike,
    fit: Callable[[np.ndarray], PowerLawFit],
    *,
    max_fingers: int = 10,
    finger_thresh: float = 1.0,
    min_alpha: float = 2.0,
) -> ClippedFit:
    """WeightWatcher's ``fix_fingers='clip_xmax'`` (``RMT_Util.fit_clipped_powerlaw``): refit without the
    c = 2, 3, ..., ``max_fingers`` - 1 largest values until alpha drops by more than ``finger_thresh``
    below the unclipped one; stop without clipping once a refit's alpha is <= ``min_alpha``.

    "Fingers" are a few large, tightly clustered eigenvalues (a finite-size effect) over which the KS
    scan can pick a tiny tail with a huge alpha.  ``fit`` fits one sample (e.g. :func:`fit_power_law_ww`).
    WeightWatcher reports ``num_fingers`` = c - 1 for c clipped values; ``num_clipped`` here is c.
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    first = fit(x)
    for clipped in range(2, max_fingers):
        if x.size - clipped < 2:
            break
        try:
            refit = fit(x[:-clipped])
        except ValueError:  # too few values left for the fit: no clipping helps
            break
        if refit.alpha + finger_thresh < first.alpha:
            return ClippedFit(refit, clipped, first.alpha)
        if refit.alpha <= min_alpha:
            break
    return ClippedFit(first, 0, first.alpha)
