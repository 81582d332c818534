"""Eigenvalues of a symmetric matrix by LAPACK ``dsyevd``, called so that other threads run meanwhile.

``numpy.linalg.eigvalsh`` holds the GIL for the whole LAPACK call: measured here, two threads each
diagonalising 384 x 384 Gram matrices took as long as one thread doing both (0.21 s for 40), and a
thread fitting the previous layer stood still meanwhile.  :func:`symmetric_eigenvalues` calls the same
routine of the same library, LAPACKE's ``dsyevd`` (jobz ``N``, lower triangle, optimal workspace, as
NumPy does) in the OpenBLAS that NumPy's wheels ship, through :mod:`ctypes`, which releases the GIL
around a foreign call: the same eigenvalues bit for bit (tested), and two threads then take half the
time (0.11 s).  Where NumPy links another LAPACK the function is ``numpy.linalg.eigvalsh`` itself.

From order :data:`TWO_STAGE_MIN_ORDER` on, the two-stage tridiagonal reduction (``dsyevd_2stage``: dense
to band by level-3 BLAS, band to tridiagonal by bulge chasing; Haidar, Ltaief & Dongarra, SC 2011) takes
the place of the one-stage ``dsytrd``, half of whose flops are memory-bound matrix-vector products.
Measured here, 4096 x 4096 Gram matrices: 5.91 s -> 3.91 s on one BLAS thread, 3.68 s -> 2.54 s on two;
at order 2048 it is 8-25% slower, at 3072 equal on two threads and 19% faster on one.  Both reductions
are backward stable; the eigenvalues differ from ``dsyevd``'s by at most 1e-14 lambda_max (measured at
384-4096; tested).

:func:`top_eigenvectors_float32` calls LAPACKE ``ssyevr`` (float32; tridiagonal reduction, then MRRR for the
wanted eigenpairs only) of the same library the same way, for the float32 windows of
:mod:`netspectra.linalg.refined`; where NumPy links another LAPACK, ``scipy.linalg.eigh(driver="evr")``.  Same
library as NumPy's: SciPy's own OpenBLAS is a second thread pool, which a cap set before SciPy's import does
not reach and whose threads spin after a call (:mod:`netspectra.linalg.dense`).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import lru_cache

import numpy as np

#: Matrices of at least this order take the two-stage reduction.
TWO_STAGE_MIN_ORDER = 3072
_COLUMN_MAJOR = 102


@lru_cache(maxsize=2)
def _lapacke_dsyevd(two_stage: bool = False) -> Callable[..., int] | None:
    """``LAPACKE_dsyevd`` (or ``_2stage``) of the OpenBLAS NumPy loaded, or None when NumPy uses another
    library (the symbols of NumPy's bundled scipy-openblas64: 64-bit integers, prefixed names)."""
    from threadpoolctl import ThreadpoolController

    symbol = "scipy_LAPACKE_dsyevd_2stage64_" if two_stage else "scipy_LAPACKE_dsyevd64_"
    for library in ThreadpoolController().select(internal_api="openblas").lib_controllers:
        try:
            function = getattr(ctypes.CDLL(library.filepath), symbol)
        except (OSError, AttributeError):
            continue
        function.restype = ctypes.c_int64
        function.argtypes = [
            ctypes.c_int,
            ctypes.c_char,
            ctypes.c_char,
            ctypes.c_int64,
            ctypes.c_void_p,
            ctypes.c_int64,
            ctypes.c_void_p,
        ]
        return function
    return None


@lru_cache(maxsize=1)
def _lapacke_ssyevr() -> Callable[..., int] | None:
    """``LAPACKE_ssyevr`` of the OpenBLAS NumPy loaded, or None (as :func:`_lapacke_dsyevd`)."""
    from threadpoolctl import ThreadpoolController

    for library in ThreadpoolController().select(internal_api="openblas").lib_controllers:
        try:
            function = ctypes.CDLL(library.filepath).scipy_LAPACKE_ssyevr64_
        except (OSError, AttributeError):
            continue
        function.restype = ctypes.c_int64
        function.argtypes = [ctypes.c_int, ctypes.c_char, ctypes.c_char, ctypes.c_char, ctypes.c_int64, ctypes.c_void_p]
        function.argtypes += [ctypes.c_int64, ctypes.c_float, ctypes.c_float, ctypes.c_int64, ctypes.c_int64, ctypes.c_float]
        function.argtypes += [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p]
        return function
    return None


def top_eigenvectors_float32(matrix: np.ndarray, count: int) -> np.ndarray:
    """Eigenvectors (M x count, float32, columns by ascending eigenvalue) of the ``count`` largest eigenvalues of
    a real symmetric float32 matrix, from its lower triangle (LAPACK ``ssyevr``, that subset only), without
    holding the GIL.  ``matrix`` is overwritten.

    Raises
    ------
    numpy.linalg.LinAlgError
        If the routine fails (NaN entries, no convergence).
    """
    n = matrix.shape[0]
    ssyevr = _lapacke_ssyevr()
    if ssyevr is None:
        from scipy.linalg import eigh

        return eigh(matrix, subset_by_index=(n - count, n - 1), driver="evr", overwrite_a=True, check_finite=False)[1]
    if matrix.dtype != np.float32 or matrix.shape != (n, n) or not matrix.flags.c_contiguous:
        raise np.linalg.LinAlgError(f"ssyevr needs a square C-contiguous float32 matrix, not {matrix.dtype} {matrix.shape}")
    found = ctypes.c_int64(0)
    values, vectors = np.empty(n, dtype=np.float32), np.empty((count, n), dtype=np.float32)
    support = np.empty(2 * max(1, count), dtype=np.int64)
    # A C-contiguous symmetric matrix read column-major is itself; the vectors come back column-major (count x n in C).
    info = ssyevr(
        _COLUMN_MAJOR, b"V", b"I", b"L", n, matrix.ctypes.data, n, 0.0, 0.0, n - count + 1, n, 0.0,
        ctypes.byref(found), values.ctypes.data, vectors.ctypes.data, n, support.ctypes.data,
    )  # fmt: skip
    if info != 0 or found.value != count:
        raise np.linalg.LinAlgError(f"ssyevr failed (info {info}, {found.value} of {count} eigenpairs)")
    return vectors.T


def symmetric_eigenvalues(matrix: np.ndarray, *, two_stage: bool | None = None) -> np.ndarray:
    """Ascending eigenvalues of a real symmetric float64 matrix from its lower triangle (LAPACK ``syevd``),
    without holding the GIL: ``numpy.linalg.eigvalsh(matrix)`` bit for bit below
    :data:`TWO_STAGE_MIN_ORDER`, the two-stage reduction from there on (``two_stage`` forces either).

    Raises
    ------
    numpy.linalg.LinAlgError
        If the QR iteration does not converge or the matrix has NaN entries.
    """
    n = matrix.shape[0]
    dsyevd = _lapacke_dsyevd(n >= TWO_STAGE_MIN_ORDER if two_stage is None else two_stage) or _lapacke_dsyevd()
    if dsyevd is None:
        return np.linalg.eigvalsh(matrix)
    work = np.array(matrix, dtype=np.float64, order="F")  # overwritten by the routine
    if work.shape != (n, n):
        raise np.linalg.LinAlgError(f"eigenvalues of a non-square {work.shape} matrix")
    values = np.empty(n)
    if n == 0:
        return values
    info = dsyevd(_COLUMN_MAJOR, b"N", b"L", n, work.ctypes.data, n, values.ctypes.data)
    if info != 0:
        raise np.linalg.LinAlgError("Eigenvalues did not converge" if info > 0 else "NaN entries or invalid argument")
    return values
