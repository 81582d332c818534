"""netspectra: what random matrix theory sees in every weight matrix of a trained network."""

from netspectra import _lazy

__version__ = "0.1.0"

__getattr__, __dir__, __all__ = _lazy.lazy_exports(
    __name__,
    {
        "netspectra.pipeline": ("analyze", "analyze_array", "analyze_many", "describe", "iter_analyze"),
        # the verbs of netspectra.actions.__all__ but analyze (tests/test_spine.py checks that they agree)
        "netspectra.actions": (
            "compare_models",
            "compress",
            "merge_check",
            "prune",
            "rank",
            "select_layers",
            "svd_sharpness",
            "track",
        ),
        "netspectra.diagnose.description": ("ModelDescription",),
        "netspectra.diagnose.model": ("ModelReport", "ModelSummary"),
        "netspectra.diagnose.options": ("AnalysisOptions",),
        "netspectra.diagnose.row": ("LayerReport",),
        "netspectra.errors": ("NetspectraError",),
        "netspectra.io": ("LayerSelection",),
        "netspectra.linalg": ("SpectrumOptions",),
        "netspectra.spec": ("AnalysisSpec",),
        "netspectra.version": ("ALGORITHM_VERSION",),
    },
    extra=("__version__",),
)
del _lazy
