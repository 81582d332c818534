"""The thresholds behind the warning labels, each stated once.

Eigenvalue convention: eigenvalues of W^T W / N, W is N x M with N >= M.
"""

from __future__ import annotations

from netspectra.defaults import OVER_TRAINED_ALPHA, UNDER_TRAINED_ALPHA
from netspectra.linalg import Spectrum

#: More than this fraction of numerically-zero eigenvalues is rank collapse (docs/formulas.md#phases).
RANK_COLLAPSE_FRACTION = 0.10


def zero_fraction(spectrum: Spectrum) -> float:
    """Fraction of the eigenvalues that are numerically zero: at or below
    :attr:`~netspectra.linalg.Spectrum.zero_tolerance` = 10 M eps lambda_max (the ``rank_loss`` column
    over ``num_evals``)."""
    evals = spectrum.eigenvalues
    return float((evals <= spectrum.zero_tolerance).sum() / evals.size)


def rank_collapsed(spectrum: Spectrum) -> bool:
    """The one rank-collapse rule: more than :data:`RANK_COLLAPSE_FRACTION` of the eigenvalues are
    numerically zero.  Used by the ``rank-collapse`` warning, the phase and the HTMP fit alike."""
    return zero_fraction(spectrum) > RANK_COLLAPSE_FRACTION


def alpha_label(alpha: float) -> str | None:
    """``under-trained`` (alpha > 6), ``over-trained`` (alpha < 2) or None (WeightWatcher's labels)."""
    if alpha > UNDER_TRAINED_ALPHA:
        return "under-trained"
    if alpha < OVER_TRAINED_ALPHA:
        return "over-trained"
    return None
