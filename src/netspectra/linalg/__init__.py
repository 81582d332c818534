"""Eigenvalue backends.  :func:`choose_backend` picks one; nothing outside this package calls LAPACK.

Every eigenvalue: :func:`compute_spectrum`; the top K (``tail_only``): :func:`compute_top_spectrum`;
the density of the eigenvalues of matrices too large to decompose: :func:`slq_density` (stochastic
Lanczos quadrature) and :func:`decompressed_esd` (free decompression of a column submatrix), whose
errors against the exact ESD :func:`cdf_distances` measures.
"""

from netspectra._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "netspectra.linalg.choose": ("BACKENDS", "SpectrumOptions", "choose_backend"),
        "netspectra.linalg.dense": ("thin_svd",),
        "netspectra.linalg.density": ("DiscreteDensity", "GridDensity", "cdf_distances"),
        "netspectra.linalg.free_decompression": ("DecompressionError", "decompressed_esd", "free_decompress"),
        "netspectra.linalg.slq": ("slq_density",),
        "netspectra.linalg.spectrum": ("Spectrum", "compute_spectrum", "compute_top_spectrum"),
    },
)
