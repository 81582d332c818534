"""Denoise and compress weight matrices with random-matrix-theory singular-value thresholds.

>>> from netspectra.denoise import compress_model, compress_matrix, load_factored
>>> report = compress_model("model.safetensors", "small.safetensors", "gavish-donoho")  # doctest: +SKIP
>>> report.to_frame()[["name", "rank", "rel_fro_error", "mean_pred_cos2_left"]]        # doctest: +SKIP

Per matrix: SVD, a keep rule (:mod:`~netspectra.denoise.methods`), optional optimal shrinkage, the
rebuilt matrix in its stored orientation, shape and dtype (or its two factors), the errors and the
predicted (and, given a reference signal, measured) singular-vector overlaps.
"""

from netspectra.denoise.factored import load_factored, sidecar_path
from netspectra.denoise.lowrank import SHRINK_KINDS, LowRank, OrientedSVD, compress_matrix, compress_svd
from netspectra.denoise.methods import METHOD_KINDS, Method, Selection
from netspectra.denoise.model import COMPRESSIBLE_KINDS, compress_model
from netspectra.denoise.planted import PlantedMatrix, planted_matrix
from netspectra.denoise.results import CompressionReport, CopiedTensor, LayerCompression
from netspectra.denoise.writer import SafetensorsWriter

__all__ = [
    "COMPRESSIBLE_KINDS",
    "METHOD_KINDS",
    "SHRINK_KINDS",
    "CompressionReport",
    "CopiedTensor",
    "LayerCompression",
    "LowRank",
    "Method",
    "OrientedSVD",
    "PlantedMatrix",
    "SafetensorsWriter",
    "Selection",
    "compress_matrix",
    "compress_model",
    "compress_svd",
    "load_factored",
    "planted_matrix",
    "sidecar_path",
]
