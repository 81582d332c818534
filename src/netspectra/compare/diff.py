"""Spectrum of the change between two checkpoints of one layer, Delta = W_B - W_A.

Eigenvalue convention: Delta is N x M with N >= M (both stacks oriented alike), and its eigenvalues
lambda_i are those of Delta^T Delta / N, so that its singular values are s_i = sqrt(N lambda_i).

* numerical rank: the number of s_i above tau = max(N, M) eps ||W_A||_2, eps the machine epsilon of the
  coarser of the two stored dtypes (float32: 2^-23).  Rounding W_B to its storage precision perturbs
  each entry by at most eps/2 |w_ij|, a matrix of spectral norm <= (eps/2) sqrt(M) ||W||_2 < tau, so
  storage round-off alone never adds rank (the rank criterion of Golub & Van Loan, Matrix Computations,
  4th ed., §5.4.1, with the storage precision in place of the working precision).  A rank-1 update
  stored in float32 has rank 1; the float64 round-off of the Gram matrix (Spectrum.zero_tolerance)
  is excluded as well.
* ||Delta||_F / ||W_A||_F and ||Delta||_2 / ||W_A||_2, with ||Delta||_F = sqrt(N sum lambda_i) and
  ||Delta||_2 = sqrt(N lambda_max).
* the power-law tail exponent of the eigenvalues above tau^2 / N when there are at least
  ``min_fit_evals`` of them (Clauset, Shalizi & Newman, SIAM Rev. 51, 2009, via
  :func:`netspectra.rmt.powerlaw.fit_power_law`): a structured update has a heavy tail (small alpha),
  isotropic noise a Marchenko–Pastur spectrum (large alpha).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from netspectra.defaults import MIN_FIT_EVALS, MIN_TAIL
from netspectra.linalg import compute_spectrum
from netspectra.linalg.spectrum import compute_difference_spectrum
from netspectra.rmt.powerlaw import fit_power_law

#: Machine epsilon of each stored float dtype (integers are exact: the float64 epsilon applies).
DTYPE_EPSILON: dict[str, float] = {
    "F64": 2.0**-52,
    "F32": 2.0**-23,
    "F16": 2.0**-10,
    "BF16": 2.0**-7,
    "F8_E4M3": 2.0**-3,
    "F8_E5M2": 2.0**-2,
}


@dataclass(frozen=True)
class DiffSpectrum:
    """Spectral summary of Delta = W_B - W_A.

    Attributes
    ----------
    rank : int
        Numerical rank of Delta (singular values above tau, see the module docstring).
    rel_frobenius, rel_spectral : float
        ||Delta||_F / ||W_A||_F and ||Delta||_2 / ||W_A||_2.
    alpha, alpha_se : float
        Power-law tail exponent of Delta's non-zero eigenvalues and its standard error; NaN when fewer
        than ``min_fit_evals`` are non-zero or the fit fails.
    """

    rank: int
    rel_frobenius: float
    rel_spectral: float
    alpha: float
    alpha_se: float


def storage_epsilon(*dtypes: str) -> float:
    """Largest machine epsilon among stored dtypes (``F32``, ``BF16``, ``I8``, ...); F32's if unknown."""
    return max(DTYPE_EPSILON.get(d, 2.0**-52 if d.startswith(("I", "U")) else 2.0**-23) for d in dtypes)


def difference_spectrum(
    b: np.ndarray,
    a: np.ndarray | None = None,
    *,
    spectral_norm_a: float,
    frobenius_norm_a: float,
    eps: float,
    min_fit_evals: int = MIN_FIT_EVALS,
    min_tail: int = MIN_TAIL,
) -> DiffSpectrum:
    """Rank, relative norms and tail exponent of Delta = W_B - W_A.

    Parameters
    ----------
    b, a : ndarray, shape (k, N, M)
        W_B and W_A, oriented alike (N >= M), float32 or float64; Delta = b - a is never formed whole
        (:func:`~netspectra.linalg.spectrum.compute_difference_spectrum`).  ``a`` None: ``b`` is Delta itself.
        For a conv stack (k > 1) the k spectra are pooled, so ``rank`` is the sum of the k ranks.
    spectral_norm_a, frobenius_norm_a : float
        ||W_A||_2 and ||W_A||_F (the ``spectral_norm``, ``frobenius_norm`` columns of A's layer row).
    eps : float
        Storage precision (:func:`storage_epsilon`) that sets the rank threshold.
    min_fit_evals, min_tail : int
        As in :class:`netspectra.AnalysisOptions`.
    """
    spectrum = compute_spectrum(b) if a is None else compute_difference_spectrum(b, a)
    n, m, lam = spectrum.n, spectrum.m, spectrum.eigenvalues
    tau = max(n, m) * eps * spectral_norm_a
    nonzero = lam[lam > max(tau * tau / n, spectrum.zero_tolerance)]
    alpha = alpha_se = math.nan
    if nonzero.size >= min_fit_evals:
        try:
            fit = fit_power_law(nonzero, min_tail=min_tail)
            alpha, alpha_se = fit.alpha, fit.alpha_se
        except ValueError:
            pass  # a degenerate tail: alpha stays NaN, as for too few eigenvalues
    return DiffSpectrum(
        rank=int(nonzero.size),
        rel_frobenius=math.sqrt(n * float(lam.sum())) / frobenius_norm_a,
        rel_spectral=math.sqrt(n * float(lam[-1])) / spectral_norm_a,
        alpha=alpha,
        alpha_se=alpha_se,
    )
