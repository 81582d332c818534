"""Correlation traps: what is left of the spectrum when the entries are shuffled.

Martin & Mahoney (JMLR 22(165), 2021, §5; WeightWatcher's ``randomize`` option) compare the ESD of a
layer with the ESD of the same matrix after a random permutation of its entries.  Shuffling destroys
every correlation, so a well-behaved randomized matrix follows the Marchenko–Pastur law of its entry
variance; whatever structure the layer learned shows up as the distance between the two ESDs.  When
the randomized matrix still has an eigenvalue beyond the Tracy–Widom edge, a few very large entries
dominate the layer by themselves — a "correlation trap".

Computation (no second full eigendecomposition): the randomized ESD of an N x M matrix of
exchangeable, finite-variance entries converges to MP(beta, sigma^2) with sigma^2 their variance, so
the distance is the KS statistic between the layer's ESD and that law; the top of the randomized
spectrum, where traps show and the MP limit does not apply, is computed exactly by Lanczos iteration
(:func:`~netspectra.linalg.lanczos.lanczos_top_eigenvalues`) on W_rand^T W_rand / N.  The entries are
centred before shuffling: a common mean would appear as a rank-one spike of strength
|mean| sqrt(M) / sigma, which is no trap.

Eigenvalue convention: eigenvalues of W^T W / N for each N x M matrix (N >= M), beta = M/N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from netspectra.linalg.lanczos import lanczos_top_eigenvalues
from netspectra.rmt.marchenko_pastur import mp_cdf, mp_edges, tracy_widom_edge

#: Relative accuracy of lambda_max of the shuffled matrix: far finer than the Tracy–Widom scale
#: N^(-2/3) that the trap test resolves (4e-3 at N = 4096), and half the Lanczos products of tol = 0.
LANCZOS_TOL = 1e-6


@dataclass(frozen=True)
class CorrelationTrap:
    """Result of :func:`correlation_trap`.

    Attributes
    ----------
    ks_distance : float
        KS distance between the layer's ESD and MP(beta, sigma^2), the ESD of its randomized version
        (NaN when the layer's eigenvalues were not given).
    lambda_max_randomized : float
        Largest eigenvalue of W_rand^T W_rand / N over the (k) randomized matrices.
    sigma2 : float
        Variance of the entries (pooled over the stack).
    mp_edge, tw_edge : float
        l+ = sigma^2 (1 + sqrt(beta))^2 and the Tracy–Widom edge at the requested level.
    is_trap : bool
        ``lambda_max_randomized > tw_edge``.
    """

    ks_distance: float
    lambda_max_randomized: float
    sigma2: float
    mp_edge: float
    tw_edge: float
    is_trap: bool

    @property
    def lambda_max_ratio(self) -> float:
        """lambda_max of the randomized matrix over its own MP edge l+ (about 1 without traps)."""
        return self.lambda_max_randomized / self.mp_edge


def correlation_trap(
    stack: np.ndarray, eigenvalues: ArrayLike | None, *, seed: int = 0, level: float = 0.99
) -> CorrelationTrap:
    """Compare a layer with its entry-shuffled version (Martin & Mahoney 2021).

    Parameters
    ----------
    stack : ndarray, shape (k, N, M) or (N, M)
        The weight matrices (transposed internally if N < M), float64.
    eigenvalues : array_like or None
        Every eigenvalue of W^T W / N of the layer, pooled over the stack (already computed by the
        caller: :class:`~netspectra.linalg.Spectrum`); None (e.g. a tail-only spectrum) skips the
        distance.
    seed : int
        Seed of the permutations.
    level : float
        Tracy–Widom quantile of the trap threshold (0.90, 0.95 or 0.99; Johnstone 2001).

    Raises
    ------
    ValueError
        If the entries have zero variance.
    """
    matrices = np.asarray(stack, dtype=np.float64)
    if matrices.ndim == 2:
        matrices = matrices[None]
    if matrices.shape[1] < matrices.shape[2]:
        matrices = np.swapaxes(matrices, 1, 2)
    _, n, m = matrices.shape
    beta = m / n
    sigma2 = float(np.var(matrices))
    if not sigma2 > 0:
        raise ValueError("correlation-trap test needs entries with positive variance")
    rng = np.random.default_rng(seed)
    lam_max = max(float(lanczos_top_eigenvalues(_shuffled(w, rng), 1, tol=LANCZOS_TOL)[-1]) for w in matrices)
    tw_edge = tracy_widom_edge(sigma2, n, m, level)
    distance = np.nan if eigenvalues is None else _ks_to_mp(np.asarray(eigenvalues, np.float64), beta, sigma2)
    return CorrelationTrap(
        ks_distance=distance,
        lambda_max_randomized=lam_max,
        sigma2=sigma2,
        mp_edge=mp_edges(beta, sigma2)[1],
        tw_edge=tw_edge,
        is_trap=bool(lam_max > tw_edge),
    )


def _shuffled(w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The centred entries of ``w`` in a uniformly random order (Fisher–Yates), same shape."""
    entries = (w - w.mean()).ravel()
    rng.shuffle(entries)
    return entries.reshape(w.shape)


def _ks_to_mp(eigenvalues: np.ndarray, beta: float, sigma2: float) -> float:
    """Two-sided KS distance of the eigenvalues to MP(beta, sigma^2)."""
    x = np.sort(eigenvalues)
    f = mp_cdf(x, beta, sigma2)
    i = np.arange(1, x.size + 1)
    return float(max(np.max(i / x.size - f), np.max(f - (i - 1) / x.size)))
