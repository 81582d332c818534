"""Eigenvalues of a symmetric matrix by LAPACK ``dsyevd``, called so that other threads run meanwhile.

``numpy.linalg.eigvalsh`` holds the GIL for the whole LAPACK call: measured here, two threads each
diagonalising 384 x 384 Gram matrices took as long as one thread doing both (0.21 s for 40), and a
thread fitting the previous layer stood still meanwhile.  :func:`symmetric_eigenvalues` calls the same
routine of the same library, LAPACKE's ``dsyevd`` (jobz ``N``, lower triangle, optimal workspace, as
NumPy does) in the OpenBLAS that NumPy's wheels ship, through :mod:`ctypes`, which releases the GIL
around a foreign call: the same eigenvalues bit for bit (tested), and two threads then take half the
time (0.11 s).  Where NumPy links another LAPACK the function is ``numpy.linalg.eigvalsh`` itself.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import lru_cache

import numpy as np

#: LAPACKE of NumPy's bundled OpenBLAS (scipy-openblas64: 64-bit integers, prefixed symbols).
_SYMBOL = "scipy_LAPACKE_dsyevd64_"
_COLUMN_MAJOR = 102


@lru_cache(maxsize=1)
def _lapacke_dsyevd() -> Callable[..., int] | None:
    """``LAPACKE_dsyevd`` of the OpenBLAS NumPy loaded, or None when NumPy uses another library."""
    from threadpoolctl import ThreadpoolController

    for library in ThreadpoolController().select(internal_api="openblas").lib_controllers:
        try:
            function = getattr(ctypes.CDLL(library.filepath), _SYMBOL)
        except (OSError, AttributeError):
            continue
        function.restype = ctypes.c_int64
        function.argtypes = [ctypes.c_int, ctypes.c_char, ctypes.c_char, ctypes.c_int64, ctypes.c_void_p,
                             ctypes.c_int64, ctypes.c_void_p]  # fmt: skip
        return function
    return None


def symmetric_eigenvalues(matrix: np.ndarray) -> np.ndarray:
    """Ascending eigenvalues of a real symmetric float64 matrix from its lower triangle (LAPACK ``syevd``),
    as ``numpy.linalg.eigvalsh(matrix)`` returns them, without holding the GIL.

    Raises
    ------
    numpy.linalg.LinAlgError
        If the QR iteration does not converge or the matrix has NaN entries.
    """
    dsyevd = _lapacke_dsyevd()
    if dsyevd is None:
        return np.linalg.eigvalsh(matrix)
    work = np.array(matrix, dtype=np.float64, order="F")  # overwritten by the routine
    n = work.shape[0]
    if work.shape != (n, n):
        raise np.linalg.LinAlgError(f"eigenvalues of a non-square {work.shape} matrix")
    values = np.empty(n)
    if n == 0:
        return values
    info = dsyevd(_COLUMN_MAJOR, b"N", b"L", n, work.ctypes.data, n, values.ctypes.data)
    if info != 0:
        raise np.linalg.LinAlgError("Eigenvalues did not converge" if info > 0 else "NaN entries or invalid argument")
    return values
