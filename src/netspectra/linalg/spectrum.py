"""The spectrum of one weight matrix (or of a stack of conv slices), in float64.

Convention: W is N x M with N >= M, and the eigenvalues are those of X = W^T W / N.  For a stack of k
matrices (a conv kernel, one matrix per spatial position) the k spectra are pooled into one list of
k M eigenvalues, as WeightWatcher does (Martin & Mahoney, JMLR 22(165), 2021).

:func:`compute_spectrum` gives every eigenvalue, :func:`compute_top_spectrum` the top K of the pooled
spectrum (a window, for ``tail_only``); both dispatch to the backend :func:`~.choose.choose_backend` names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from netspectra.errors import MatrixError
from netspectra.linalg.choose import SpectrumOptions, choose_backend, full_spectrum
from netspectra.linalg.dense import GRAM_BLOCK_ROWS, dense_eigenvalues
from netspectra.linalg.torch_backend import torch_eigenvalues


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
    trace : float, optional
        Sum of all ``num_matrices * m`` eigenvalues (||W||_F^2 / N summed over the stack) when
        ``eigenvalues`` holds only the top of the spectrum (:func:`compute_top_spectrum`); ``None``
        when it holds every eigenvalue.
    """

    eigenvalues: np.ndarray
    n: int
    m: int
    num_matrices: int = 1
    trace: float | None = None

    @property
    def complete(self) -> bool:
        """True when ``eigenvalues`` holds all ``num_matrices * m`` eigenvalues."""
        return self.eigenvalues.size == self.num_matrices * self.m

    @property
    def total(self) -> float:
        """Sum of all eigenvalues, tr(W^T W) / N (over the stack), whether or not all are held."""
        return float(np.sum(self.eigenvalues)) if self.trace is None else self.trace

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

    def top(self, count: int) -> Spectrum:
        """The ``count`` largest eigenvalues as a window (complete again when ``count`` covers them all)."""
        if count >= self.num_matrices * self.m:
            return self
        return replace(self, eigenvalues=self.eigenvalues[-count:], trace=self.total)


#: sqrt of the largest float64: above it (times sqrt(N M)), ||W||_F^2 and so lambda_max(W^T W) can overflow.
LARGEST_ENTRY = float(np.sqrt(np.finfo(np.float64).max))


def check_representable(stack: np.ndarray) -> float:
    """Raise :class:`MatrixError` when a (k, N, M) stack has NaN/Inf entries or entries so large that
    W^T W would overflow float64: what every eigenvalue backend needs (LAPACK would fail to converge
    or return garbage).  Returns the largest absolute entry.

    The bound is max|w_ij| sqrt(k N M max(1, k/2)) <= sqrt(max float64).  With k = 1 it guarantees
    s_max^2 <= ||W||_F^2 <= N M max|w_ij|^2 is finite, and with it every eigenvalue, trace and norm
    derived from the spectrum; the factor k keeps sums over all k matrices of a stack finite (the sum
    of squares, the variance of the entries), and max(1, k/2) the WeightWatcher-convention columns of a
    convolution, which multiply the eigenvalues by k/2.  (A bound with sqrt(N) alone keeps the Gram's
    entries finite, not its eigenvalues: a 64 x 32 sign matrix times 1e153 passes it and overflows.)
    """
    if stack.size == 0:
        return 0.0
    largest, smallest = float(stack.max()), float(stack.min())  # NaN propagates: two passes, no copy
    if not (math.isfinite(largest) and math.isfinite(smallest)):
        raise MatrixError(f"{int(stack.size - np.count_nonzero(np.isfinite(stack)))} NaN/Inf entries")
    return _check_scale(max(abs(largest), abs(smallest)), stack.shape)


def _check_scale(scale: float, shape: tuple[int, ...]) -> float:
    """``scale`` (the largest absolute entry of a (k, N, M) stack), or MatrixError when W^T W could overflow."""
    k, n, m = shape
    if scale * np.sqrt(float(k) * n * m * max(1.0, k / 2)) > LARGEST_ENTRY:
        raise MatrixError(f"largest entry {scale:.3g}: W^T W would overflow float64")
    return scale


#: Rows of a difference formed in float64 at a time to find its largest entry.
_DIFFERENCE_BLOCK_ROWS = 2048


