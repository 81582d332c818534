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


def weight_cka(
    stack_a: np.ndarray, stack_b: np.ndarray, *, rows_are_n: bool, spectra: tuple[np.ndarray, np.ndarray] | None = None
) -> float:
    """WeightWatcher's CKA of two oriented (k, N, M) stacks, averaged over the k matrices.

    ``rows_are_n``: the stored matrices have N rows (not transposed to orient them).  ``spectra``: the M
    eigenvalues lambda_i of W^T W / N of A and of B, single matrices (k = 1), which give
    ||G||_F = N sqrt(sum_i lambda_i^2) (each divided by its matrix's largest entry squared, as the products
    are); with the rows stored as N only W_A^T W_B is then accumulated, a third of the products.
    """
    total = 0.0
    for a, b in zip(stack_a, stack_b, strict=True):
        scale_a, scale_b = _largest(a), _largest(b)
        if rows_are_n and spectra is not None and len(stack_a) == 1:
            (product,) = _products(a, b, scale_a, scale_b, grams=False)
            norms = _gram_norm(spectra[0], a.shape[0], scale_a), _gram_norm(spectra[1], b.shape[0], scale_b)
            cross = float(np.sum(product**2))
        else:
            gram_a, gram_b, *rest = _products(a, b, scale_a, scale_b, grams=True, cross=rows_are_n)
            cross = float(np.sum(rest[0] ** 2)) if rows_are_n else float(np.sum(gram_a * gram_b))
            norms = float(np.linalg.norm(gram_a)), float(np.linalg.norm(gram_b))
        norm = math.sqrt(norms[0] * norms[1])
        total += math.sqrt(max(cross, 0.0)) / (norm if norm >= _FLOOR else norm + _FLOOR)
    return total / len(stack_a)


def _gram_norm(eigenvalues: np.ndarray, n: int, scale: float) -> float:
    """||(W / scale)^T (W / scale)||_F = N sqrt(sum_i (lambda_i / scale^2)^2) from all M eigenvalues lambda_i of
    W^T W / N (each lambda_i / scale^2 <= M: no overflow)."""
    return float(n * np.linalg.norm(np.asarray(eigenvalues, dtype=np.float64) / scale / scale))


def _products(
    a: np.ndarray, b: np.ndarray, scale_a: float, scale_b: float, *, grams: bool, cross: bool = True
) -> list[np.ndarray]:
    """In float64, of two N x M matrices each divided by its scale, accumulated from blocks of rows (module
    docstring): [A^T A, B^T B] with ``grams``, then A^T B with ``cross``."""
    n, m = a.shape
    sums = [np.zeros((m, m)) for _ in range(2 * grams + cross)]
    rows = max(GRAM_BLOCK_ROWS, m)
    for start in range(0, n, rows):
        x = np.asarray(a[start : start + rows], dtype=np.float64) / scale_a
        y = np.asarray(b[start : start + rows], dtype=np.float64) / scale_b
        terms = ([x.T @ x, y.T @ y] if grams else []) + ([x.T @ y] if cross else [])
        for total, term in zip(sums, terms, strict=True):
            total += term
    return sums


def _largest(matrix: np.ndarray) -> float:
    """The largest |entry| (without an array of the absolute values), 1 for an all-zero or non-finite matrix."""
    largest = max(float(matrix.max()), -float(matrix.min())) if matrix.size else 0.0
    return largest if largest > 0 and math.isfinite(largest) else 1.0
