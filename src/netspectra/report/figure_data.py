"""What the figures show, computed without a plotting library: positive eigenvalues, log-binned densities,
unfolded bulk spacings, the noise level used to unfold.  Shared by the matplotlib figures
(:mod:`netspectra.report.plots`) and the HTML report's SVG figures (:mod:`netspectra.report.svg_figures`).

Eigenvalue convention: W is N x M with N >= M, and the eigenvalues are those of W^T W / N.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from netspectra.defaults import DEPTH_TW_LEVEL
from netspectra.rmt import spacing
from netspectra.rmt.marchenko_pastur import tracy_widom_edge

if TYPE_CHECKING:
    from netspectra.diagnose.row import LayerReport

#: Fewest eigenvalues for which a histogram is drawn.
MIN_EIGENVALUES = 10


def positive(eigenvalues: ArrayLike) -> NDArray[np.float64]:
    """Sorted eigenvalues above numerical zero, 10 M eps lambda_max (the ``rank_loss`` rule)."""
    evals = np.sort(np.asarray(eigenvalues, dtype=np.float64).ravel())
    evals = evals[np.isfinite(evals)]
    if evals.size == 0:
        return evals
    return evals[evals > 10.0 * evals.size * np.finfo(np.float64).eps * max(evals[-1], 0.0)]


def bin_count(n: int) -> int:
    return int(np.clip(2.0 * math.sqrt(n), 10, 80))


def log_density(eigenvalues: ArrayLike, edges: NDArray[np.float64] | None = None) -> tuple[NDArray, NDArray]:
    """Histogram density (per unit lambda, over all given eigenvalues) on log-spaced bins.

    Returns ``(density, edges)``; bins span the positive eigenvalues unless ``edges`` are given.
    """
    evals = positive(eigenvalues)
    if edges is None:
        lo, hi = evals[0], evals[-1]
        if hi <= lo:
            lo, hi = lo / 1.5, hi * 1.5
        edges = np.geomspace(lo, hi, bin_count(evals.size) + 1)
    counts, edges = np.histogram(evals, bins=edges)
    return counts / (max(evals.size, 1) * np.diff(edges)), edges


def bulk_spacings(
    eigenvalues: ArrayLike, n: int, m: int, sigma2: float, *, trim: float = 0.1, level: float = DEPTH_TW_LEVEL
) -> NDArray[np.float64]:
    """Unfolded nearest-neighbour spacings of the bulk, as :func:`netspectra.rmt.spacing.level_spacing` uses.

    Bulk: positive eigenvalues of W^T W / N at or below the Tracy–Widom edge at ``level``; unfolded with
    the MP(beta = M/N, sigma^2) CDF, the ``trim`` fraction at each edge dropped, spacings scaled to mean 1.
    """
    if n < m:
        n, m = m, n
    evals = np.sort(np.asarray(eigenvalues, dtype=np.float64).ravel())
    bulk = evals[(evals > 0) & (evals <= tracy_widom_edge(sigma2, n, m, level))]
    if bulk.size < 10:
        raise ValueError(f"level statistics need at least 10 bulk eigenvalues, got {bulk.size}")
    return spacing.unfolded_spacings(spacing.unfold_mp(bulk, m / n, sigma2), trim)


def spacing_sigma2(layer: LayerReport) -> float:
    """Noise level for unfolding the bulk: the trimmed ``mp_width`` of the depth columns when the layer
    has it (so the plot matches its ``spacing_ratio`` column, and ``ks_goe`` where ``spacing_unfolding`` is
    ``mp``), else ``sigma2_mp``."""
    width = layer.mp_width
    return float(width) if isinstance(width, (int, float)) and math.isfinite(width) and width > 0 else layer.sigma2_mp
