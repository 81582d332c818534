"""Dense float64 eigenvalues of X = W^T W / N: Gram matrix + ``syevd``, or SVD when the Gram is too coarse;
and the other dense decompositions the package needs (:func:`thin_svd`, :func:`gram_svd`,
:func:`spectral_norm`, :func:`orthonormal_basis`, :func:`solve_linear`).

Convention: W is N x M with N >= M; the eigenvalues are those of X = W^T W / N (M of them).

Forming the Gram matrix squares the condition number.  The computed eigenvalues of fl(W^T W) / N carry an
absolute error of order eps M lambda_max (Golub & Van Loan, "Matrix Computations", 4th ed., §8.6 and
§5.3.7), so the relative error of an eigenvalue lambda is about eps M lambda_max / lambda; the SVD
(``gesdd``) computes s_i = sqrt(N lambda_i) with absolute error of order eps s_max, i.e. a relative error
of about 2 eps sqrt(lambda_max / lambda) in lambda (Demmel, "Applied Numerical Linear Algebra", §5.2).

Measured here (2 cores, one BLAS thread, float64): Gram + ``syevd`` is 2.4-3.4x faster than ``gesdd``
(2048x512, 2048x2048, 4096x1024).  On a 2000x500 matrix with singular values geometric from 1 to
s_min, the largest relative error of an eigenvalue was 1.9e-13 / 9.8e-10 / 1.0e-5 / 8.1e-2 (Gram) and
6.5e-15 / 1.8e-13 / 2.0e-11 / 1.2e-9 (SVD) for s_min = 1e-2 / 1e-4 / 1e-6 / 1e-8.

The worst-case bound is far from what happens: measured (float64, this machine) the Gram eigenvalues
carry a relative error of about c eps lambda_max / lambda with c <= 0.054 (Gaussian 1024^2 and 2048^2,
4000x1000, Student-t 2048x1024, geometric singular values down to 1e-6 on 2000x500 and 1024^2),
not M eps lambda_max / lambda.

Rule (:func:`needs_svd`): take the Gram path; if an eigenvalue above the numerical-zero tolerance
10 M eps lambda_max lies below ``SVD_RATIO`` eps lambda_max, where eps lambda_max / lambda (twenty
times the measured error) exceeds 1e-6, recompute that matrix by SVD.  The bound has no factor M: with
it (the rule before), every square layer of a trained model (lambda_min / lambda_max ~ 1 / (4 N^2)
at the hard edge, 1.5e-8 for N = 4096) was decomposed twice, for a 3.2x cost and no change in any
metric beyond 1.4e-9 relative (measured on 4096 x 4096 noise plus a rank-64 power law).  Ill-conditioned
layers (singular values spread over 1e-6 and more) still take the SVD and get every eigenvalue to
~1e-9 relative accuracy or better.

A few such eigenvalues do not trigger it: only more than :data:`SVD_FRACTION` of them do.  A square
layer with a strong low-rank part (a 4096 x 4096 projection of the 7B-shaped benchmark model: lambda_min /
lambda_max = 2e-11, one or two eigenvalues below the bound) was otherwise recomputed by SVD at 3x the
cost of Gram + ``syevd`` for a largest eigenvalue error of 4e-8 relative and no column of its row moving
by more than 1.7e-10 (measured; two such layers per decoder block made the 7B model take 30 minutes).
"""

from __future__ import annotations

import numpy as np

from netspectra.linalg.lapack import symmetric_eigenvalues

#: Recompute by SVD when a non-zero eigenvalue is below this many eps lambda_max (eps lambda_max / lambda > 1e-6).
SVD_RATIO = 1e6
#: Recompute by SVD only when more than this fraction of the eigenvalues are that small.
SVD_FRACTION = 0.01
#: Eigenvalues at or below this many M eps lambda_max are numerically zero (:attr:`Spectrum.zero_tolerance`).
ZERO_RATIO = 10.0


#: Rows (at least M) of a float32 W converted to float64 at a time while its Gram matrix is accumulated.
GRAM_BLOCK_ROWS = 2048


def gram_matrix(w: np.ndarray, minus: np.ndarray | None = None) -> np.ndarray:
    """W^T W / N in float64 for an N x M matrix (N >= M) of float32 or float64; with ``minus`` (N x M, float32
    or float64), the Gram matrix of the difference W - ``minus``, never formed whole.

    NumPy's ``W.T @ W`` (BLAS ``syrk``: half the flops of a general product).  A float32 W (or a difference)
    is converted to float64 block by block (:data:`GRAM_BLOCK_ROWS` rows into one small buffer, ``minus``
    subtracted there: exact, float32 operands differ by a float64) and the blocks' products accumulated: as
    exact as from a float64 copy of W, which is never made (converting a whole layer into fresh memory cost
    MiniLM 0.2 s of page faults, as much as all its Gram matrices; a float64 difference of a 262,144 x 640
    embedding is 1.3 GB).  NumPy's BLAS, not SciPy's: SciPy ships a second OpenBLAS whose threads, still
    spinning after a call, took the second core from NumPy's next eigendecomposition and made the MiniLM
    analysis 2.4x slower with the default threads.
    """
    n, m = w.shape
    if w.dtype == np.float64 and minus is None:
        gram = w.T @ w
    else:
        rows = max(GRAM_BLOCK_ROWS, m)
        gram, part, buffer = np.zeros((m, m)), np.empty((m, m)), np.empty((min(n, rows), m))
        for start in range(0, n, rows):
            block = buffer[: min(rows, n - start)]
            np.copyto(block, w[start : start + rows])
            if minus is not None:
                np.subtract(block, minus[start : start + rows], out=block)
            np.matmul(block.T, block, out=part)
            gram += part
    gram /= n
    return gram


