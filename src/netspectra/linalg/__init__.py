"""Eigenvalue backends.  :func:`choose_backend` picks one; nothing outside this package calls LAPACK.

Every eigenvalue: :func:`compute_spectrum`; the top K (``tail_only``): :func:`compute_top_spectrum`;
the density of the eigenvalues of matrices too large to decompose: :func:`slq_density` (stochastic
Lanczos quadrature) and :func:`decompressed_esd` (free decompression of a column submatrix), whose
errors against the exact ESD :func:`cdf_distances` measures.
"""

from netspectra.linalg.choose import BACKENDS, SpectrumOptions, choose_backend
from netspectra.linalg.density import DiscreteDensity, GridDensity, cdf_distances
from netspectra.linalg.free_decompression import DecompressionError, decompressed_esd, free_decompress
from netspectra.linalg.slq import slq_density
from netspectra.linalg.spectrum import Spectrum, compute_spectrum, compute_top_spectrum

__all__ = [
    "BACKENDS", "DecompressionError", "DiscreteDensity", "GridDensity", "Spectrum", "SpectrumOptions",
    "cdf_distances", "choose_backend", "compute_spectrum", "compute_top_spectrum", "decompressed_esd",
    "free_decompress", "slq_density",
]
