"""Models or checkpoints ranked by data-free metrics, saying what the evidence supports (Martin, Peng &
Mahoney, Nat. Commun. 12, 4122 (2021); Yang et al., KDD 2023).

Each model's summary metrics are means over its layers (:class:`~netspectra.diagnose.model.ModelSummary`).
For every metric a smaller value reads as a better-trained model, so models are ranked ascending.  Three
rules keep the ranking from claiming more than the spectra show:

* **Random-like models last.**  A model more than half of whose classified layers are random-like
  (:func:`random_like_count`: phase ``random-like``, or the ``under-trained`` warning where no phase was
  computed) shows no learned structure in its spectra, whatever its metric: it is flagged (``random_like``,
  with the count in ``note``) and ranked after every other model.  An untrained network's small norms would
  otherwise rank it first.  A network can reach a good accuracy with spectra that are still random-like (a
  digits MLP after 200 SGD steps: 0.95): the flag says what the spectra show, not the accuracy.
* **Near-ties are ties.**  Each model's metric has an uncertainty u: for the alpha metrics the propagated
  standard error of the layers' alpha fits, u = sqrt(sum_l (c_l se_l)^2) / L with c_l = 1 (alpha) or
  |log10 lambda_max,l| (weighted alpha, log alpha-norm: its dominant term); for the norms and the MP area,
  which have no fit, a stated margin u = ``STATED_MARGIN`` (0.01 in log10 units or in area).  Walking the
  models in order, a model ties with the first model of the current group when their difference is at most
  ``TIE_Z`` sqrt(u_a^2 + u_b^2); tied models share the group's rank (``1, 1, 3``) and are marked ``tied``.
* **Accuracies that contradict the ranking are said so.**  With measured accuracies, each metric's Spearman
  rank correlation rho with accuracy is reported, signed so that a positive value means "ranks like
  accuracy" under the metric's own direction:

      rho = 1 - 6 sum d_i^2 / (n (n^2 - 1)),  d_i = rank(-metric_i) - rank(accuracy_i)   (no ties; average
      ranks otherwise, then Pearson's r of the ranks),

  and the ranking shown gets a warning when its own rho (random-like models last) is negative.

The default metric is the one that ranked the measured families best (docs/act.md, "Does it rank like
accuracy?": digits MLPs over hyperparameters and over training steps, MiniLM with added noise).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from netspectra.errors import UsageError
from netspectra.tabular import RowsTable, TableRow, finite_or_none, finite_row

if TYPE_CHECKING:
    from netspectra.diagnose.model import ModelReport
    from netspectra.diagnose.row import LayerReport

#: Summary metrics used for ranking; a smaller value means a better-trained model for each.
RANKING_METRICS = (
    "alpha_weighted_mean",
    "alpha_mean",
    "log_alpha_norm_mean",
    "log_norm_ww_mean",
    "log_spectral_norm_mean",
    "mp_area_mean",
)
DEFAULT_METRIC = "mp_area_mean"
#: Metrics whose uncertainty is the propagated standard error of the layers' alpha fits.
ALPHA_METRICS = ("alpha_weighted_mean", "alpha_mean", "log_alpha_norm_mean")
#: Uncertainty of a metric without a fit: log10 units for the norms (2.3%), area for mp_area_mean.
STATED_MARGIN = 0.01
#: Two models tie when their metrics differ by at most this many standard errors of the difference.
TIE_Z = 2.0
#: A model is random-like when more than this share of its classified layers are random-like or under-trained.
RANDOM_LIKE_SHARE = 0.5


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


def metric_uncertainty(layers: tuple[LayerReport, ...], metric: str) -> float:
    """The uncertainty u of a model's ``metric`` (module docstring): propagated alpha standard errors for the
    alpha metrics (NaN without a fitted layer), ``STATED_MARGIN`` for the others."""
    if metric not in ALPHA_METRICS:
        return STATED_MARGIN
    terms = []
    for layer in layers:
        if layer.status != "ok" or not math.isfinite(layer.alpha_se):
            continue
        scale = 1.0 if metric == "alpha_mean" else abs(layer.alpha_weighted / layer.alpha) if layer.alpha else math.nan
        terms.append(scale * layer.alpha_se)
    terms = [t for t in terms if math.isfinite(t)]
    return math.sqrt(sum(t * t for t in terms)) / len(terms) if terms else math.nan


def random_like_count(layers: tuple[LayerReport, ...]) -> tuple[int, int]:
    """(random-like layers, classified layers): a layer with a phase is random-like when its phase is
    ``random-like`` (no eigenvalue above the noise ceiling of its entries); one without a phase (tail-only or
    depth off) when it carries the ``under-trained`` warning (alpha > 6).  Layers with neither a phase nor a
    fitted alpha (a 10-class head) are not counted."""
    classified = [layer for layer in layers if layer.status != "error" and (layer.phase or layer.status == "ok")]
    untrained = sum(layer.phase == "random-like" if layer.phase else "under-trained" in layer.warnings for layer in classified)
    return untrained, len(classified)


def tie_groups(values: np.ndarray, uncertainties: np.ndarray, z: float = TIE_Z) -> list[int]:
    """Group index of each value, in the (ascending) order given: a value joins the current group when it is
    within z sqrt(u_first^2 + u^2) of the group's first value (NaN values and uncertainties never tie)."""
    groups: list[int] = []
    first = 0
    for i, (value, u) in enumerate(zip(values, uncertainties)):
        if i > 0:
            band = z * math.hypot(uncertainties[first], u)
            if not (math.isfinite(band) and abs(value - values[first]) <= band):
                first = i
        groups.append(first)
    return groups


