"""Compare two checkpoints layer by layer, and track spectra over many checkpoints or live training."""

from netspectra._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "netspectra.compare.diff": ("DiffSpectrum", "difference_spectrum"),
        "netspectra.compare.matching": ("LayerMatch", "Matching", "Unmatched", "match_layers"),
        "netspectra.compare.pair": ("compare_models",),
        "netspectra.compare.result": ("ChangeThresholds", "LayerComparison", "ModelComparison", "compare_layer"),
    },
)
