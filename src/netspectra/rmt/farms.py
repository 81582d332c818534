"""FARMS: the spectrum of fixed-aspect-ratio submatrices, for an alpha free of the aspect-ratio bias.

Liu et al., "Eigenspectrum Analysis of Neural Networks without Aspect Ratio Bias" (ICML 2025): the ESD
of an N x M matrix depends on its aspect ratio N/M as well as on training, so alphas of layers of
different shapes are not comparable.  FARMS pools the eigenvalues of submatrices that all have one
aspect ratio and fits the power law on the pooled spectrum.  Here the ratio is 1: square blocks of side
M (the smaller dimension) tile the longer side (N // M blocks, a last one aligned to the end when M does
not divide N), and each block B contributes the M eigenvalues of B^T B / M.  A square matrix is its own
block, so its FARMS spectrum is its spectrum.
"""

from __future__ import annotations

import numpy as np

from netspectra.linalg.lapack import symmetric_eigenvalues


def farms_eigenvalues(stack: np.ndarray) -> np.ndarray:
    """Pooled eigenvalues (ascending) of the square M x M blocks of each (N, M) matrix of a (k, N, M) stack."""
    stack = np.asarray(stack)
    if stack.ndim == 2:
        stack = stack[None]
    _, n, m = stack.shape
    starts = list(range(0, n - m + 1, m))
    if starts[-1] + m < n:
        starts.append(n - m)
    parts = []
    for w in stack:
        for start in starts:
            block = np.asarray(w[start : start + m], dtype=np.float64)
            parts.append(symmetric_eigenvalues(block.T @ block / m))
    return np.sort(np.clip(np.concatenate(parts), 0.0, None))