@dataclass(frozen=True)
class RankedModel(TableRow):
    """One model: its rank by the chosen metric (1 = best; tied models share one), the metric's value and
    uncertainty, whether it is random-like (ranked last, ``note`` says why), its accuracy if given, and
    every ranking metric."""

    rank: int
    source: str
    value: float
    uncertainty: float
    tied: bool
    random_like: bool
    note: str
    accuracy: float
    alpha_weighted_mean: float
    alpha_mean: float
    log_alpha_norm_mean: float
    log_norm_ww_mean: float
    log_spectral_norm_mean: float
    mp_area_mean: float


@dataclass(frozen=True)
class Ranking(RowsTable):
    """Models ranked by ``metric`` (``layers``: the rows); with accuracies, each metric's Spearman rho
    (``correlations``), the rho of the ranking shown (``ranking_rho``) and the ``warnings`` they raise."""

    metric: str
    layers: tuple[RankedModel, ...]
    correlations: dict[str, float]
    ranking_rho: float
    warnings: tuple[str, ...]
    row_type: ClassVar[type] = RankedModel

    def to_dict(self) -> dict[str, object]:
        return {
            "metric": self.metric,
            "tie_z": TIE_Z,
            "models": self.finite_rows(),
            "spearman_with_accuracy": finite_row(self.correlations),
            "ranking_spearman_with_accuracy": finite_or_none(self.ranking_rho),
            "warnings": list(self.warnings),
        }


def _contradiction(metric: str, rho: float, n: int, correlations: dict[str, float]) -> str:
    better = [m for m, r in correlations.items() if m != metric and math.isfinite(r) and r > 0]
    hint = f"; metrics with a positive rho here: {', '.join(better)}" if better else "; no metric ranks them like accuracy"
    return (
        f"the supplied accuracies contradict this ranking: Spearman rho {rho:+.2f} over {n} models (the better "
        f"models by accuracy rank lower by {metric}){hint}"
    )


def rank_models(reports: list[ModelReport], metric: str = DEFAULT_METRIC, accuracies: dict[str, float] | None = None) -> Ranking:
    """Rank analyzed models by ``metric`` (module docstring): ascending, ties shared, random-like models and
    models without the metric last.

    ``accuracies`` maps a model's source (as given) to its measured accuracy; every metric's Spearman rho
    with accuracy is then computed on the models that have both (signed: + = ranks like accuracy).
    """
    if metric not in RANKING_METRICS:
        raise UsageError(f"unknown metric {metric!r}; choose one of {', '.join(RANKING_METRICS)}")
    accuracies = accuracies or {}
    summaries = [report.summary for report in reports]
    values = np.array([getattr(s, metric) for s in summaries], dtype=np.float64)
    if reports and not np.isfinite(values).any():
        raise UsageError(
            f"no model has {metric} (the MP area needs the depth columns: not with --no-depth or tail-only; alpha a "
            f"fitted layer); choose another --metric, e.g. alpha_mean"
        )
    spread = np.array([metric_uncertainty(report.layers, metric) for report in reports])
    counts = [random_like_count(report.layers) for report in reports]
    flagged = [total > 0 and untrained > RANDOM_LIKE_SHARE * total for untrained, total in counts]
    order: list[int] = []
    groups: list[int] = []
    for last in (False, True):  # the models that are not random-like, then those that are
        segment = sorted(
            (i for i in range(len(reports)) if flagged[i] == last), key=lambda i: (not math.isfinite(values[i]), values[i])
        )
        groups += [len(order) + g for g in tie_groups(values[segment], spread[segment])]
        order += segment
    after = "" if all(flagged) else ", ranked after the others"
    rows = []
    for i, group in zip(order, groups):
        untrained, total = counts[i]
        rows.append(
            RankedModel(
                rank=group + 1,
                source=reports[i].source,
                value=float(values[i]),
                uncertainty=float(spread[i]),
                tied=groups.count(group) > 1,
                random_like=flagged[i],
                note=f"{untrained} of {total} layers random-like: no learned structure{after}" if flagged[i] else "",
                accuracy=float(accuracies.get(reports[i].source, math.nan)),
                **{m: float(getattr(summaries[i], m)) for m in RANKING_METRICS},
            )
        )
    correlations: dict[str, float] = {}
    ranking_rho = math.nan
    warnings: list[str] = []
    if accuracies:
        acc = np.array([row.accuracy for row in rows])
        correlations = {m: spearman(-np.array([getattr(row, m) for row in rows]), acc) for m in RANKING_METRICS}
        ranking_rho = spearman(-np.array([row.rank for row in rows], dtype=np.float64), acc)
        if math.isfinite(ranking_rho) and ranking_rho < 0:
            warnings.append(_contradiction(metric, ranking_rho, int(np.isfinite(acc).sum()), correlations))
    return Ranking(
        metric=metric, layers=tuple(rows), correlations=correlations, ranking_rho=ranking_rho, warnings=tuple(warnings)
    )
