"""Correlation traps: what is left of the spectrum when the entries are shuffled.

Martin & Mahoney (JMLR 22(165), 2021, §5; WeightWatcher's ``randomize`` option) compare the ESD of a
layer with the ESD of the same matrix after a random permutation of its entries.  Shuffling destroys
every correlation, so a well-behaved randomized matrix follows the Marchenko–Pastur law of its entry
variance; whatever structure the layer learned shows up as the distance between the two ESDs.  When
the randomized matrix still has an eigenvalue beyond the Tracy–Widom edge, a few very large entries
dominate the layer by themselves — a "correlation trap".  The test is about single large entries,
not about correlations: it fires on any matrix, trained or random, whose entries are heavy-tailed
enough (iid Student-t with 4 or fewer degrees of freedom, at the sizes of network layers).

Computation, with no shuffle and no second decomposition:

* distance: the randomized ESD of an N x M matrix of exchangeable, finite-variance entries converges to
  MP(beta, sigma^2), sigma^2 their variance, so the distance is the KS statistic between the layer's ESD
  and that law;
* top of the randomized spectrum: shuffling puts the largest entries a_1 >= a_2 >= ... (centred, in
  absolute value) at random positions on top of a light noise of variance sigma_r^2, the variance of
  the other entries.  An entry in a row and column of its own is a rank-one perturbation a e_i f_j^T of
  singular value a, and by the BBP transition of rectangular matrices (Benaych-Georges & Nadakuditi,
  J. Multivar. Anal. 111, 2012, §3.1) it creates an eigenvalue of W^T W / N outside the bulk if and only
  if theta = a / (sigma_r sqrt(N)) > beta^(1/4), i.e. a > sigma_r (N M)^(1/4), at

      lambda(theta) = sigma_r^2 (1 + theta^2)(beta + theta^2) / theta^2;

  otherwise the top stays at the bulk edge sigma_r^2 (1 + sqrt(beta))^2.  The entries above the
  threshold are excluded from sigma_r^2 (a fixed-point iteration: the threshold depends on sigma_r).
  Large entries that land in a common row or column act together (two in one row: singular value
  sqrt(a_1^2 + a_2^2)), which happens often when there are tens of them; so the (at most
  :data:`MAX_LARGE`) largest are placed at :data:`PLACEMENTS` uniformly random sets of distinct positions
  (fixed seed), theta is taken from the top singular value of each placement, and the median is
  reported.  This is the typical top eigenvalue of the shuffled matrix; one exact shuffle scatters
  around it by its Tracy–Widom (bulk) or Gaussian (outlier) fluctuation.  Measured against the median
  of seven exact shuffles (dense eigenvalues; tests/rmt/test_correlation_trap.py) on Gaussian, Student-t
  (1.5 to 8 degrees of freedom) and planted-entry matrices of 384 x 384 to 2000 x 300: within 2% except
  for equal planted entries, up to 6% low (the exact top is then the largest of several outliers of one
  size, each fluctuating by O(N^-1/2)), where single shuffles spread by up to 10%.  Sparse Gaussian
  noise (5% non-zero), whose exact shuffles sit 5-16% above the edge from the high kurtosis alone (a
  finite-size effect, no large entry), is called 1.0 and no trap.

The entries are centred first: a common mean would appear as a rank-one spike of strength
|mean| sqrt(M) / sigma, which is no trap.  Cost: four passes over the entries (max, min, sum, sum of
squares) and, only when an entry can reach the threshold, one more to collect the large ones.

Eigenvalue convention: eigenvalues of W^T W / N for each N x M matrix (N >= M), beta = M/N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from netspectra.rmt.marchenko_pastur import mp_cdf, mp_edges, tracy_widom_edge

#: Largest entries placed at random positions to find their joint top singular value.
MAX_LARGE = 64
#: Random placements of the large entries; the median of their outliers is reported.
PLACEMENTS = 31
#: Seed of the placements.
_PLACEMENT_SEED = 0

#: Entries above this fraction of the current threshold are collected as candidates (the threshold
#: sigma_r (N M)^(1/4) falls as large entries leave sigma_r; candidates are re-collected below it).
_CANDIDATE_FRACTION = 0.5


@dataclass(frozen=True)
class CorrelationTrap:
    """Result of :func:`correlation_trap`.

    Attributes
    ----------
    ks_distance : float
        KS distance between the layer's ESD and MP(beta, sigma^2), the ESD of its randomized version
        (NaN when the layer's eigenvalues were not given).
    lambda_max_randomized : float
        Expected largest eigenvalue of W_rand^T W_rand / N (module docstring).
    sigma2 : float
        Variance of the entries (pooled over the stack).
    mp_edge, tw_edge : float
        l+ = sigma^2 (1 + sqrt(beta))^2 and the Tracy–Widom edge at the requested level.
    num_large_entries : int
        Entries above the BBP threshold sigma_r (N M)^(1/4): each makes an eigenvalue outside the bulk.
    is_trap : bool
        ``lambda_max_randomized > tw_edge``.
    """

    ks_distance: float
    lambda_max_randomized: float
    sigma2: float
    mp_edge: float
    tw_edge: float
    num_large_entries: int
    is_trap: bool

    @property
    def lambda_max_ratio(self) -> float:
        """lambda_max of the randomized matrix over its own MP edge l+ (1 without large entries)."""
        return self.lambda_max_randomized / self.mp_edge


def entry_outlier(a: float, sigma2: float, n: int, m: int) -> float:
    """Eigenvalue of W^T W / N made by one entry of size ``a`` in N x M noise of variance ``sigma2``.

    lambda = sigma2 (1 + theta^2)(beta + theta^2) / theta^2 with theta = a / sqrt(sigma2 N) above the
    BBP threshold beta^(1/4), else the bulk edge sigma2 (1 + sqrt(beta))^2 (Benaych-Georges &
    Nadakuditi 2012); N >= M.
    """
    beta = m / n
    theta2 = a * a / (sigma2 * n)
    if theta2 <= np.sqrt(beta):
        return sigma2 * (1.0 + np.sqrt(beta)) ** 2
    return sigma2 * (1.0 + theta2) * (beta + theta2) / theta2


def correlation_trap(
    stack: np.ndarray, eigenvalues: ArrayLike | None, *, level: float = 0.99, sum_of_squares: float | None = None
) -> CorrelationTrap:
    """Compare a layer with its entry-shuffled version (Martin & Mahoney 2021), by the module's formulas.

    Parameters
    ----------
    stack : ndarray, shape (k, N, M) or (N, M)
        The weight matrices (transposed internally if N < M), float32 or float64, finite.
    eigenvalues : array_like or None
        Every eigenvalue of W^T W / N of the layer, pooled over the stack (already computed by the
        caller: :class:`~netspectra.linalg.Spectrum`); None (e.g. a tail-only spectrum) skips the
        distance.
    level : float
        Tracy–Widom quantile of the trap threshold (0.90, 0.95 or 0.99; Johnstone 2001).
    sum_of_squares : float, optional
        sum w_ij^2 over the stack when the caller knows it (N times the trace of the spectrum); computed
        in float64 otherwise.

    Raises
    ------
    ValueError
        If the entries have zero variance.
    """
    matrices = np.asarray(stack)
    if matrices.ndim == 2:
        matrices = matrices[None]
    n, m = max(matrices.shape[1:]), min(matrices.shape[1:])
    beta = m / n
    flat = np.ravel(matrices, order="K")  # memory order: a view, whatever the orientation
    size = flat.size
    mean = float(np.sum(flat, dtype=np.float64)) / size
    if sum_of_squares is None:
        wide = np.asarray(flat, dtype=np.float64)
        sum_of_squares = float(np.dot(wide, wide))
    sigma2 = sum_of_squares / size - mean * mean
    if sigma2 < 1e-6 * sum_of_squares / size:  # |mean| >> sigma: the shortcut above lost its digits
        sigma2 = float(np.var(flat, dtype=np.float64))
    if not sigma2 > 0:
        raise ValueError("correlation-trap test needs entries with positive variance")
    largest = max(float(flat.max()) - mean, mean - float(flat.min()))
    rest, large = _rest_variance(flat, mean, sigma2, largest, n, m)
    lam_max = _placed_outlier(large, rest, n, m) if large.size else rest * (1.0 + np.sqrt(beta)) ** 2
    tw_edge = tracy_widom_edge(sigma2, n, m, level)
    distance = np.nan if eigenvalues is None else _ks_to_mp(np.asarray(eigenvalues, np.float64), beta, sigma2)
    return CorrelationTrap(
        ks_distance=distance,
        lambda_max_randomized=float(lam_max),
        sigma2=sigma2,
        mp_edge=mp_edges(beta, sigma2)[1],
        tw_edge=tw_edge,
        num_large_entries=int(large.size),
        is_trap=bool(lam_max > tw_edge),
    )


def _rest_variance(
    flat: np.ndarray, mean: float, sigma2: float, largest: float, n: int, m: int
) -> tuple[float, np.ndarray]:
    """(sigma_r^2, the centred entries above sigma_r (N M)^(1/4), largest first): the fixed point of
    excluding the large entries from the variance.

    Removing entries only lowers sigma_r and with it the threshold, so the set grows monotonically;
    candidates are the entries above half the current threshold, re-collected when the threshold
    falls below that.
    """
    reach = (float(n) * m) ** 0.25
    total = sigma2 * flat.size
    rest = sigma2
    if largest <= reach * np.sqrt(rest):
        return rest, np.empty(0)
    floor = np.inf
    candidates = np.empty(0)
    for _ in range(64):
        threshold = reach * np.sqrt(rest)
        if threshold < floor:
            floor = _CANDIDATE_FRACTION * threshold
            centred = flat - mean
            candidates = centred[np.abs(centred) > floor].astype(np.float64)
            candidates = candidates[np.argsort(-np.abs(candidates))]
        large = candidates[np.abs(candidates) > threshold]
        updated = (total - float(np.dot(large, large))) / (flat.size - large.size)
        if updated == rest or updated <= 0.0:
            break
        rest = updated
    return rest, candidates[np.abs(candidates) > reach * np.sqrt(rest)]


def _placed_outlier(large: np.ndarray, rest: float, n: int, m: int) -> float:
    """Median over :data:`PLACEMENTS` random placements of the largest entries (signed, distinct positions)
    of the BBP outlier of their top singular value (module docstring)."""
    values = large[:MAX_LARGE]
    rng = np.random.default_rng(_PLACEMENT_SEED)
    outliers = []
    for _ in range(PLACEMENTS):
        cells = rng.choice(n * m, size=values.size, replace=False)
        outliers.append(entry_outlier(_top_singular_value(values, *np.divmod(cells, m)), rest, n, m))
    return float(np.median(outliers))


def _top_singular_value(values: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> float:
    """Largest singular value of the sparse matrix with ``values`` at (``rows``, ``cols``), distinct cells.

    Entries alone in their row and column contribute |value| each; the others (sharing a row or a
    column: the only ones that combine) are decomposed together, as a dense matrix of their rows and
    columns.
    """
    _, row_index, row_count = np.unique(rows, return_inverse=True, return_counts=True)
    _, col_index, col_count = np.unique(cols, return_inverse=True, return_counts=True)
    shared = (row_count[row_index] > 1) | (col_count[col_index] > 1)
    alone = float(np.max(np.abs(values[~shared]), initial=0.0))
    if not shared.any():
        return alone
    _, r = np.unique(row_index[shared], return_inverse=True)
    _, c = np.unique(col_index[shared], return_inverse=True)
    block = np.zeros((r.max() + 1, c.max() + 1))
    block[r, c] = values[shared]
    return max(alone, float(np.linalg.norm(block, 2)))


def _ks_to_mp(eigenvalues: np.ndarray, beta: float, sigma2: float) -> float:
    """Two-sided KS distance of the eigenvalues to MP(beta, sigma^2)."""
    x = np.sort(eigenvalues)
    f = mp_cdf(x, beta, sigma2)
    i = np.arange(1, x.size + 1)
    return float(max(np.max(i / x.size - f), np.max(f - (i - 1) / x.size)))
