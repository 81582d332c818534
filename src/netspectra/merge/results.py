"""Typed results of ``merge-check`` and ``merge``: one row per layer, a model summary, ``to_frame``/``to_dict``.

Columns of :class:`LayerCompatibility` (``merge-check``; see :mod:`netspectra.merge.compat` for the formulas):

===================  =================================================================================
name, rows, cols     tensor name and stored shape
verdict              ``compatible``, ``caution`` or ``incompatible``: the worst level of the criteria
erank_min/max        smallest / largest effective rank over the models (the base is not compared)
erank_spread         (erank_max - erank_min) / erank_max
spectral_norm_ratio  largest / smallest spectral norm ||W||_2
sigma2_ratio         largest / smallest Marchenko–Pastur noise level sigma^2 (median estimator)
spikes_min/max       fewest / most eigenvalues above the Tracy–Widom bulk edge
rel_distance         max_i ||M_i - R||_F / ||R||_F, R the base or else the mean of the models
task_ranks           signal rank of each task vector (components above its own MP edge); empty without base
overlap              mean squared cosine of the principal angles between the signal subspaces of the most
                     interfering pair of task vectors (left and right averaged); NaN without base
overlap_chance       the same for random subspaces of those dimensions
interference         (overlap - chance) / (1 - chance), clipped to [0, 1]
reasons              the criteria past a threshold, with values
===================  =================================================================================

Columns of :class:`LayerMerge` (``merge``):

===================  =================================================================================
name, shape, dtype   tensor name, stored shape, dtype written
shard                output file the tensor is written to
rule                 what was applied: a method of :mod:`netspectra.merge.registry` (``linear``, ``ties``,
                     ``dare-ties``, ``slerp``, ``model-stock``, ...), ``average`` (B + lambda mean task vector)
                     or ``copy`` (a non-float tensor equal in every model)
reason               why: ``method``, ``override <regex>``, ``not 2-D``, ``spectral-auto: ...``, ...
details              rule parameters and outcome: ``density=0.2``, ``eta=0.4 ranks=3,5``, ``k=32``, ...
verdict              compatibility verdict of the layer (``spectral-auto`` only, else empty)
interference         task-vector interference (``spectral-auto`` only, else NaN)
===================  =================================================================================
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

from netspectra.report.shown import Shown
from netspectra.tabular import RowsTable, TableRow, finite_row

#: Verdict levels, in order of severity.
VERDICTS = ("compatible", "caution", "incompatible")


def _finite(row: dict[str, object]) -> dict[str, object]:
    """JSON-ready copy: non-finite floats become None (:func:`~netspectra.tabular.finite_row`), tuples become lists."""
    return {key: list(value) if isinstance(value, tuple) else value for key, value in finite_row(row).items()}


@dataclass(frozen=True)
class LayerCompatibility(TableRow):
    """Spectral compatibility of one 2-D layer across models; see the module docstring for columns."""

    name: str
    rows: int
    cols: int
    verdict: str
    erank_min: float
    erank_max: float
    erank_spread: float
    spectral_norm_ratio: float
    sigma2_ratio: float
    spikes_min: int
    spikes_max: int
    rel_distance: float
    task_ranks: tuple[int, ...]
    overlap: float
    overlap_chance: float
    interference: float
    reasons: str


@dataclass(frozen=True, repr=False)
class CompatibilityReport(RowsTable, Shown):
    """Result of :func:`~netspectra.merge.check_compatibility`.

    Attributes
    ----------
    models : tuple of str
        The models compared, as given.
    base : str or None
        The base model (task vectors are taken against it).
    layers : tuple of LayerCompatibility
        One row per 2-D floating-point tensor, in model order.
    num_other : int
        Tensors present in every model but not compared (not 2-D or not floating point).
    thresholds : dict
        The thresholds used (:class:`~netspectra.merge.compat.Thresholds`).
    """

    models: tuple[str, ...]
    base: str | None
    layers: tuple[LayerCompatibility, ...]
    num_other: int
    thresholds: dict[str, object]
    row_type: ClassVar[type] = LayerCompatibility
    shown_as: ClassVar[str] = "compatibility"

    @property
    def verdict(self) -> str:
        """The worst layer verdict (``compatible`` for a model with no 2-D layer)."""
        return max((layer.verdict for layer in self.layers), key=VERDICTS.index, default=VERDICTS[0])

    def summary(self) -> dict[str, object]:
        """Model summary: verdict, counts per verdict, largest distance and interference, worst layers."""
        counts = Counter(layer.verdict for layer in self.layers)
        interference = [x.interference for x in self.layers if math.isfinite(x.interference)]
        distance = [x.rel_distance for x in self.layers if math.isfinite(x.rel_distance)]
        worst = [x.name for x in self.layers if x.verdict == self.verdict and x.verdict != VERDICTS[0]]
        return {
            "models": list(self.models),
            "base": self.base,
            "verdict": self.verdict,
            "num_layers": len(self.layers),
            "num_other": self.num_other,
            **{f"num_{v}": counts.get(v, 0) for v in VERDICTS},
            "max_rel_distance": max(distance, default=math.nan),
            "max_interference": max(interference, default=math.nan),
            "mean_interference": sum(interference) / len(interference) if interference else math.nan,
            "worst_layers": worst[:10],
        }

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: summary, thresholds and layers (non-finite floats become None)."""
        return {
            "summary": _finite(self.summary()),
            "thresholds": self.thresholds,
            "layers": [_finite(layer.to_dict()) for layer in self.layers],
        }


@dataclass(frozen=True)
class LayerMerge(TableRow):
    """How one tensor was merged; see the module docstring for columns."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    shard: str
    rule: str
    reason: str
    details: str
    verdict: str
    interference: float


@dataclass(frozen=True, repr=False)
class MergeResult(RowsTable, Shown):
    """Result of :func:`~netspectra.merge.merge_models`.

    Attributes
    ----------
    output : str
        The output directory.
    method : str
        The configured method.
    base : str or None
    models : tuple of str
    weights : tuple of float
    layers : tuple of LayerMerge
        Every tensor written, in output order (by shard, then model order).
    files : tuple of str
        Files written into ``output`` (shards, index, config.json, the merge log).
    """

    output: str
    method: str
    base: str | None
    models: tuple[str, ...]
    weights: tuple[float, ...]
    layers: tuple[LayerMerge, ...]
    files: tuple[str, ...]
    row_type: ClassVar[type] = LayerMerge
    shown_as: ClassVar[str] = "merge"

    def summary(self) -> dict[str, object]:
        """Counts of tensors per rule applied and per verdict, and the files written."""
        return {
            "output": self.output,
            "method": self.method,
            "base": self.base,
            "models": list(self.models),
            "weights": list(self.weights),
            "num_tensors": len(self.layers),
            "rules": dict(Counter(layer.rule for layer in self.layers)),
            "verdicts": dict(Counter(layer.verdict for layer in self.layers if layer.verdict)),
            "files": list(self.files),
        }

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: summary and one entry per tensor."""
        return {"summary": _finite(self.summary()), "layers": [_finite(layer.to_dict()) for layer in self.layers]}
