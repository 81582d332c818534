"""Localization of singular vectors: how many of a vector's entries carry its weight.

The three statistics WeightWatcher reports with ``analyze(vectors=True)`` (Martin & Mahoney, JMLR 22(165),
2021, §5; CalculatedContent/WeightWatcher, ``RMT_Util``), for a vector v of length n:

* localization ratio ||v||_1 / ||v||_inf: n for a flat vector, 1 for one entry;
* participation ratio ||v||_2 / ||v||_4: n^(1/4) for a flat vector, 1 for one entry (the inverse
  participation ratio sum v_i^4 of a unit vector is its reciprocal to the 4th power; Bell & Dean, Discuss.
  Faraday Soc. 50, 1970; the ratios as in Martin & Mahoney, arXiv 1810.01075);
* discrete entropy: -sum p_b ln p_b of the 100-bin histogram (density) of |v_i| - mean|v|, each bin's
  density plus 1e-10, divided by sqrt(2 pi) and normalised to sum 1.

Delocalized (random) singular vectors have large ratios; a few large entries carrying a vector lower them.
:func:`vector_statistics` gives them for every right singular vector of a stack of matrices (the
eigenvectors of W^T W, W N x M, N >= M), with the eigenvalues they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from netspectra.linalg import thin_svd

#: Bins of the histogram of the discrete entropy.
ENTROPY_BINS = 100
#: Added to each bin's density before normalising (WeightWatcher's ``EPSILON``).
_BIN_FLOOR = 1e-10


def localization_ratio(vector: ArrayLike) -> float:
    """||v||_1 / ||v||_inf."""
    v = np.abs(np.asarray(vector, dtype=np.float64))
    return float(v.sum() / v.max())


def participation_ratio(vector: ArrayLike) -> float:
    """||v||_2 / ||v||_4."""
    v = np.asarray(vector, dtype=np.float64)
    return float(np.sqrt(np.sum(v * v)) / np.sum(v**4) ** 0.25)


def discrete_entropy(vector: ArrayLike, bins: int = ENTROPY_BINS) -> float:
    """-sum p ln p of the ``bins``-bin density histogram of |v| - mean|v| (module docstring)."""
    v = np.abs(np.asarray(vector, dtype=np.float64))
    density = np.histogram(v - v.mean(), bins=bins, density=True)[0] + _BIN_FLOOR
    p = density / np.sqrt(2.0 * np.pi)
    p = p / p.sum()
    return float(-np.sum(p * np.log(p)))


@dataclass(frozen=True)
class VectorStatistics:
    """Per right singular vector of a stack: its eigenvalue of W^T W (unnormalised, s^2) and the three statistics."""

    eigenvalues: NDArray[np.float64]
    entropy: NDArray[np.float64]
    localization: NDArray[np.float64]
    participation: NDArray[np.float64]


def vector_statistics(stack: np.ndarray) -> VectorStatistics:
    """:func:`discrete_entropy`, :func:`localization_ratio` and :func:`participation_ratio` of every right
    singular vector of each (N, M) matrix of ``stack`` (k, N, M), pooled, with s^2 of each."""
    eigenvalues, entropy, localization, participation = [], [], [], []
    for matrix in np.asarray(stack, dtype=np.float64):
        _, s, vt = thin_svd(matrix)
        eigenvalues.append(s * s)
        entropy.append([discrete_entropy(v) for v in vt])
        localization.append([localization_ratio(v) for v in vt])
        participation.append([participation_ratio(v) for v in vt])
    return VectorStatistics(
        *(np.concatenate(part).astype(np.float64) for part in (eigenvalues, entropy, localization, participation))
    )
