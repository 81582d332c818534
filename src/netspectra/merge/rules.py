"""Merge one tensor by one method: the layer-level rule of each method in the registry.

Each rule takes a :class:`LayerInputs` (the tensors of one layer, the weights and the method's bound
parameters) and returns a :class:`LayerOutcome` (the merged tensor and what was done); the math is in
:mod:`netspectra.merge.methods`.

* ``linear``, ``task-arithmetic`` and the sparsifying task-vector methods (DARE, DELLA, Breadcrumbs),
  SLERP, NuSLERP and Model Stock apply to every tensor as they are.
* ``ties``, ``star``, ``tsv`` apply to (non-empty) 2-D tensors; every other tensor (bias, norm, conv kernel)
  gets the ``average`` rule B + lambda sum_i w^_i tau_i, so that it moves on the same scale as the matrices.
* ``spectral-auto`` runs the compatibility check of :mod:`netspectra.merge.compat` on each 2-D tensor
  and picks: ``average`` for a ``compatible`` layer (task vectors in near-orthogonal subspaces add without
  interfering), else ``star`` when every task vector is low-rank (signal rank <= ``low_rank`` x
  min(rows, cols): truncation keeps its signal and drops its noise), else ``tsv`` (whitening the shared
  singular directions removes the interference).  Without a base it falls back to ``linear``.  The rule is
  a heuristic of this package, not a published procedure; every choice is logged with its reason.

The task vectors of a 2-D layer are decomposed once, and the compatibility check and STAR/TSV share
that decomposition.  The random methods (DARE, DELLA) draw their masks from a generator seeded by the
``seed`` parameter and the tensor name, so a merge is reproducible and independent of tensor order.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from netspectra.errors import UsageError
from netspectra.merge import methods
from netspectra.merge.compat import DEFAULT_THRESHOLDS, Thresholds, is_matrix, layer_compatibility
from netspectra.merge.results import LayerCompatibility


@dataclass(frozen=True)
class LayerInputs:
    """One layer to merge: its name, the method's canonical name, the models' tensors (one per model), the
    base (or None), the model weights, the method's parameters (bound: every parameter of the method,
    per-model ones as tuples), the reason the plan gives, the compatibility thresholds, and optionally the
    Bernoulli draws of the random methods."""

    name: str
    method: str
    models: Sequence[np.ndarray]
    base: np.ndarray | None
    weights: tuple[float, ...]
    params: Mapping[str, Any]
    reason: str = "method"
    thresholds: Thresholds = DEFAULT_THRESHOLDS
    draw: methods.BernoulliDraw | None = None

    def bernoulli(self) -> methods.BernoulliDraw:
        """The random draws of this layer: ``draw`` if given (tests hand in mergekit's), else a NumPy generator
        seeded by the ``seed`` parameter and the tensor name."""
        if self.draw is not None:
            return self.draw
        seed = [int(self.params["seed"]), zlib.crc32(self.name.encode("utf-8", "replace"))]
        return methods.seeded_draw(np.random.default_rng(seed))


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


# ------------------------------------------------------------------------------------------ the rules


def linear(x: LayerInputs) -> LayerOutcome:
    """sum_i w_i M_i / sum_i w_i (``normalize``), else sum_i w_i M_i."""
    if x.params["normalize"]:
        return LayerOutcome(methods.linear(x.models, x.weights), "linear", x.reason, "")
    values = methods.task_arithmetic(np.zeros(np.shape(x.models[0])), x.models, x.weights)
    return LayerOutcome(values, "linear", x.reason, "normalize=false")


def task_arithmetic(x: LayerInputs) -> LayerOutcome:
    """B + lambda sum_i w_i tau_i (``normalize``: divided by sum_i w_i)."""
    p = x.params
    weights = methods.normalized(x.weights) if p["normalize"] else x.weights
    values = methods.task_arithmetic(x.base, x.models, weights, p["scale"])
    return LayerOutcome(values, "task-arithmetic", x.reason, f"scale={p['scale']:g}" + _flag(p, "normalize", False))


def ties(x: LayerInputs) -> LayerOutcome:
    """TIES on every tensor (biases and norms too, as mergekit does)."""
    p = x.params
    values = methods.ties(x.base, x.models, x.weights, p["density"], p["scale"], p["normalize"])
    details = f"density={_values(p['density'])} scale={p['scale']:g}" + _flag(p, "normalize", True)
    return LayerOutcome(values, "ties", x.reason, details)


def sparsified(method: str, *, consensus: bool) -> Callable[[LayerInputs], LayerOutcome]:
    """The rule of a sparsify-then-combine method (``dare``, ``della``, ``breadcrumbs``), with or without
    TIES's sign consensus: B + lambda combine(drop(tau_i)) (:func:`methods.combine_task_vectors`)."""

    def rule(x: LayerInputs) -> LayerOutcome:
        p, taus = x.params, methods.task_vectors(x.base, x.models)
        rescale = p["rescale"]
        if method != "breadcrumbs":
            draw = x.bernoulli()
        if method == "dare":
            deltas = [methods.dare_drop(t, d, draw, rescale) for t, d in zip(taus, p["density"])]
            details = f"density={_values(p['density'])} rescale={rescale} seed={p['seed']}"
        elif method == "della":
            for d, e in zip(p["density"], p["epsilon"]):
                if d < 1.0 and not 0.0 < d - e < d + e < 1.0:
                    raise UsageError(
                        f"tensor {x.name!r}: {x.method} needs density +/- epsilon in (0, 1), got density {d:g}, epsilon {e:g}"
                    )
            deltas = [methods.della_drop(t, d, e, draw, rescale) for t, d, e in zip(taus, p["density"], p["epsilon"])]
            details = f"density={_values(p['density'])} epsilon={_values(p['epsilon'])} rescale={rescale} seed={p['seed']}"
        else:
            deltas = [methods.breadcrumbs_drop(t, d, g, rescale) for t, d, g in zip(taus, p["density"], p["gamma"])]
            details = f"density={_values(p['density'])} gamma={_values(p['gamma'])} rescale={rescale}"
        values = methods.combine_task_vectors(
            x.base, deltas, x.weights, consensus=consensus, normalize=p["normalize"], scale=p["scale"]
        )
        return LayerOutcome(values, x.method, x.reason, f"{details} scale={p['scale']:g} normalize={_bool(p['normalize'])}")

    return rule


def star_tsv_auto(x: LayerInputs) -> LayerOutcome:
    """STAR, TSV or spectral-auto on 2-D tensors (sharing the task vectors' SVDs), the average on others."""
    p, method = x.params, x.method
    if method == "spectral-auto" and x.base is None:
        reason = _because(x.reason, "spectral-auto without base model")
        return LayerOutcome(methods.linear(x.models, x.weights), "linear", reason, "")
    if not is_matrix(np.shape(x.models[0])):
        return _average(x, "not 2-D")
    decompositions = [methods.Decomposition.of(t) for t in methods.task_vectors(x.base, x.models)]
    compat, reason = None, x.reason
    if method == "spectral-auto":
        compat = layer_compatibility(x.name, x.models, x.base, decompositions, x.thresholds)
        method, why = auto_rule(compat, x.thresholds)
        reason = _because(x.reason, f"spectral-auto: {why}")
    if method == "average":
        values, details = methods.weighted_average(x.base, x.models, x.weights, p["scale"]), f"scale={p['scale']:g}"
    elif method == "star":
        values, ranks = methods.star(x.base, decompositions, x.weights, p["eta"], p["scale"])
        details = f"eta={p['eta']:g} ranks={_join(ranks)} scale={p['scale']:g}"
    else:
        values, k = methods.tsv(x.base, decompositions, x.weights, p["k"], p["scale"])
        details = f"k={k} scale={p['scale']:g}"
    return LayerOutcome(values, method, reason, details, compat)


def slerp(x: LayerInputs) -> LayerOutcome:
    """slerp(t, M_1, M_2): from the first model (t = 0) to the second (t = 1); mergekit's base is M_1."""
    t = x.params["t"]
    return LayerOutcome(methods.slerp(t, x.models[0], x.models[1]), "slerp", x.reason, f"t={t:g}")


def nuslerp(x: LayerInputs) -> LayerOutcome:
    """NuSLERP of the two models (of their task vectors when there is a base), t = w_2 / (w_1 + w_2)."""
    p = x.params
    t = methods.nuslerp_fraction(x.weights)
    options = {"row_wise": p["nuslerp_row_wise"], "flatten": p["nuslerp_flatten"]}
    if x.base is None:
        values = methods.nuslerp(t, x.models[0], x.models[1], **options)
    else:
        b = np.asarray(x.base, dtype=np.float64)
        tau_1, tau_2 = methods.task_vectors(b, x.models)
        values = b + methods.nuslerp(t, tau_1, tau_2, **options)
    how = "flattened" if p["nuslerp_flatten"] else ("columns" if p["nuslerp_row_wise"] else "rows")
    return LayerOutcome(values, "nuslerp", x.reason, f"t={t:g} {how}" + ("" if x.base is None else " task vectors"))


def model_stock(x: LayerInputs) -> LayerOutcome:
    """Model Stock: the average of the models pulled towards the base by the angle between task vectors."""
    filter_wise = x.params["filter_wise"]
    values = methods.model_stock(x.base, x.models, filter_wise)
    return LayerOutcome(values, "model-stock", x.reason, "filter-wise" if filter_wise else "")


# ------------------------------------------------------------------------------------------ helpers


def _average(x: LayerInputs, why: str) -> LayerOutcome:
    scale = x.params["scale"]
    values = methods.weighted_average(x.base, x.models, x.weights, scale)
    return LayerOutcome(values, "average", _because(x.reason, why), f"scale={scale:g}")


def _because(plan_reason: str, why: str) -> str:
    return why if plan_reason == "method" else f"{plan_reason}: {why}"


def _join(values: Sequence[int]) -> str:
    return ",".join(str(v) for v in values)


def _values(values: Sequence[float]) -> str:
    """One number when every model has the same value, else all of them."""
    return f"{values[0]:g}" if len(set(values)) == 1 else ",".join(f"{v:g}" for v in values)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _flag(params: Mapping[str, Any], name: str, default: bool) -> str:
    """`` name=value`` when the value is not the default (so the default's details stay as they were)."""
    return "" if params[name] == default else f" {name}={_bool(params[name])}"
