"""The null model of a layer: its own entries at random positions (what is left when the entries are shuffled).

Martin & Mahoney (JMLR 22(165), 2021, §5; WeightWatcher's ``randomize`` option) compare a layer's ESD with
the ESD of the same matrix after a random permutation of its entries.  Shuffling keeps the entry
distribution and destroys every correlation; what the layer learned is what differs.  This module
predicts, with no shuffle and no second decomposition, three things about the shuffled matrix W_s of an
N x M layer (k matrices of a stack shuffled together, L = k N M entries):

* **its spread, exactly.**  sum_i lambda_i^2 = ||W^T W||_F^2 / N^2 is a sum over pairs of entries; under a
  uniform permutation its expectation follows from the power sums p_r = sum w^r of the entries:

      E ||W_s^T W_s||_F^2 = p_4 + k (c_2 + c_3)(p_2^2 - p_4) / (L (L - 1))
                            + k c_4 (p_1^4 - 6 p_1^2 p_2 + 3 p_2^2 + 8 p_1 p_3 - 6 p_4) / (L)_4,

  c_2 = M N (N - 1) (two cells of a column), c_3 = N M (M - 1) (of a row), c_4 = N (N - 1) M (M - 1)
  (four cells of two rows and two columns), (L)_4 = L (L - 1)(L - 2)(L - 3).  The **structure index**
  s = sum lambda^2 / E_s[sum lambda^2] - 1 is the share by which the layer's spectrum is wider than its
  entries alone make it: 0 up to noise for any iid matrix whatever its entry law (Gaussian, Student-t,
  sparse), large for a low-rank signal or a power-law tail, negative down to -beta / (1 + beta) for a spectrum
  narrower than noise (an isometry: every eigenvalue equal).  Its null standard deviation, conditional on
  the entries as the shuffle is, is approximated in :func:`_structure_sd` (2-4x wider than the spread of
  exact shuffles, measured); the layer is *structured* when |s| exceeds :data:`STRUCTURE_Z` of them
  (two-sided: *wider* or *narrower* than its entries make it).
* **its top eigenvalue from single large entries.**  Shuffling puts the largest entries a_1 >= a_2 >= ...
  (centred, in absolute value) at random positions on top of a light noise of variance sigma_r^2, the
  variance of the other entries.  An entry in a row and column of its own is a rank-one perturbation
  a e_i f_j^T of singular value a, and by the BBP transition of rectangular matrices (Benaych-Georges &
  Nadakuditi, J. Multivar. Anal. 111, 2012, §3.1) it creates an eigenvalue of W^T W / N outside the bulk
  if and only if theta = a / (sigma_r sqrt(N)) > beta^(1/4), i.e. a > sigma_r (N M)^(1/4), at

      lambda(theta) = sigma_r^2 (1 + theta^2)(beta + theta^2) / theta^2;

  otherwise the top stays at the bulk edge sigma_r^2 (1 + sqrt(beta))^2.  The entries above the
  threshold are excluded from sigma_r^2 (a fixed-point iteration: the threshold depends on sigma_r).
  Large entries that land in a common row or column act together (two in one row: singular value
  sqrt(a_1^2 + a_2^2)), so the (at most :data:`MAX_LARGE`) largest are placed at :data:`PLACEMENTS`
  uniformly random sets of distinct positions (fixed seed) and theta is taken from the top singular value
  of each placement: the median is the typical top of the shuffled matrix, within 6% of the median of
  exact shuffles on Gaussian, Student-t (1.5 to 8 degrees of freedom) and planted-entry matrices of
  384 x 384 to 2000 x 300 (tests/rmt/test_entry_null.py); the largest is a high quantile (1 - 1/32).
  When the median leaves the Tracy–Widom edge, **large entries** alone put an eigenvalue outside the bulk:
  WeightWatcher's "correlation trap", which is about single entries, not correlations (every iid
  Student-t matrix with 4 or fewer degrees of freedom has one at the sizes of network layers).
* **its bulk edge, from the kurtosis of the other entries.**  High-kurtosis entries that are not large
  (sparse matrices) push the largest bulk eigenvalue past the MP edge by a deterministic finite-size shift
  (for Wigner matrices, Lee & Schnelli, PTRF 171, 2018: the edge moves by the normalised fourth cumulant,
  (kappa - 3) / N).  Measured on sparse Rademacher matrices (no large entry; 500 x 500 to 3000 x 300,
  densities 1% to 10%), the relative shift of the top eigenvalue of W^T W / N is
  (kappa_r - 3) / sqrt(N M) to within 30% for beta = 1, 0.5 and 0.1 (:func:`kurtosis_edge_shift`); on
  sparse Gaussian matrices (2% and 5% dense, 300 x 300 to 3000 x 300) the top scatters around the
  shifted edge with a standard deviation of 15-40% of the shift, much more than Tracy–Widom.

The **noise ceiling** (:meth:`EntryNull.noise_ceiling`) is the largest eigenvalue the layer's entries
alone plausibly make: the Tracy–Widom edge of the bulk moved by twice the kurtosis shift, or the high quantile
of the large-entry outlier with a :data:`OUTLIER_MARGIN`, whichever is larger.  Eigenvalues above it are
signal, not noise.  The entries are centred for the large-entry and kurtosis predictions (a common mean
is a rank-one spike of strength |mean| sqrt(M) / sigma, which is structure of a kind, not noise); the
spread uses the raw entries, as the layer's spectrum does.  Cost: the power sums in float32 blocks
(one pass) and, only when an entry can reach the threshold, one more to collect the large ones.

Eigenvalue convention: eigenvalues of W^T W / N for each N x M matrix (N >= M), beta = M/N.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from netspectra.defaults import DEPTH_TW_LEVEL
from netspectra.linalg import spectral_norm
from netspectra.rmt.marchenko_pastur import mp_cdf, mp_edges, tracy_widom_edge

#: Largest entries placed at random positions to find their joint top singular value.
MAX_LARGE = 64
#: Random placements of the large entries (the median and the largest of their outliers are kept).
PLACEMENTS = 31
#: Seed of the placements.
_PLACEMENT_SEED = 0
#: Eigenvalues above the largest placed large-entry outlier by less than this fraction are still noise:
#: the outlier of one entry fluctuates with the rest of its row and column (measured on iid Student-t
#: with 1.5 to 5 degrees of freedom, 300 x 300 to 2000 x 2000: at most 14% above the largest placement).
OUTLIER_MARGIN = 0.2
#: The kurtosis shift of the bulk edge enters the noise ceiling this many times: the top eigenvalue of
#: sparse noise fluctuates around the shifted edge by up to 40% of the shift (measured, module docstring).
EDGE_SHIFT_FACTOR = 2.0
#: The structure index is significant above this many null standard deviations.
STRUCTURE_Z = 3.0

#: Entries above this fraction of the current threshold are collected as candidates (the threshold
#: sigma_r (N M)^(1/4) falls as large entries leave sigma_r; candidates are re-collected below it).
_CANDIDATE_FRACTION = 0.5
#: Entries per block of the power sums.
_BLOCK = 1 << 16


@dataclass(frozen=True)
class EntryNull:
    """Result of :func:`entry_null`: the layer's spectrum as its shuffled entries would make it.

    Attributes
    ----------
    ks_distance : float
        KS distance between the layer's ESD and MP(beta, sigma^2), the limiting ESD of its shuffled
        version (NaN when the layer's eigenvalues were not given).
    lambda_max_randomized : float
        Typical largest eigenvalue of W_s^T W_s / N (median over the placements of the large entries).
    lambda_max_randomized_high : float
        Its high quantile (largest of the placements).
    sigma2 : float
        Variance of the entries (pooled over the stack).
    rest_sigma2, rest_kurtosis : float
        Variance and kurtosis E w^4 / (E w^2)^2 of the centred entries other than the large ones.
    mp_edge, tw_edge : float
        l+ = sigma^2 (1 + sqrt(beta))^2 and the Tracy–Widom edge at the requested level.
    num_large_entries : int
        Entries above the BBP threshold sigma_r (N M)^(1/4): each makes an eigenvalue outside the bulk.
    large_entries : bool
        ``lambda_max_randomized > tw_edge``: large entries alone put an eigenvalue outside the bulk.
    structure_index, structure_sd : float
        s = sum lambda^2 / E_shuffle[sum lambda^2] - 1 and its approximate null standard deviation
        (module docstring; NaN when the layer's eigenvalues were not given).
    """

    ks_distance: float
    lambda_max_randomized: float
    lambda_max_randomized_high: float
    sigma2: float
    rest_sigma2: float
    rest_kurtosis: float
    mp_edge: float
    tw_edge: float
    num_large_entries: int
    large_entries: bool
    structure_index: float
    structure_sd: float

    @property
    def lambda_max_ratio(self) -> float:
        """lambda_max of the randomized matrix over its own MP edge l+ (1 without large entries)."""
        return self.lambda_max_randomized / self.mp_edge

    @property
    def wider(self) -> bool:
        """The spectrum is wider than its shuffled entries make it: s > :data:`STRUCTURE_Z` null sd."""
        return bool(self.structure_index > STRUCTURE_Z * self.structure_sd)

    @property
    def narrower(self) -> bool:
        """The spectrum is narrower than its shuffled entries make it: s < -:data:`STRUCTURE_Z` null sd.

        The lowest s is -beta / (1 + beta), all eigenvalues equal (an isometry: orthonormal columns, a
        Haar-orthogonal matrix), since sum lambda^2 >= (sum lambda)^2 / M."""
        return bool(self.structure_index < -STRUCTURE_Z * self.structure_sd)

    @property
    def structured(self) -> bool:
        """The two-sided structure test: the spectrum is wider or narrower than its shuffled entries make it."""
        return self.wider or self.narrower

    def noise_ceiling(self, bulk_sigma2: float, n: int, m: int, level: float = DEPTH_TW_LEVEL) -> float:
        """The largest eigenvalue the entries alone plausibly make, given the fitted bulk width ``bulk_sigma2``.

        max(tau + c l+ (kappa_r - 3)_+ / sqrt(N M), (1 + :data:`OUTLIER_MARGIN`) lambda_high), c =
        :data:`EDGE_SHIFT_FACTOR`, tau and l+ the Tracy–Widom and MP edges of MP(beta, s^2), lambda_high the
        high quantile of the large-entry outlier (module docstring).  The noise variance s^2 is the fitted
        bulk width for a :attr:`wider` layer (its entry variance holds the signal too) and the larger
        of it and the variance of the other entries otherwise (the MP median estimator reads the bulk of
        sparse noise, which is not MP-shaped at finite size, up to 25% low).
        """
        if n < m:
            n, m = m, n
        sigma2 = bulk_sigma2 if self.wider else max(bulk_sigma2, self.rest_sigma2)
        shift = EDGE_SHIFT_FACTOR * kurtosis_edge_shift(self.rest_kurtosis, n, m)
        shifted = tracy_widom_edge(sigma2, n, m, level) + mp_edges(m / n, sigma2)[1] * shift
        if self.num_large_entries == 0:
            return shifted
        return max(shifted, (1.0 + OUTLIER_MARGIN) * self.lambda_max_randomized_high)


def kurtosis_edge_shift(kurtosis: float, n: int, m: int) -> float:
    """Relative shift of the top bulk eigenvalue of W^T W / N made by entries of kurtosis kappa > 3:
    (kappa - 3) / sqrt(N M) (measured law, module docstring; 0 for kappa <= 3)."""
    return max(0.0, kurtosis - 3.0) / np.sqrt(float(n) * m)


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


def expected_square_sum(power_sums: tuple[float, float, float, float], n: int, m: int, k: int = 1) -> float:
    """E sum_i lambda_i^2 of W_s^T W_s / N over a uniform shuffle of the entries of k N x M matrices.

    ``power_sums`` are p_1..p_4 = sum w^r over all L = k N M entries; the formula is in the module
    docstring (exact for every entry multiset).
    """
    p1, p2, p3, p4 = power_sums
    size = float(k) * n * m
    pairs = k * (m * n * (n - 1.0) + n * m * (m - 1.0)) * (p2 * p2 - p4) / (size * (size - 1.0))
    falling = size * (size - 1.0) * (size - 2.0) * (size - 3.0)
    quads = k * n * (n - 1.0) * m * (m - 1.0) * (p1**4 - 6 * p1 * p1 * p2 + 3 * p2 * p2 + 8 * p1 * p3 - 6 * p4)
    return (p4 + pairs + (quads / falling if falling > 0 else 0.0)) / (float(n) * n)


def entry_null(stack: np.ndarray, eigenvalues: ArrayLike | None, *, level: float = DEPTH_TW_LEVEL) -> EntryNull:
    """Predict the spectrum of the layer's shuffled entries (Martin & Mahoney 2021) by the module's formulas.

    Parameters
    ----------
    stack : ndarray, shape (k, N, M) or (N, M)
        The weight matrices (transposed internally if N < M), float32 or float64, finite.
    eigenvalues : array_like or None
        Every eigenvalue of W^T W / N of the layer, pooled over the stack (already computed by the
        caller: :class:`~netspectra.linalg.Spectrum`); None (e.g. a tail-only spectrum) skips the
        distance and the structure index.
    level : float
        Tracy–Widom quantile of the edges (0.90, 0.95 or 0.99; Johnstone 2001).

    Raises
    ------
    ValueError
        If the entries have zero variance.
    """
    matrices = np.asarray(stack)
    if matrices.ndim == 2:
        matrices = matrices[None]
    k = matrices.shape[0]
    n, m = max(matrices.shape[1:]), min(matrices.shape[1:])
    beta = m / n
    flat = np.ravel(matrices, order="K")  # memory order: a view, whatever the orientation
    size = flat.size
    mean = float(np.sum(flat, dtype=np.float64)) / size
    largest = max(float(flat.max()) - mean, mean - float(flat.min()))
    # The moments are taken in units of u = 2^-e ~ largest, so that no power overflows: entries may reach
    # ~1e152 (the representability bound of the spectrum) and float32 ones 3e38.
    e = -int(np.frexp(largest)[1]) if largest > 0 else 0
    c2, c3, c4 = _central_sums(flat, mean, e)
    sigma2 = float(np.ldexp(c2, -2 * e)) / size
    if not sigma2 > 0:
        raise ValueError("the shuffled-entries null needs entries with positive variance")
    rest, large = _rest_variance(flat, mean, sigma2, largest, n, m)
    typical, high = _placed_outlier(large, rest, n, m) if large.size else (rest * (1.0 + np.sqrt(beta)) ** 2,) * 2
    large_scaled = np.ldexp(large, e)
    rest_scaled = float(np.ldexp(rest, 2 * e))
    rest_kurtosis = (c4 - float(np.sum(large_scaled**4))) / (size - large.size) / rest_scaled**2
    structure, spread = np.nan, np.nan
    if eigenvalues is not None:
        evals = np.ldexp(np.asarray(eigenvalues, np.float64), 2 * e)
        mu = float(np.ldexp(mean, e))
        raw = (
            size * mu,
            c2 + size * mu * mu,
            c3 + 3 * mu * c2 + size * mu**3,
            c4 + 4 * mu * c3 + 6 * mu * mu * c2 + size * mu**4,
        )
        expected = expected_square_sum(raw, n, m, k)
        structure = float(np.dot(evals, evals)) / expected - 1.0
        spread = _structure_sd(large_scaled, rest_scaled, rest_kurtosis, n, m, k, expected * float(n) * n)
    tw_edge = tracy_widom_edge(sigma2, n, m, level)
    return EntryNull(
        ks_distance=np.nan if eigenvalues is None else _ks_to_mp(np.asarray(eigenvalues, np.float64), beta, sigma2),
        lambda_max_randomized=float(typical),
        lambda_max_randomized_high=float(high),
        sigma2=sigma2,
        rest_sigma2=rest,
        rest_kurtosis=rest_kurtosis,
        mp_edge=mp_edges(beta, sigma2)[1],
        tw_edge=tw_edge,
        num_large_entries=int(large.size),
        large_entries=bool(typical > tw_edge),
        structure_index=structure,
        structure_sd=spread,
    )


def _structure_sd(large: np.ndarray, rest_sigma2: float, rest_kurtosis: float, n: int, m: int, k: int, expected: float) -> float:
    """Approximate null standard deviation of the structure index (module docstring), in any unit of the
    entries as long as ``large``, ``rest_sigma2`` and ``expected`` (E ||W_s^T W_s||_F^2) share it.

    sd^2 = [4 / (k N^2) + 4 (kappa_r - 1)(1 + beta^2) / (k N M)] / (1 + beta)^2
           + [4 sum a^4 (N + M)(kappa_r - 1) sigma_r^4 + 8 ((sum a^4)^2 - sum a^8)(1/N + 1/M)] / E^2:
    the four-cell terms and the row and column sums of squares of the light entries, then what a large
    entry a adds — its products with the rest of its row and column, and two large entries sharing a row
    or a column.  Conditional on the entries, as the shuffle is; it overestimates the spread of exact
    shuffles by 2-4x (measured on Gaussian, Student-t(1.5 and 2.5), 1% sparse noise and MiniLM layers
    with kurtosis up to 1600, where an iid formula in the full kurtosis was 30x too wide).
    """
    beta = m / n
    excess = max(rest_kurtosis - 1.0, 0.0)  # kurtosis >= 1; rounding can undershoot on degenerate entries
    light = (4.0 / (k * n * n) + 4.0 * excess * (1 + beta * beta) / (k * n * m)) / (1 + beta) ** 2
    a4 = large**4
    heavy = 4.0 * float(np.sum(a4)) * (n + m) * excess * rest_sigma2**2
    heavy += 8.0 * (float(np.sum(a4)) ** 2 - float(np.sum(a4 * a4))) * (1.0 / n + 1.0 / m)
    return float(np.sqrt(light + max(heavy, 0.0) / expected**2)) if expected > 0 else math.nan


def _central_sums(flat: np.ndarray, mean: float, exponent: int) -> tuple[float, float, float]:
    """sum ((w - mean) 2^exponent)^r for r = 2, 3, 4, over blocks of :data:`_BLOCK` entries centred and scaled
    (exactly, by a power of two) in the entries' own precision, then raised and summed in float64.

    The powers and their sums are float64 whatever the entries: float32 products summed by ``sdot`` kept
    about 7 digits, and which ones depended on the CPU's BLAS kernel (MiniLM's structure index moved by
    3e-6 relative between two machines)."""
    shift, scale = flat.dtype.type(mean), flat.dtype.type(2.0**exponent)
    sums = np.zeros(3)
    for start in range(0, flat.size, _BLOCK):
        c = ((flat[start : start + _BLOCK] - shift) * scale).astype(np.float64)
        c2 = c * c
        sums += (float(np.sum(c2)), float(np.dot(c2, c)), float(np.dot(c2, c2)))
    return float(sums[0]), float(sums[1]), float(sums[2])


def _rest_variance(flat: np.ndarray, mean: float, sigma2: float, largest: float, n: int, m: int) -> tuple[float, np.ndarray]:
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
            candidates = _centred_above(flat, mean, floor)
            candidates = candidates[np.argsort(-np.abs(candidates))]
        large = candidates[np.abs(candidates) > threshold]
        updated = (total - float(np.dot(large, large))) / (flat.size - large.size)
        if updated == rest or updated <= 0.0:
            break
        rest = updated
    return rest, candidates[np.abs(candidates) > reach * np.sqrt(rest)]


def _centred_above(flat: np.ndarray, mean: float, floor: float) -> np.ndarray:
    """The centred entries w - mean above ``floor`` in absolute value, in order, as float64: centred a block of
    :data:`_BLOCK` entries at a time in the entries' own precision (a centred copy of a 262,144 x 640 embedding
    would be 671 MB)."""
    parts = []
    for start in range(0, flat.size, _BLOCK):
        centred = flat[start : start + _BLOCK] - mean
        parts.append(centred[np.abs(centred) > floor])
    return np.concatenate(parts).astype(np.float64) if parts else np.empty(0)


def _placed_outlier(large: np.ndarray, rest: float, n: int, m: int) -> tuple[float, float]:
    """(median, largest) over :data:`PLACEMENTS` random placements of the largest entries (signed, distinct
    positions) of the BBP outlier of their top singular value (module docstring)."""
    values = large[:MAX_LARGE]
    rng = np.random.default_rng(_PLACEMENT_SEED)
    outliers = []
    for _ in range(PLACEMENTS):
        cells = rng.choice(n * m, size=values.size, replace=False)
        outliers.append(entry_outlier(_top_singular_value(values, *np.divmod(cells, m)), rest, n, m))
    return float(np.median(outliers)), float(np.max(outliers))


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
    return max(alone, spectral_norm(block))


def _ks_to_mp(eigenvalues: np.ndarray, beta: float, sigma2: float) -> float:
    """Two-sided KS distance of the eigenvalues to MP(beta, sigma^2)."""
    x = np.sort(eigenvalues)
    f = mp_cdf(x, beta, sigma2)
    i = np.arange(1, x.size + 1)
    return float(max(np.max(i / x.size - f), np.max(f - (i - 1) / x.size)))
