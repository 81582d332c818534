"""Eigenvalue backends, and every matrix decomposition of the package.  :func:`choose_backend` picks a backend.

Every eigenvalue: :func:`compute_spectrum`; the top K (``tail_only``): :func:`compute_top_spectrum`;
the density of the eigenvalues of matrices too large to decompose: :func:`slq_density` (stochastic
Lanczos quadrature) and :func:`decompressed_esd` (free decompression of a column submatrix), whose
errors against the exact ESD :func:`cdf_distances` measures.

What goes through this package: every LAPACK (or ARPACK, or torch.linalg) call netspectra makes itself,
an eigendecomposition, SVD, QR or linear solve of a weight matrix or of anything else: the modules
outside it call :func:`symmetric_eigenvalues`, :func:`thin_svd`, :func:`gram_svd`, :func:`spectral_norm`,
:func:`orthonormal_basis` and :func:`solve_linear` (checked by tests/linalg/test_linalg_only_here.py).
Not counted: the linear algebra a library routine does inside itself (the least-squares fits of
``numpy.polynomial.Polynomial.fit`` and ``numpy.polyfit``, the Jacobian solves of SciPy's LSODA).
"""

from netspectra._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "netspectra.linalg.choose": ("BACKENDS", "SpectrumOptions", "choose_backend"),
        "netspectra.linalg.dense": ("gram_svd", "orthonormal_basis", "solve_linear", "spectral_norm", "thin_svd"),
        "netspectra.linalg.density": ("DiscreteDensity", "GridDensity", "cdf_distances"),
        "netspectra.linalg.free_decompression": ("DecompressionError", "decompressed_esd", "free_decompress"),
        "netspectra.linalg.lapack": ("symmetric_eigenvalues",),
        "netspectra.linalg.slq": ("slq_density",),
        "netspectra.linalg.spectrum": ("Spectrum", "compute_spectrum", "compute_top_spectrum"),
    },
)
