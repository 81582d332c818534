"""Merge one tensor: pick the rule for its plan and shape, run it, say what was done.

* ``linear`` and ``task-arithmetic`` apply to every tensor as they are.
* ``ties``, ``star``, ``tsv`` apply to (non-empty) 2-D tensors; every other tensor (bias, norm, conv kernel) gets the
  ``average`` rule B + lambda sum_i w^_i tau_i, so that it moves on the same scale as the matrices.
* ``spectral-auto`` runs the compatibility check of :mod:`netspectra.merge.compat` on each 2-D tensor
  and picks: ``average`` for a ``compatible`` layer (task vectors in near-orthogonal subspaces add without
  interfering), else ``star`` when every task vector is low-rank (signal rank <= ``low_rank`` x
  min(rows, cols): truncation keeps its signal and drops its noise), else ``tsv`` (whitening the shared
  singular directions removes the interference).  Without a base it falls back to ``linear``.  The rule is
  a heuristic of this package, not a published procedure; every choice is logged with its reason.

The task vectors of a 2-D layer are decomposed once, and the compatibility check and STAR/TSV share
that decomposition.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from netspectra.merge import methods
from netspectra.merge.compat import DEFAULT_THRESHOLDS, Thresholds, is_matrix, layer_compatibility
from netspectra.merge.config import LayerPlan
from netspectra.merge.results import LayerCompatibility


@dataclass(frozen=True)
class LayerOutcome:
    """The merged tensor (float64) and the log entry: rule applied, why, details, compatibility."""

    values: np.ndarray
    rule: str
    reason: str
    details: str
    compatibility: LayerCompatibility | None = None

    @property
    def verdict(self) -> str:
        return self.compatibility.verdict if self.compatibility else ""

    @property
    def interference(self) -> float:
        return self.compatibility.interference if self.compatibility else math.nan


def auto_rule(compat: LayerCompatibility, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> tuple[str, str]:
    """The rule ``spectral-auto`` picks for a 2-D layer, and why (see the module docstring)."""
    if compat.verdict == "compatible":
        return "average", f"compatible (interference {compat.interference:.2f})"
    why = f"{compat.verdict}: {compat.reasons}"
    limit = thresholds.low_rank * min(compat.rows, compat.cols)
    if compat.task_ranks and max(compat.task_ranks) <= limit:
        return "star", f"{why}; low-rank task vectors (signal ranks {_join(compat.task_ranks)})"
    return "tsv", why


def merge_layer(
    name: str,
    models: Sequence[np.ndarray],
    base: np.ndarray | None,
    plan: LayerPlan,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> LayerOutcome:
    """Merge the tensors ``models`` (one per model, same shape) of layer ``name`` according to ``plan``.

    ``base`` may be None only for ``linear`` and ``spectral-auto`` (which then falls back to linear).
    """
    p, w, method = plan.params, plan.weights, plan.method
    if method == "linear" or (method == "spectral-auto" and base is None):
        reason = plan.reason if method == "linear" else _because(plan.reason, "spectral-auto without base model")
        return LayerOutcome(methods.linear(models, w), "linear", reason, "")
    if method == "task-arithmetic":
        values = methods.task_arithmetic(base, models, w, p.scale)
        return LayerOutcome(values, method, plan.reason, f"scale={p.scale:g}")
    if not is_matrix(np.shape(models[0])):
        values = methods.weighted_average(base, models, w, p.scale)
        return LayerOutcome(values, "average", _because(plan.reason, "not 2-D"), f"scale={p.scale:g}")
    if method == "ties":
        return LayerOutcome(
            methods.ties(base, models, w, p.density, p.scale), method, plan.reason, f"density={p.density:g} scale={p.scale:g}"
        )
    decompositions = [methods.Decomposition.of(t) for t in methods.task_vectors(base, models)]
    compat = None
    reason = plan.reason
    if method == "spectral-auto":
        compat = layer_compatibility(name, models, base, decompositions, thresholds)
        method, why = auto_rule(compat, thresholds)
        reason = _because(plan.reason, f"spectral-auto: {why}")
    if method == "average":
        values, details = methods.weighted_average(base, models, w, p.scale), f"scale={p.scale:g}"
    elif method == "star":
        values, ranks = methods.star(base, decompositions, w, p.eta, p.scale)
        details = f"eta={p.eta:g} ranks={_join(ranks)} scale={p.scale:g}"
    else:
        values, k = methods.tsv(base, decompositions, w, p.k, p.scale)
        details = f"k={k} scale={p.scale:g}"
    return LayerOutcome(values, method, reason, details, compat)


def _because(plan_reason: str, why: str) -> str:
    return why if plan_reason == "method" else f"{plan_reason}: {why}"


def _join(values: Sequence[int]) -> str:
    return ",".join(str(v) for v in values)
