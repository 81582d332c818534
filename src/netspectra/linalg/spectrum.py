"""The spectrum of one weight matrix (or of a stack of conv slices), in float64.

Convention: W is N x M with N >= M, and the eigenvalues are those of X = W^T W / N.  For a stack of k
matrices (a conv kernel, one matrix per spatial position) the k spectra are pooled into one list of
k M eigenvalues, as WeightWatcher does (Martin & Mahoney, JMLR 22(165), 2021).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Spectrum:
    """Eigenvalues of W^T W / N, ascending, pooled over ``num_matrices`` matrices of shape (n, m).

    Attributes
    ----------
    eigenvalues : ndarray of float64
        Ascending eigenvalues of W^T W / N, clipped at 0 (round-off makes some slightly negative).
    n, m : int
        Rows and columns of each matrix after orientation, n >= m.
    num_matrices : int
        1 for a plain matrix; the number of spatial positions for a conv kernel.
    """

    eigenvalues: np.ndarray
    n: int
    m: int
    num_matrices: int = 1

    @property
    def q(self) -> float:
        """Aspect ratio Q = N/M >= 1."""
        return self.n / self.m

    @property
    def beta(self) -> float:
        """beta = M/N = 1/Q in (0, 1]."""
        return self.m / self.n

    @property
    def lambda_max(self) -> float:
        """Largest eigenvalue of W^T W / N."""
        return float(self.eigenvalues[-1])

    @property
    def zero_tolerance(self) -> float:
        """Eigenvalues at or below this are numerically zero: 10 M eps lambda_max.

        The Gram matrix is formed in float64, so an eigenvalue carries an absolute error of about
        M eps lambda_max; anything within ten times that cannot be told apart from zero.
        """
        return 10.0 * self.m * np.finfo(np.float64).eps * self.lambda_max


def compute_spectrum(matrices: np.ndarray) -> Spectrum:
    """Eigenvalues of W^T W / N for each matrix of a (k, N, M) float64 stack, pooled.

    Matrices with N < M are transposed first, so that N >= M always.

    Each Gram matrix W^T W / N (M x M) is formed with one BLAS call and diagonalised by LAPACK's
    ``syevd`` (``numpy.linalg.eigvalsh``, eigenvalues only).  Cost O(k (N M^2 + M^3)).
    """
    stack = np.asarray(matrices, dtype=np.float64)
    if stack.ndim == 2:
        stack = stack[None]
    if stack.shape[1] < stack.shape[2]:
        stack = np.swapaxes(stack, 1, 2)
    k, n, m = stack.shape
    evals = np.empty(k * m)
    for i in range(k):
        w = stack[i]
        gram = w.T @ w
        gram /= n
        evals[i * m : (i + 1) * m] = np.linalg.eigvalsh(gram)
    evals.sort()
    np.maximum(evals, 0.0, out=evals)
    return Spectrum(eigenvalues=evals, n=n, m=m, num_matrices=k)
