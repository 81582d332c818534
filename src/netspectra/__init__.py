"""netspectra: what random matrix theory sees in every weight matrix of a trained network."""

from netspectra.analyze import analyze, analyze_many, iter_analyze
from netspectra.diagnose.model import ModelReport, ModelSummary
from netspectra.diagnose.options import AnalysisOptions
from netspectra.diagnose.row import LayerReport
from netspectra.errors import NetspectraError
from netspectra.io import LayerSelection
from netspectra.linalg import SpectrumOptions
from netspectra.spec import AnalysisSpec

__version__ = "0.1.0"

__all__ = [
    "AnalysisOptions",
    "AnalysisSpec",
    "LayerReport",
    "LayerSelection",
    "ModelReport",
    "ModelSummary",
    "NetspectraError",
    "SpectrumOptions",
    "analyze",
    "analyze_many",
    "iter_analyze",
    "__version__",
]
