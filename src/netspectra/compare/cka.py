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
an all-zero matrix reaches (its cka is 0).
"""

from __future__ import annotations

import math

import numpy as np

#: Added to the denominator when it is below it, as WeightWatcher does (all-zero matrices).
_FLOOR = 1e-6


def weight_cka(stack_a: np.ndarray, stack_b: np.ndarray, *, rows_are_n: bool) -> float:
    """WeightWatcher's CKA of two oriented (k, N, M) stacks, averaged over the k matrices.

    ``rows_are_n``: the stored matrices have N rows (not transposed to orient them).
    """
    total = 0.0
    for a, b in zip(np.asarray(stack_a, dtype=np.float64), np.asarray(stack_b, dtype=np.float64)):
        a, b = _unit_max(a), _unit_max(b)
        gram_a, gram_b = a.T @ a, b.T @ b
        cross = float(np.sum((a.T @ b) ** 2)) if rows_are_n else float(np.sum(gram_a * gram_b))
        norm = math.sqrt(float(np.linalg.norm(gram_a)) * float(np.linalg.norm(gram_b)))
        total += math.sqrt(max(cross, 0.0)) / (norm if norm >= _FLOOR else norm + _FLOOR)
    return total / len(stack_a)


def _unit_max(matrix: np.ndarray) -> np.ndarray:
    largest = float(np.max(np.abs(matrix)))
    return matrix / largest if largest > 0 and math.isfinite(largest) else matrix
