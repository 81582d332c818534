"""Merge one tensor: look its plan's method up in the registry, bind the parameters, run the rule, check.

The rules themselves (what each method does to 2-D and other tensors, spectral-auto's choice) are in
:mod:`netspectra.merge.rules`; the methods and their parameters in :mod:`netspectra.merge.registry`.
A merged tensor that holds NaN or Inf, or values its output dtype cannot hold (weights or a scale so large
that the sum overflows), is refused: nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from netspectra.merge.compat import DEFAULT_THRESHOLDS, Thresholds
from netspectra.merge.config import LayerPlan
from netspectra.merge.inputs import MergeError
from netspectra.merge.registry import get_method
from netspectra.merge.rules import LayerInputs, LayerOutcome, auto_rule

__all__ = ["LARGEST", "LayerOutcome", "auto_rule", "merge_layer"]

#: Largest finite magnitude of each float dtype a merged tensor is written in.
LARGEST = {
    "F64": float(np.finfo(np.float64).max),
    "F32": float(np.finfo(np.float32).max),
    "F16": float(np.finfo(np.float16).max),
    "BF16": 3.3895313892515355e38,
}


def merge_layer(
    name: str,
    models: Sequence[np.ndarray],
    base: np.ndarray | None,
    plan: LayerPlan,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    *,
    dtype: str | None = None,
) -> LayerOutcome:
    """Merge the tensors ``models`` (one per model, same shape) of layer ``name`` according to ``plan``.

    ``base`` may be None only for methods whose base is optional or unused (``linear``, ``slerp``,
    ``nuslerp``, ``spectral-auto``, which then falls back to linear).  ``dtype``: the float dtype the
    tensor will be written in (F64, F32, F16, BF16), whose range it must fit.

    Raises
    ------
    MergeError
        The merged tensor holds NaN or Inf, or values beyond the range of ``dtype`` (they would be written
        as Inf).
    UsageError
        A parameter combination the method refuses (DELLA: density +/- epsilon outside (0, 1)).
    """
    method = get_method(plan.method)
    params = method.bind(plan.params, len(models))
    outcome = method.rule(LayerInputs(name, method.name, models, base, plan.weights, params, plan.reason, thresholds))
    values, how = outcome.values, f"{outcome.rule} {outcome.details}".strip()
    weights = ", ".join(f"{w:g}" for w in plan.weights)
    if not np.all(np.isfinite(values)):
        problem = "holds NaN or Inf values"
    elif dtype in LARGEST and values.size and float(np.max(np.abs(values))) > LARGEST[dtype]:
        problem = f"holds values beyond the range of {dtype} (largest magnitude {float(np.max(np.abs(values))):.3g})"
    else:
        return outcome
    raise MergeError(f"merged tensor {name!r} {problem} ({how}, weights {weights}): the weights or the scale are too large")
