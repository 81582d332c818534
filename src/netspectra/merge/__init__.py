"""Spectral compatibility of models and model merging (linear, task arithmetic, TIES, DARE, DELLA, Breadcrumbs,
STAR, TSV, spectral-auto, SLERP, NuSLERP, Model Stock: :mod:`netspectra.merge.registry`).

>>> from netspectra.merge import check_compatibility, merge_models
>>> report = check_compatibility(["ft-a", "ft-b"], base="base")      # doctest: +SKIP
>>> report.summary()["verdict"], report.to_frame()[["name", "verdict", "interference"]]  # doctest: +SKIP
>>> result = merge_models("merge.yaml", "merged/")                     # doctest: +SKIP
>>> result.to_frame()[["name", "rule", "reason", "details"]]            # doctest: +SKIP

The merge rules themselves are pure functions of arrays in :mod:`netspectra.merge.methods`.
"""

from netspectra._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "netspectra.merge.compat": ("DEFAULT_THRESHOLDS", "Thresholds", "layer_compatibility"),
        "netspectra.merge.config": ("METHODS", "LayerPlan", "MergeConfig", "ModelSpec", "Override", "load_config"),
        "netspectra.merge.inputs": ("MergeError",),
        "netspectra.merge.layer": ("merge_layer",),
        "netspectra.merge.registry": ("REGISTRY", "MergeMethod", "MethodParams", "Parameter", "get_method"),
        "netspectra.merge.rules": ("LayerOutcome", "auto_rule"),
        "netspectra.merge.model": ("check_compatibility", "merge_models"),
        "netspectra.merge.results": ("VERDICTS", "CompatibilityReport", "LayerCompatibility", "LayerMerge", "MergeResult"),
    },
)
