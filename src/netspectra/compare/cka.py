"""Similarity of two checkpoints' weight matrices: WeightWatcher's ``distances(method='cka')``.

WeightWatcher 0.7.7 (CalculatedContent/WeightWatcher, ``WeightWatcher.matrix_distance``) compares two matrices
A and B of a layer, as the framework stores them (rows the outputs), by

    cka(A, B) = ||A^T B||_F / sqrt(||A^T A||_F ||B B^T||_F),

the square root of the uncentered linear CKA of Kornblith, Norouzi, Lee & Hinton (ICML 2019), with the rows
(output units) as samples and the columns (inputs) as features: 1 for B = c A, near 0 for independent random
matrices; a conv stack's value is the mean over its k positions (``distances`` averages over the matrices
it extracts).  With G = W^T W of each oriented matrix (N x M, N >= M): ||A^T A||_F = ||G_A||_F whichever the
orientation, and ||A^T B||_F^2 = ||W_A^T W_B||_F^2 when the rows are stored as N, <G_A, G_B>_F when they are
stored as M (then A = W^T); every product stays M x M.  cka(c A, d B) = cka(A, B), so each matrix is divided by
its largest entry first (no overflow); WeightWatcher adds 1e-6 to a denominator below 1e-6, which here only
an all-zero matrix reaches (its cka is 0).  The three M x M products are accumulated from blocks of rows
converted to float64 (:data:`~netspectra.linalg.dense.GRAM_BLOCK_ROWS` at a time): no float64 copy of either
matrix is made (a 262,144 x 640 embedding's pair would be 2.7 GB, four times the float32 matrices).
"""

from __future__ import annotations

import math

import numpy as np

from netspectra.linalg.dense import GRAM_BLOCK_ROWS

#: Added to the denominator when it is below it, as WeightWatcher does (all-zero matrices).
_FLOOR = 1e-6


def weight_cka(stack_a: np.ndarray, stack_b: np.ndarray, *, rows_are_n: bool) -> float:
    """WeightWatcher's CKA of two oriented (k, N, M) stacks, averaged over the k matrices.

    ``rows_are_n``: the stored matrices have N rows (not transposed to orient them).
    """
    total = 0.0
    for a, b in zip(stack_a, stack_b, strict=True):
        gram_a, gram_b, product = _products(a, b, cross=rows_are_n)
        cross = float(np.sum(product**2)) if rows_are_n else float(np.sum(gram_a * gram_b))
        norm = math.sqrt(float(np.linalg.norm(gram_a)) * float(np.linalg.norm(gram_b)))
        total += math.sqrt(max(cross, 0.0)) / (norm if norm >= _FLOOR else norm + _FLOOR)
    return total / len(stack_a)


def _products(a: np.ndarray, b: np.ndarray, *, cross: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(A^T A, B^T B, A^T B or None) in float64 of two N x M matrices, each divided by its largest entry,
    accumulated from blocks of rows (module docstring)."""
    n, m = a.shape
    scale_a, scale_b = _largest(a), _largest(b)
    gram_a, gram_b = np.zeros((m, m)), np.zeros((m, m))
    product = np.zeros((m, m)) if cross else None
    rows = max(GRAM_BLOCK_ROWS, m)
    for start in range(0, n, rows):
        x = np.asarray(a[start : start + rows], dtype=np.float64) / scale_a
        y = np.asarray(b[start : start + rows], dtype=np.float64) / scale_b
        gram_a += x.T @ x
        gram_b += y.T @ y
        if product is not None:
            product += x.T @ y
    return gram_a, gram_b, product


def _largest(matrix: np.ndarray) -> float:
    """The largest |entry| (without an array of the absolute values), 1 for an all-zero or non-finite matrix."""
    largest = max(float(matrix.max()), -float(matrix.min())) if matrix.size else 0.0
    return largest if largest > 0 and math.isfinite(largest) else 1.0
