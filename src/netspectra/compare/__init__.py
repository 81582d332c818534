"""Compare two checkpoints layer by layer, and track spectra over many checkpoints or live training."""

from netspectra.compare.diff import DiffSpectrum, difference_spectrum
from netspectra.compare.matching import LayerMatch, Matching, Unmatched, match_layers
from netspectra.compare.pair import compare_models
from netspectra.compare.result import ChangeThresholds, LayerComparison, ModelComparison, compare_layer

__all__ = [
    "ChangeThresholds",
    "DiffSpectrum",
    "LayerComparison",
    "LayerMatch",
    "Matching",
    "ModelComparison",
    "Unmatched",
    "compare_layer",
    "compare_models",
    "difference_spectrum",
    "match_layers",
]
