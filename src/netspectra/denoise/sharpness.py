"""WeightWatcher's SVD sharpness: remove from W the top singular components its entries alone would make.

WeightWatcher 0.7.7's ``SVDSharpness`` (CalculatedContent/WeightWatcher, ``apply_svd_sharpness``) shuffles the
entries of each weight matrix, counts the eigenvalues of the shuffled matrix above its Marchenko–Pastur bulk
edge with a Tracy–Widom margin (the "correlation traps": outliers that single large entries make, with no
correlation behind them; Martin & Mahoney, JMLR 22(165), 2021, §5.5), and then zeroes that many of the
largest singular values of the unshuffled W (``smooth_W_alt`` with ``n_comp = -traps``):

    W' = W - sum_{i <= t} s_i u_i v_i^T,   t = #{lambda(W_s^T W_s / N) > tau},

W_s the shuffled W, tau the Tracy–Widom edge of MP(M/N, var(W)) at ``level`` (0.99: one noise matrix in a
hundred loses a component)
(:func:`~netspectra.rmt.marchenko_pastur.tracy_widom_edge`; Johnstone, Ann. Stat. 29, 2001).  WeightWatcher
fits the bulk's sigma by a brute-force kernel-density fit to one unseeded shuffle; here sigma^2 is the
entries' variance (the MP law of shuffled entries) and the shuffle is seeded.

Convention: W is N x M with N >= M; eigenvalues of W^T W / N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netspectra.defaults import DEPTH_TW_LEVEL
from netspectra.linalg import compute_spectrum, thin_svd
from netspectra.rmt.marchenko_pastur import tracy_widom_edge


@dataclass(frozen=True)
class Sharpened:
    """A matrix with its ``num_removed`` largest singular components removed (``matrix``, in the layout given),
    and the fraction of ||W||_F^2 they held."""

    matrix: np.ndarray
    num_removed: int
    energy_removed: float


def count_traps(matrix: np.ndarray, *, seed: int = 0, level: float = DEPTH_TW_LEVEL) -> int:
    """Eigenvalues of W_s^T W_s / N above the Tracy–Widom edge of MP(M/N, var(W)), W_s the entries of W shuffled
    by ``numpy.random.default_rng(seed)``."""
    w = np.asarray(matrix, dtype=np.float64)
    shuffled = np.random.default_rng(seed).permutation(w.ravel()).reshape(w.shape)
    spectrum = compute_spectrum(shuffled)
    edge = tracy_widom_edge(float(w.var()), spectrum.n, spectrum.m, level)
    return int(np.count_nonzero(spectrum.eigenvalues > edge))


def remove_top_components(matrix: np.ndarray, count: int) -> Sharpened:
    """W minus its ``count`` largest singular components (WeightWatcher's ``smooth_W_alt(W, -count)``)."""
    w = np.asarray(matrix, dtype=np.float64)
    u, s, vt = thin_svd(w)
    top = (u[:, :count] * s[:count]) @ vt[:count]
    total = float(np.sum(s * s))
    return Sharpened(w - top, count, float(np.sum(s[:count] ** 2)) / total if total > 0 else 0.0)


def sharpen(matrix: np.ndarray, *, seed: int = 0, level: float = DEPTH_TW_LEVEL) -> Sharpened:
    """:func:`remove_top_components` of W, as many as :func:`count_traps` finds (WeightWatcher's SVD sharpness)."""
    return remove_top_components(matrix, count_traps(matrix, seed=seed, level=level))