def check_difference(b: np.ndarray, a: np.ndarray) -> float:
    """:func:`check_representable` of the difference B - A of two (k, N, M) stacks, formed in float64 a block of
    rows at a time (never whole); returns its largest absolute entry."""
    scale = 0.0
    for bm, am in zip(b, a, strict=True):
        for start in range(0, bm.shape[0], _DIFFERENCE_BLOCK_ROWS):
            rows = slice(start, start + _DIFFERENCE_BLOCK_ROWS)
            block = np.subtract(bm[rows], am[rows], dtype=np.float64)
            largest = max(abs(float(block.max(initial=0.0))), abs(float(block.min(initial=0.0))))
            if not math.isfinite(largest):
                raise MatrixError("NaN/Inf entries in the difference")
            scale = max(scale, largest)
    return _check_scale(scale, b.shape)


def _stack(matrices: np.ndarray, *, checked: bool = False) -> np.ndarray:
    """A (k, N, M) stack with N >= M in float32 or float64 (other dtypes converted to float64),
    checked by :func:`check_representable` unless the caller has (``checked``)."""
    stack = np.asarray(matrices)
    if stack.dtype not in (np.float32, np.float64):
        stack = stack.astype(np.float64)
    if stack.ndim == 2:
        stack = stack[None]
    if stack.shape[1] < stack.shape[2]:
        stack = np.swapaxes(stack, 1, 2)
    if not checked:
        check_representable(stack)
    return stack


def _pooled(parts: list[np.ndarray]) -> np.ndarray:
    evals = np.concatenate(parts)
    evals.sort()
    np.maximum(evals, 0.0, out=evals)
    return evals


def compute_spectrum(matrices: np.ndarray, options: SpectrumOptions = SpectrumOptions(), *, checked: bool = False) -> Spectrum:
    """Eigenvalues of W^T W / N for each matrix of a (k, N, M) stack (float32 or float64), pooled.

    Matrices with N < M are transposed first, so that N >= M always.  Each matrix goes to the backend
    ``choose_backend(N, M, options)`` picks (``tail_only`` ignored): by default the float64 Gram matrix
    W^T W / N (M x M, BLAS ``dsyrk``; a float32 W is converted block by block) diagonalised by LAPACK's
    ``syevd`` (eigenvalues only), or the SVD of W when the Gram is too coarse for the smallest
    eigenvalues (:mod:`netspectra.linalg.dense`).  Cost O(k (N M^2 + M^3)).  ``checked``: the caller has
    already run :func:`check_representable` on the stack.

    Raises
    ------
    MatrixError
        NaN/Inf entries, or entries whose squares overflow float64 (:func:`check_representable`).
    """
    stack = _stack(matrices, checked=checked)
    k, n, m = stack.shape
    backend = choose_backend(n, m, full_spectrum(options))
    if backend == "torch":
        parts = [torch_eigenvalues(np.asarray(w, dtype=np.float64)) for w in stack]
    else:
        parts = [dense_eigenvalues(w) for w in stack]
    return Spectrum(eigenvalues=_pooled(parts), n=n, m=m, num_matrices=k)


def compute_difference_spectrum(b: np.ndarray, a: np.ndarray, options: SpectrumOptions = SpectrumOptions()) -> Spectrum:
    """Eigenvalues of Delta^T Delta / N for Delta = B - A, two (k, N, M) stacks (float32 or float64) oriented
    alike, pooled as :func:`compute_spectrum` pools them, without forming Delta whole: each block of rows is
    subtracted in float64 (exactly, for float32 operands) as the Gram matrix is accumulated
    (:func:`~netspectra.linalg.dense.gram_matrix`), so that memory is that of A and B, not of a float64 copy of
    their difference.  The torch backend and the SVD fallback form Delta in float64, one matrix at a time.

    Raises
    ------
    MatrixError
        When the difference has NaN/Inf entries or entries whose squares overflow (:func:`check_difference`).
    """
    b, a = _stack(b, checked=True), _stack(a, checked=True)
    if b.shape != a.shape:
        raise MatrixError(f"stacks of shapes {b.shape} and {a.shape} have no difference")
    check_difference(b, a)
    k, n, m = b.shape
    if choose_backend(n, m, full_spectrum(options)) == "torch":
        parts = [torch_eigenvalues(np.subtract(bm, am, dtype=np.float64)) for bm, am in zip(b, a)]
    else:
        parts = [dense_eigenvalues(bm, am) for bm, am in zip(b, a)]
    return Spectrum(eigenvalues=_pooled(parts), n=n, m=m, num_matrices=k)


