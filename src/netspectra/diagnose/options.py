"""The fit options of an analysis (part of :class:`netspectra.AnalysisSpec`)."""

from __future__ import annotations

from dataclasses import dataclass

from netspectra.errors import UsageError

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

    min_tail: int = 10
    min_fit_evals: int = 20
    tw_level: float = 0.95
    depth_tw_level: float = 0.99
    depth: bool = True
    estimator: str = "full"

    def __post_init__(self) -> None:
        if self.estimator not in ESTIMATORS:
            raise UsageError(f"unknown estimator {self.estimator!r}: choose one of {', '.join(ESTIMATORS)}")
