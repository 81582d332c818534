"""Model sources and the stream of weight matrices.

>>> from netspectra.io import iter_weight_matrices
>>> for wm in iter_weight_matrices("model.safetensors", exclude="embed"):   # doctest: +SKIP
...     X = wm.load()   # float64 (k, N, M), N >= M

Formats: safetensors (single, sharded, Hugging Face directories), torch checkpoints (read without
running code), NumPy .npz/.npy, ONNX (with the ``onnx`` extra) and live ``torch.nn.Module`` objects.
"""

from netspectra._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "netspectra.io.base": ("FORMATS", "ModelSource", "TensorRecord"),
        "netspectra.io.hashing": ("content_hash",),
        "netspectra.io.layers": ("NOTE_INTEGER", "NOTE_UNSPLIT", "iter_weight_matrices", "plan_tensor", "select_weight_matrices"),
        "netspectra.io.selection": ("LayerSelection", "skip_category"),
        "netspectra.io.sources": ("open_source",),
        "netspectra.io.weights": ("LAYER_KINDS", "WeightMatrix", "orient"),
    },
)
