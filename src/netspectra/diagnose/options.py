"""The fit options of an analysis (part of :class:`netspectra.AnalysisSpec`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from netspectra import defaults
from netspectra.constraints import Constraint, Interval, Kind, OneOf, check_constraints
from netspectra.defaults import TW1_QUANTILES

#: What the power law of a layer can be fitted on.
ESTIMATORS = ("full", "farms")


@dataclass(frozen=True)
class AnalysisOptions:
    """Knobs of the per-layer analysis.

    Attributes
    ----------
    min_tail : int
        Fewest eigenvalues a power-law tail may have (upper end of the xmin scan).
    min_fit_evals : int
        Fewest non-zero eigenvalues for a power-law fit; below it the fit is skipped (``fit-failed``).
    tw_level : float
        Tracy–Widom quantile of the bulk edge used to count spikes (0.90, 0.95 or 0.99): the
        ``lambda_plus_tw``, ``num_spikes`` and ``bulk_fraction`` columns.
    depth_tw_level : float
        Tracy–Widom quantile of the bulk edge of the RMT-depth columns and the phase rule (trimmed MP
        fit, spikes' strengths and overlaps, level spacing, shuffled-entries null).  Stricter than
        ``tw_level`` because the phase rule is a classifier whose false-positive rate it sets.
    depth : bool
        Also compute the RMT-depth columns (:mod:`netspectra.diagnose.depth`: spikes' signal strength and
        overlaps, HTMP, level spacing, tail likelihood-ratio tests, MP bulk area, shuffled-entries null, phase).
    estimator : str
        What the power law is fitted on: ``full`` (the eigenvalues of W^T W / N) or ``farms`` (those of
        square submatrices, pooled: :mod:`netspectra.rmt.farms`); the other columns use the full spectrum.
    """

    min_tail: int = defaults.MIN_TAIL
    min_fit_evals: int = defaults.MIN_FIT_EVALS
    tw_level: float = defaults.TW_LEVEL
    depth_tw_level: float = defaults.DEPTH_TW_LEVEL
    depth: bool = True
    estimator: str = "full"

    _constraints: ClassVar[dict[str, list[Constraint]]] = {
        "min_tail": [Interval(int, 2, None)],
        "min_fit_evals": [Interval(int, 2, None)],
        "tw_level": [OneOf(*TW1_QUANTILES)],
        "depth_tw_level": [OneOf(*TW1_QUANTILES)],
        "depth": [Kind(bool)],
        "estimator": [OneOf(*ESTIMATORS)],
    }

    def __post_init__(self) -> None:
        check_constraints(self)
