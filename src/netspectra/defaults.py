"""Every default of an analysis, stated once: Tracy–Widom levels, tail sizes and the alpha bands.

The settings objects (:class:`~netspectra.diagnose.options.AnalysisOptions`, the merge thresholds), the
pure functions of :mod:`netspectra.rmt` and the labels of :mod:`netspectra.diagnose` take their defaults
from here, so that a default changes in one place and a user's option reaches every function that uses it.

Eigenvalue convention: eigenvalues of W^T W / N, W is N x M with N >= M.
"""

from __future__ import annotations

#: Quantiles q of the real (beta = 1) Tracy–Widom law TW1 of the largest eigenvalue, by level (Johnstone,
#: Ann. Stat. 29, 2001; docs/formulas.md#tracy-widom-edge).
TW1_QUANTILES: dict[float, float] = {0.90: 0.4501, 0.95: 0.9793, 0.99: 2.0234}

#: Tracy–Widom quantile of the bulk edge above which eigenvalues are counted as spikes (``tw_level``:
#: the ``lambda_plus_tw``, ``num_spikes`` and ``bulk_fraction`` columns, merge-check, compress's
#: ``mp-edge`` threshold); Johnstone, Ann. Stat. 29 (2001); docs/formulas.md#tracy-widom-edge.
TW_LEVEL = 0.95
#: Tracy–Widom quantile of the RMT-depth columns and the phase rule (``depth_tw_level``): stricter,
#: because the phase rule is a classifier whose false-positive rate it sets (docs/verdicts.md).
DEPTH_TW_LEVEL = 0.99

#: Fewest eigenvalues a power-law tail may have (``min_tail``: the upper end of the xmin scan), and the
#: fewest outliers over an MP bulk read as a tail rather than as spikes by the phase rule.
MIN_TAIL = 10
#: Fewest non-zero eigenvalues for a power-law fit and for the RMT-depth columns (``min_fit_evals``).
MIN_FIT_EVALS = 20

#: alpha below this: "over-trained" (WeightWatcher's OVER_TRAINED_THRESH); "very" heavy-tailed phase.
OVER_TRAINED_ALPHA = 2.0
#: alpha below this (and >= OVER_TRAINED_ALPHA): "moderately" heavy-tailed (Martin & Mahoney, JMLR 22, 2021).
MODERATE_ALPHA = 4.0
#: alpha above this: "under-trained" (WeightWatcher's UNDER_TRAINED_THRESH); the largest alpha of the
#: heavy-tailed phase.
UNDER_TRAINED_ALPHA = 6.0
#: Warning labels of a layer counted in a model's summary (thresholds: :mod:`netspectra.diagnose.layer`;
#: ``ww-tail``: :mod:`netspectra.diagnose.ww_fit`; ``quantization-noise``, the labels quantization noise
#: withholds: :mod:`netspectra.diagnose.quantization`).
WARNING_LABELS = (
    "under-trained",
    "over-trained",
    "rank-collapse",
    "fit-failed",
    "large-entries",
    "ww-tail",
    "quantization-noise",
)
#: Modified z-score beyond which an expert stands out from its siblings (Iglewicz & Hoaglin 1993;
#: :mod:`netspectra.diagnose.experts`).
EXPERT_OUTLIER_Z = 3.5

#: The largest spike's strength and overlaps (``spike_*`` columns) are filled only when its eigenvalue stands
#: at least this many Tracy–Widom scales s_N above the fitted MP edge l+: closer to the BBP threshold the
#: finite-size eigenvalue overshoots and the predicted cos^2 misses the measured one by more than 0.1
#: (benchmarks/coverage.py: predicted within 0.1 of measured in 93-100% of draws at 15 s_N and beyond, at
#: 128 x 64 to 3000 x 300; 77-100% without the margin; docs/verdicts.md).
SPIKE_OVERLAP_MARGIN = 15.0

#: Results store used when no path is given: ``netspectra.db`` in the working directory
#: (:class:`netspectra.store.Store`).
DEFAULT_STORE = "netspectra.db"
