"""Eigenvalue backends.  :func:`choose_backend` picks one; nothing outside this package calls LAPACK.

Every eigenvalue: :func:`compute_spectrum`; the top K (``tail_only``): :func:`compute_top_spectrum`;
the bulk density of matrices too large to decompose: :func:`slq_density` and :func:`free_decompression`.
"""

from netspectra.linalg.choose import BACKENDS, SpectrumOptions, choose_backend
from netspectra.linalg.spectrum import Spectrum, compute_spectrum, compute_top_spectrum

__all__ = ["BACKENDS", "Spectrum", "SpectrumOptions", "choose_backend", "compute_spectrum", "compute_top_spectrum"]
