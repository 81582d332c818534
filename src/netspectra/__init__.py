"""netspectra: what random matrix theory sees in every weight matrix of a trained network."""

from netspectra.analyze import analyze, iter_analyze
from netspectra.diagnose.layer import AnalysisOptions, LayerReport
from netspectra.diagnose.model import ModelReport, ModelSummary
from netspectra.errors import NetspectraError

__version__ = "0.1.0"

__all__ = [
    "AnalysisOptions",
    "LayerReport",
    "ModelReport",
    "ModelSummary",
    "NetspectraError",
    "analyze",
    "iter_analyze",
    "__version__",
]
