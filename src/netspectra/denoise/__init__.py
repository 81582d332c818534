"""Denoise and compress weight matrices with random-matrix-theory singular-value thresholds.

>>> from netspectra.denoise import compress_model, compress_matrix, load_factored
>>> report = compress_model("model.safetensors", "small.safetensors", method="gavish-donoho")  # doctest: +SKIP
>>> report.to_frame()[["name", "rank", "rel_fro_error", "mean_pred_cos2_left"]]        # doctest: +SKIP

Per matrix: SVD, a keep rule (:mod:`~netspectra.denoise.methods`), optional optimal shrinkage, the
rebuilt matrix in its stored orientation, shape and dtype (or its two factors), the errors and the
predicted (and, given a reference signal, measured) singular-vector overlaps.
"""

from netspectra._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "netspectra.denoise.factored": ("load_factored", "sidecar_path"),
        "netspectra.denoise.lowrank": ("LowRank", "OrientedSVD", "compress_matrix", "compress_svd"),
        "netspectra.denoise.methods": ("METHOD_KINDS", "SHRINK_KINDS", "Method", "Selection"),
        "netspectra.denoise.model": ("COMPRESSIBLE_KINDS", "compress_model"),
        "netspectra.denoise.planted": ("PlantedMatrix", "planted_matrix"),
        "netspectra.denoise.results": ("CompressionReport", "CopiedTensor", "LayerCompression"),
        "netspectra.denoise.writer": ("SafetensorsWriter",),
    },
)
