"""Top-k eigenvalues of X = W^T W / N from a float32 decomposition refined and checked in float64.

Convention: W is N x M with N >= M; the eigenvalues are those of X = W^T W / N, descending
lambda_1 >= lambda_2 >= ... (returned ascending, as every top-k function of the package).

Two steps (docs/formulas.md#float32-windows-refined-in-float64):

1. **float32 subspace** (:func:`float32_top_eigenvectors`): G = W^T W / N in float32 (BLAS ``ssyrk``, half the
   time of ``dsyrk``) and the eigenvectors of its top c eigenvalues by LAPACK ``ssyevr`` (tridiagonal
   reduction and MRRR for the wanted subset only; :func:`~netspectra.linalg.lapack.top_eigenvectors_float32`).
2. **float64 Rayleigh-Ritz** (:func:`refine_top_eigenvalues`; Parlett, "The Symmetric Eigenvalue Problem",
   SIAM 1998, ch. 11): Q = qr(V) in float64, Y = W Q (float64), H = Y^T Y / N = Q^T X Q, H = S diag(theta) S^T;
   the Ritz pairs (theta_j, x_j = Q s_j) and their residuals r_j = X x_j - theta_j x_j = W^T (Y s_j) / N - theta_j x_j,
   all in float64 from W itself (never from the float32 Gram).

Check of the top k Ritz values theta_1 >= ... >= theta_k (the other c - k are the oversampling):

* theta_i <= lambda_i (Courant-Fischer / Cauchy interlacing: Ritz values from any subspace bound the top
  eigenvalues from below), so the error lambda_i - theta_i is >= 0;
* [theta_i - ||r_i||, theta_i + ||r_i||] contains an eigenvalue of X (the Bauer-Fike / Weyl residual bound for
  a symmetric matrix), used as a sanity bound;
* the quadratic (Kato-Temple) bound lambda_i - theta_i <= ||r_i||^2 / gap_i, with gap_i = theta_i - mu: r_i is
  orthogonal to span(Q), so what theta_i can be confused with is the spectrum of X on the complement of
  span(Q), whose top mu is estimated by the bottom Ritz value of the oversampled part plus its residual,
  mu = theta_c + ||r_c||.

Accepted when every top-k pair has gap_i > ||r_i|| (the Bauer-Fike interval stays clear of mu) and
||r_i||^2 / gap_i <= rtol theta_i + 10 M eps lambda_max (the second term is the dense path's own absolute error,
:attr:`~netspectra.linalg.spectrum.Spectrum.zero_tolerance`).

Guaranteed: the lower bounds theta_i <= lambda_i and the Bauer-Fike intervals.  Not guaranteed: that mu bounds
the spectrum of X on the complement of span(Q), i.e. that span(Q) contains the top k eigenvectors up to the
small angles the bound accounts for; and the per-pair bound treats each top Ritz pair alone (the coupling of
pairs through the complement is of second order in the residuals and not bounded here).  The float32
eigenvectors make the first true up to angles of about eps_32 M lambda_max / (lambda_k - lambda_(c+1)), and the
oversampling (c = 2k) keeps that gap away from the window's bottom; an eigenvector the float32 solve missed
entirely (possible only where float32 round-off, about eps_32 M lambda_max, exceeds lambda_k - lambda_(c+1))
would go unseen.  When the check fails, None is returned and the caller computes the window exactly in float64.
"""

from __future__ import annotations

import numpy as np

from netspectra.linalg.dense import GRAM_BLOCK_ROWS, ZERO_RATIO, orthonormal_basis
from netspectra.linalg.lapack import top_eigenvectors_float32

#: Default relative accuracy demanded of every refined eigenvalue (alpha and xmin then agree with float64 to ~1e-9).
REFINE_RTOL = 1e-9
#: Trial subspace size c = min(M, OVERSAMPLING k) for k wanted eigenvalues.
OVERSAMPLING = 2


def _float32_gram(w: np.ndarray) -> np.ndarray:
    """W^T W / N in float32 (``ssyrk``); a float64 W converted a block of rows at a time."""
    n, m = w.shape
    if w.dtype == np.float32:
        gram = w.T @ w
    else:
        rows = max(GRAM_BLOCK_ROWS, m)
        gram = np.zeros((m, m), dtype=np.float32)
        for start in range(0, n, rows):
            block = np.asarray(w[start : start + rows], dtype=np.float32)
            gram += block.T @ block
    gram /= np.float32(n)
    return gram


