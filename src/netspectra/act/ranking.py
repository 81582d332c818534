"""Models or checkpoints ranked by data-free metrics, and how well each metric ranks them when the user
has measured accuracies (Martin, Peng & Mahoney, Nat. Commun. 12, 4122 (2021); Yang et al., KDD 2023).

Each model's summary metrics are means over its layers (:class:`~netspectra.diagnose.model.ModelSummary`).
For the heavy-tail metrics a smaller value reads as a better-trained model (alpha, weighted alpha,
log alpha-norm: Martin & Mahoney, JMLR 22 (2021) §6), so models are ranked ascending.  With accuracies,
each metric's Spearman rank correlation rho with accuracy is reported, signed so that a positive value
means "ranks like accuracy" under the metric's own direction:

    rho = 1 - 6 sum d_i^2 / (n (n^2 - 1)),  d_i = rank(-metric_i) - rank(accuracy_i)   (no ties; average
    ranks otherwise, then Pearson's r of the ranks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from netspectra.errors import UsageError
from netspectra.tabular import RowsTable, TableRow

if TYPE_CHECKING:
    from netspectra.diagnose.model import ModelReport

#: Summary metrics used for ranking; a smaller value means a better-trained model for each.
RANKING_METRICS = (
    "alpha_weighted_mean",
    "alpha_mean",
    "log_alpha_norm_mean",
    "log_norm_ww_mean",
    "log_spectral_norm_mean",
    "mp_area_mean",
)
DEFAULT_METRIC = "alpha_weighted_mean"


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``values`` ascending, ties given their average rank."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(values.size)
    sorted_values = values[order]
    start = 0
    while start < values.size:
        stop = start
        while stop + 1 < values.size and sorted_values[stop + 1] == sorted_values[start]:
            stop += 1
        ranks[order[start : stop + 1]] = (start + stop) / 2.0 + 1.0
        start = stop + 1
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho: Pearson's r of the average ranks; NaN with fewer than 3 pairs or a constant side."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3:
        return math.nan
    rx, ry = average_ranks(x[keep]), average_ranks(y[keep])
    if np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


@dataclass(frozen=True)
class RankedModel(TableRow):
    """One model: its rank by the chosen metric (1 = best), its metrics, and its accuracy if given."""

    rank: int
    source: str
    accuracy: float
    alpha_weighted_mean: float
    alpha_mean: float
    log_alpha_norm_mean: float
    log_norm_ww_mean: float
    log_spectral_norm_mean: float
    mp_area_mean: float


@dataclass(frozen=True)
class Ranking(RowsTable):
    """Models ranked by ``metric`` (``layers``: the rows) and, with accuracies, each metric's Spearman rho."""

    metric: str
    layers: tuple[RankedModel, ...]
    correlations: dict[str, float]
    row_type: ClassVar[type] = RankedModel

    def to_dict(self) -> dict[str, object]:
        def finite(v: object) -> object:
            return None if isinstance(v, float) and not math.isfinite(v) else v

        return {
            "metric": self.metric,
            "models": [{k: finite(v) for k, v in m.to_dict().items()} for m in self.layers],
            "spearman_with_accuracy": {k: finite(v) for k, v in self.correlations.items()},
        }


def rank_models(reports: list[ModelReport], metric: str = DEFAULT_METRIC, accuracies: dict[str, float] | None = None) -> Ranking:
    """Rank analyzed models by ``metric`` (ascending; a model without the metric last).

    ``accuracies`` maps a model's source (as given) to its measured accuracy; every metric's Spearman
    rho with accuracy is then computed on the models that have both (signed: + = ranks like accuracy).
    """
    if metric not in RANKING_METRICS:
        raise UsageError(f"unknown metric {metric!r}; choose one of {', '.join(RANKING_METRICS)}")
    accuracies = accuracies or {}
    summaries = [report.summary for report in reports]
    values = np.array([getattr(s, metric) for s in summaries], dtype=np.float64)
    order = sorted(range(len(reports)), key=lambda i: (not math.isfinite(values[i]), values[i]))
    rows = tuple(
        RankedModel(
            rank=position + 1,
            source=reports[i].source,
            accuracy=float(accuracies.get(reports[i].source, math.nan)),
            **{m: float(getattr(summaries[i], m)) for m in RANKING_METRICS},
        )
        for position, i in enumerate(order)
    )
    correlations: dict[str, float] = {}
    if accuracies:
        acc = np.array([row.accuracy for row in rows])
        correlations = {m: spearman(-np.array([getattr(row, m) for row in rows]), acc) for m in RANKING_METRICS}
    return Ranking(metric=metric, layers=rows, correlations=correlations)
