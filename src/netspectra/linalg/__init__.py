"""Eigenvalue backends.  :func:`compute_spectrum` is the one entry point; nothing else calls LAPACK."""

from netspectra.linalg.spectrum import Spectrum, compute_spectrum

__all__ = ["Spectrum", "compute_spectrum"]