def float32_top_eigenvectors(w: np.ndarray, count: int) -> np.ndarray | None:
    """Eigenvectors (M x min(count, M), float32, ascending eigenvalues) of the top ``count`` eigenvalues of the
    float32 Gram W^T W / N, by ``ssyevr`` on that subset; None when the float32 Gram overflows."""
    with np.errstate(over="ignore", invalid="ignore"):  # entries whose squares overflow float32: checked below
        gram = _float32_gram(w)
    if not np.isfinite(gram).all():
        return None
    return top_eigenvectors_float32(gram, min(count, w.shape[1]))


def _times(w: np.ndarray, q: np.ndarray) -> np.ndarray:
    """W Q in float64, W converted a block of rows at a time."""
    out = np.empty((w.shape[0], q.shape[1]))
    for start in range(0, w.shape[0], GRAM_BLOCK_ROWS):
        rows = slice(start, start + GRAM_BLOCK_ROWS)
        np.matmul(np.asarray(w[rows], dtype=np.float64), q, out=out[rows])
    return out


def _transpose_times(w: np.ndarray, z: np.ndarray) -> np.ndarray:
    """W^T Z in float64, W converted a block of rows at a time."""
    out = np.zeros((w.shape[1], z.shape[1]))
    for start in range(0, w.shape[0], GRAM_BLOCK_ROWS):
        rows = slice(start, start + GRAM_BLOCK_ROWS)
        out += np.asarray(w[rows], dtype=np.float64).T @ z[rows]
    return out


def ritz_pairs(w: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ritz values (ascending) of X = W^T W / N on span(``vectors``) and the norms ||r_j|| of their residuals,
    in float64 (module docstring, step 2).  Cost 4 N M c flops (two products with W) + O(M c^2)."""
    n = w.shape[0]
    q = orthonormal_basis(vectors)
    y = _times(w, q)
    theta, s = np.linalg.eigh(y.T @ y / n)
    residual = _transpose_times(w, y @ s) / n - (q @ s) * theta
    return theta, np.sqrt(np.einsum("ij,ij->j", residual, residual))


def refine_top_eigenvalues(w: np.ndarray, vectors: np.ndarray, k: int, *, rtol: float = REFINE_RTOL) -> np.ndarray | None:
    """The k largest eigenvalues of W^T W / N (N >= M), ascending, from the Rayleigh-Ritz refinement on
    span(``vectors``) (M x c, c > k unless c = M), or None when the residual check fails (module docstring).

    ``rtol``: relative accuracy every accepted eigenvalue is guaranteed to, given that span(``vectors``)
    contains the top k eigenvectors (what the check estimates and cannot prove).
    """
    m = w.shape[1]
    theta, norms = ritz_pairs(w, vectors)
    top, radius = theta[-k:], norms[-k:]
    allowed = rtol * np.abs(top) + ZERO_RATIO * m * np.finfo(np.float64).eps * max(float(theta[-1]), 0.0)
    if theta.size < m:  # a proper subspace: the complement's top estimated by the bottom Ritz pair
        if theta.size <= k:
            return None
        gap = top - (theta[0] + norms[0])
        if not (np.all(gap > radius) and np.all(radius * radius <= allowed * gap)):
            return None
    elif not np.all(radius <= allowed):  # the whole space: Ritz values are eigenvalues, residuals are round-off
        return None
    return np.maximum(top, 0.0)


def refined_top_eigenvalues(w: np.ndarray, k: int, *, rtol: float = REFINE_RTOL) -> np.ndarray | None:
    """The k largest eigenvalues of W^T W / N (N >= M, float32 or float64), ascending, from a float32
    decomposition refined in float64 (module docstring), or None when they cannot be guaranteed to ``rtol``.

    Cost N M^2 (float32 Gram) + 4/3 M^3 (float32 reduction) + 4 N M c (float64 refinement), c = min(M, 2k),
    against N M^2 + 4/3 M^3 in float64 for the dense path.
    """
    vectors = float32_top_eigenvectors(w, OVERSAMPLING * k)
    return None if vectors is None else refine_top_eigenvalues(w, vectors, k, rtol=rtol)
