"""Spectral compatibility of models and model merging (linear, task arithmetic, TIES, STAR, TSV, spectral-auto).

>>> from netspectra.merge import check_compatibility, merge_models
>>> report = check_compatibility(["ft-a", "ft-b"], base="base")      # doctest: +SKIP
>>> report.summary()["verdict"], report.to_frame()[["name", "verdict", "interference"]]  # doctest: +SKIP
>>> result = merge_models("merge.yaml", "merged/")                     # doctest: +SKIP
>>> result.to_frame()[["name", "rule", "reason", "details"]]            # doctest: +SKIP

The merge rules themselves are pure functions of arrays in :mod:`netspectra.merge.methods`.
"""

from netspectra.merge.compat import DEFAULT_THRESHOLDS, Thresholds, layer_compatibility
from netspectra.merge.config import METHODS, LayerPlan, MergeConfig, MethodParams, ModelSpec, Override, load_config
from netspectra.merge.inputs import MergeError
from netspectra.merge.layer import LayerOutcome, auto_rule, merge_layer
from netspectra.merge.model import check_compatibility, merge_models
from netspectra.merge.results import VERDICTS, CompatibilityReport, LayerCompatibility, LayerMerge, MergeResult

__all__ = [
    "DEFAULT_THRESHOLDS",
    "METHODS",
    "VERDICTS",
    "CompatibilityReport",
    "LayerCompatibility",
    "LayerMerge",
    "LayerOutcome",
    "LayerPlan",
    "MergeConfig",
    "MergeError",
    "MergeResult",
    "MethodParams",
    "ModelSpec",
    "Override",
    "Thresholds",
    "auto_rule",
    "check_compatibility",
    "layer_compatibility",
    "load_config",
    "merge_layer",
    "merge_models",
]