def _trace(stack: np.ndarray) -> float:
    """tr(W^T W) / N summed over a (k, N, M) stack, in float64 (a float32 matrix converted a block of rows at a time)."""
    total = 0.0
    for w in stack:
        for start in range(0, w.shape[0], GRAM_BLOCK_ROWS):
            block = np.asarray(w[start : start + GRAM_BLOCK_ROWS], dtype=np.float64)
            total += float(np.einsum("ij,ij->", block, block))
    return total / stack.shape[1]


class RefinedWindows:
    """Top-``count`` windows of one (k, N, M) stack (float32 or float64) by the ``refined`` backend, the float32
    subspaces kept from one window to the next (:mod:`~netspectra.linalg.refined`).

    A window of K per matrix refines on the top c = min(M, 2K) float32 eigenvectors; when the kept ones are
    fewer, ``ssyevr`` is rerun for min(M, 4K) (enough for the window doubled once).  A matrix whose check
    fails is decomposed exactly in float64 (:func:`~netspectra.linalg.dense.dense_eigenvalues`), once: its
    later windows are slices of that spectrum.
    """

    def __init__(self, matrices: np.ndarray) -> None:
        self.stack = _stack(matrices, checked=True)
        self._vectors: list[np.ndarray | None] = [None] * self.stack.shape[0]
        self._exact: list[np.ndarray | None] = [None] * self.stack.shape[0]

    def _top(self, index: int, count: int) -> np.ndarray:
        from netspectra.linalg.refined import OVERSAMPLING, float32_top_eigenvectors, refine_top_eigenvalues

        w, m = self.stack[index], self.stack.shape[2]
        size = min(m, OVERSAMPLING * count)
        if self._exact[index] is None and size == m:  # no room for a smaller subspace: float64 is cheaper
            self._exact[index] = dense_eigenvalues(w)
        if self._exact[index] is None:
            vectors = self._vectors[index]
            if vectors is None or vectors.shape[1] < size:
                vectors = self._vectors[index] = float32_top_eigenvectors(w, 2 * OVERSAMPLING * count)
            top = None if vectors is None else refine_top_eigenvalues(w, vectors[:, -size:], count)
            if top is not None:
                return top
            self._exact[index] = dense_eigenvalues(w)
        return self._exact[index][-count:]

    def top(self, count: int) -> Spectrum:
        """The ``count`` largest eigenvalues of the pooled spectrum, ascending (the complete spectrum when
        ``count`` covers it)."""
        k, n, m = self.stack.shape
        if count >= k * m:
            return compute_spectrum(self.stack, checked=True)
        parts = [self._top(index, min(count, m)) for index in range(k)]
        return Spectrum(eigenvalues=_pooled(parts)[-count:], n=n, m=m, num_matrices=k, trace=_trace(self.stack))


def compute_top_spectrum(matrices: np.ndarray, count: int, options: SpectrumOptions = SpectrumOptions()) -> Spectrum:
    """The ``count`` largest eigenvalues of W^T W / N pooled over a (k, N, M) stack, ascending.

    The top ``count`` of the pooled spectrum are among the top ``min(count, M)`` of each matrix, so each
    matrix contributes that many (by Lanczos, randomized SVD, a float32 decomposition refined in float64
    (:class:`RefinedWindows`), or a full decomposition, as ``choose_backend`` decides for ``tail_only = count``).
    ``trace`` is set to tr(W^T W) / N of the whole stack; when ``count >= k M`` the result is the complete spectrum.
    """
    stack = _stack(matrices)
    k, n, m = stack.shape
    if count >= k * m:
        return compute_spectrum(stack, full_spectrum(options), checked=True)
    per_matrix = min(count, m)
    backend = choose_backend(n, m, SpectrumOptions(backend=options.backend, tail_only=per_matrix))
    if backend == "refined":
        return RefinedWindows(stack).top(count)
    if backend not in ("lanczos", "randomized"):
        return compute_spectrum(stack, SpectrumOptions(backend=backend), checked=True).top(count)
    stack = np.asarray(stack, dtype=np.float64)  # the iterative solvers multiply by W in float64
    if backend == "lanczos":
        from netspectra.linalg.lanczos import lanczos_top_eigenvalues  # SciPy's ARPACK, for tail-only runs

        parts = [lanczos_top_eigenvalues(w, per_matrix) for w in stack]
    else:
        from netspectra.linalg.randomized import randomized_top_eigenvalues

        parts = [randomized_top_eigenvalues(w, per_matrix) for w in stack]
    return Spectrum(eigenvalues=_pooled(parts)[-count:], n=n, m=m, num_matrices=k, trace=_trace(stack))
