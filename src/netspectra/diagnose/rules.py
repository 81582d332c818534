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


#: The phases in which alpha describes a learned tail: the only ones ``over-trained`` is given in (a layer
#: without a phase, from an analysis without the depth columns, is judged by its interval alone).
OVER_TRAINED_PHASES = ("heavy-tailed", "")


def alpha_label(alpha_lo: float, alpha_hi: float, phase: str = "") -> str | None:
    """WeightWatcher's labels on the alpha interval (:func:`~netspectra.rmt.powerlaw.alpha_interval`), never on a
    straddling one: ``under-trained`` when all of [alpha_lo, alpha_hi] is above 6, ``over-trained`` when all of
    it is below 2 and the phase is heavy-tailed (or not classified), else None.

    alpha < 2 outside the heavy-tailed phase is the exponent of something that is not a tail of learned
    correlations, and no sign of over-training (measured, docs/verdicts.md): a few strong components over
    noise (bulk+spikes: 64-wide digits MLPs of test accuracy 0.97-0.98, alpha 1.7-2.0), a smooth decay of
    the bulk (a column covariance exp(-i/50), alpha 1.6-1.9), a rank-collapsed spectrum or the large
    entries of noise (random-like).
    """
    if alpha_lo > UNDER_TRAINED_ALPHA:
        return "under-trained"
    if alpha_hi < OVER_TRAINED_ALPHA and phase in OVER_TRAINED_PHASES:
        return "over-trained"
    return None