def gram_eigenvalues(w: np.ndarray, minus: np.ndarray | None = None) -> np.ndarray:
    """Ascending eigenvalues of W^T W / N for one N x M matrix (N >= M, float32 or float64), or of the
    difference W - ``minus``: :func:`gram_matrix` + ``syevd``.

    Cost O(N M^2 + M^3); absolute error O(eps M lambda_max).
    """
    return symmetric_eigenvalues(gram_matrix(w, minus))


def svd_eigenvalues(w: np.ndarray) -> np.ndarray:
    """Ascending eigenvalues s_i^2 / N of W^T W / N from the singular values of W (``gesdd``, no vectors).

    Cost about 3x :func:`gram_eigenvalues`; relative error O(eps sqrt(lambda_max / lambda)).
    """
    s = np.linalg.svd(np.asarray(w, dtype=np.float64), compute_uv=False)
    return np.sort(s * s / w.shape[0])


def needs_svd(eigenvalues: np.ndarray, m: int) -> bool:
    """Whether the Gram eigenvalues of an M-column matrix are too coarse: more than :data:`SVD_FRACTION` of
    them in (tol, SVD_RATIO eps lambda_max).

    ``tol`` = ZERO_RATIO M eps lambda_max is the numerical-zero tolerance; eigenvalues below it count as
    zero either way.
    """
    unit = np.finfo(np.float64).eps * float(np.max(eigenvalues))
    coarse = np.count_nonzero((eigenvalues > ZERO_RATIO * m * unit) & (eigenvalues < SVD_RATIO * unit))
    return bool(coarse > SVD_FRACTION * eigenvalues.size)


def dense_eigenvalues(w: np.ndarray, minus: np.ndarray | None = None) -> np.ndarray:
    """Ascending eigenvalues of W^T W / N (N >= M), or of the difference W - ``minus``, by Gram + ``syevd``, or
    by SVD when :func:`needs_svd` (the difference then formed in float64)."""
    evals = gram_eigenvalues(w, minus)
    if needs_svd(evals, w.shape[1]):
        return svd_eigenvalues(w if minus is None else np.subtract(w, minus, dtype=np.float64))
    return evals


def thin_svd(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thin SVD A = U diag(s) V^T of a finite 2-D matrix in float64 (LAPACK ``gesdd`` through NumPy).

    Returns ``(u, s, vt)`` with u (R x k), s descending (k), vt (k x C), k = min(R, C).  The one place
    outside the eigenvalue backends where singular vectors are computed (denoising, merging).
    """
    return np.linalg.svd(np.asarray(matrix, dtype=np.float64), full_matrices=False)


def gram_svd(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`thin_svd` from the eigendecomposition of the Gram matrix where that is accurate, else ``gesdd``.

    For W (N x M, N >= M; a wide matrix is transposed and its factors swapped back): W^T W = V diag(s^2) V^T
    (``syevd`` with vectors), U = W V diag(1/s).  The Gram eigenvalues carry an absolute error of about
    c eps s_1^2 (module docstring: c <= 0.054 measured), so s_i a relative error of about c eps (s_1 / s_i)^2 / 2
    and u_i one of about eps s_1 / s_i.  Taken only where every s_i^2 >= :data:`SVD_RATIO` eps s_1^2 (the rule
    of :func:`needs_svd` without its allowance for a few small ones: u_i = W v_i / s_i needs every s_i),
    where both stay below 1e-10; otherwise, rank-deficient and ill-conditioned matrices included, it is
    :func:`thin_svd` itself.  Same returns as :func:`thin_svd` (the singular vectors of a repeated singular
    value are another basis of the same subspace).

    Cost 2 N M^2 + O(M^3) flops (Gram with ``syrk``, ``syevd``, U) against ``gesdd``'s larger constant on tall
    matrices; measured (one BLAS thread, MiniLM's matrices): 30522 x 384 1.76 s -> 0.27 s, 1536 x 384
    0.072 s -> 0.026 s, 384 x 384 0.029 s -> 0.018 s.
    """
    a = np.asarray(matrix, dtype=np.float64)
    wide = a.shape[0] < a.shape[1]
    w = a.T if wide else a
    evals, v = np.linalg.eigh(w.T @ w)
    if evals[0] < SVD_RATIO * np.finfo(np.float64).eps * evals[-1]:
        return thin_svd(a)
    s = np.sqrt(evals[::-1])
    v = np.ascontiguousarray(v[:, ::-1])
    u = (w @ v) / s
    return (v, s, u.T) if wide else (u, s, v.T)


def spectral_norm(matrix: np.ndarray) -> float:
    """||A||_2, the largest singular value of a finite 2-D matrix, in float64 (LAPACK ``gesdd``, no vectors)."""
    return float(np.linalg.norm(np.asarray(matrix, dtype=np.float64), 2))


def orthonormal_basis(matrix: np.ndarray) -> np.ndarray:
    """Q of the thin QR decomposition A = Q R of an R x C matrix (R >= C), in float64 (LAPACK ``geqrf`` +
    ``orgqr`` through NumPy): C orthonormal columns spanning A's range when A has full column rank."""
    return np.linalg.qr(np.asarray(matrix, dtype=np.float64))[0]


def solve_linear(matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """x with A x = b for a square A (LAPACK ``gesv``: LU with partial pivoting, through NumPy).

    Raises
    ------
    numpy.linalg.LinAlgError
        If A is singular.
    """
    return np.linalg.solve(matrix, rhs)
