"""The fit options of an analysis (part of :class:`netspectra.AnalysisSpec`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from netspectra import defaults
from netspectra.constraints import NONE, Constraint, Interval, Kind, OneOf, check_constraints
from netspectra.defaults import TW1_QUANTILES
from netspectra.errors import UsageError

#: What the power law of a layer can be fitted on.
ESTIMATORS = ("full", "farms")
#: WeightWatcher's ``fix_fingers`` choices (:mod:`netspectra.diagnose.ww_fit`).
FIX_FINGERS = ("xmin_peak", "clip_xmax")
#: WeightWatcher's ``fit`` choices: the power law, the truncated power law, the truncated power law with xmin
#: near the peak of the ESD.
TAIL_FITS = ("PL", "TPL", "E_TPL")


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
    ww_compat : bool
        Fit the tail as WeightWatcher 0.7.7 does (:mod:`netspectra.diagnose.ww_fit`): its sample (s_i^2 above
        1e-5), xmin over tails of any length, its small-sample rule; alpha and everything derived from it
        then equal WeightWatcher's.  Not with ``estimator="farms"``.
    fix_fingers : str or None
        WeightWatcher's finger fixes: ``xmin_peak`` (xmin within [0.95 p, 1.5 p] of the peak p of the ESD)
        or ``clip_xmax`` (refit without the largest eigenvalues while alpha drops by ``finger_thresh``, at
        most ``max_fingers`` - 1 of them).
    max_fingers : int
        ``clip_xmax``: clip at most ``max_fingers`` - 1 eigenvalues (WeightWatcher's ``max_fingers``).
    finger_thresh : float
        ``clip_xmax``: how much alpha must drop for a clipped fit to be kept (WeightWatcher's ``finger_thresh``).
    fit : str
        ``PL`` (the power law only), ``TPL`` or ``E_TPL``: also fit WeightWatcher's truncated power law, xmin
        free or near the ESD's peak (the ``_tpl`` columns).
    vectors : bool
        Also compute the localization of the singular vectors (the columns of
        :class:`~netspectra.diagnose.row.VectorColumns`, WeightWatcher's ``vectors=True``): one SVD per matrix.
    """

    min_tail: int = defaults.MIN_TAIL
    min_fit_evals: int = defaults.MIN_FIT_EVALS
    tw_level: float = defaults.TW_LEVEL
    depth_tw_level: float = defaults.DEPTH_TW_LEVEL
    depth: bool = True
    estimator: str = "full"
    ww_compat: bool = False
    fix_fingers: str | None = None
    max_fingers: int = 10
    finger_thresh: float = 1.0
    fit: str = "PL"
    vectors: bool = False

    _constraints: ClassVar[dict[str, list[Constraint]]] = {
        "min_tail": [Interval(int, 2, None)],
        "min_fit_evals": [Interval(int, 2, None)],
        "tw_level": [OneOf(*TW1_QUANTILES)],
        "depth_tw_level": [OneOf(*TW1_QUANTILES)],
        "depth": [Kind(bool)],
        "estimator": [OneOf(*ESTIMATORS)],
        "ww_compat": [Kind(bool)],
        "fix_fingers": [NONE, OneOf(*FIX_FINGERS)],
        "max_fingers": [Interval(int, 3, None)],
        "finger_thresh": [Interval(float, 0.0, None, closed="neither")],
        "fit": [OneOf(*TAIL_FITS)],
        "vectors": [Kind(bool)],
    }

    def __post_init__(self) -> None:
        check_constraints(self)
        if self.ww_compat and self.estimator != "full":
            raise UsageError(
                f"AnalysisOptions.ww_compat = True: WeightWatcher fits the full spectrum, not estimator={self.estimator!r}"
            )
