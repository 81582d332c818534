"""Model sources and the stream of weight matrices.

>>> from netspectra.io import iter_weight_matrices
>>> for wm in iter_weight_matrices("model.safetensors", exclude="embed"):   # doctest: +SKIP
...     X = wm.load()   # float64 (k, N, M), N >= M

Formats: safetensors (single, sharded, Hugging Face directories), torch checkpoints (read without
running code), NumPy .npz/.npy, ONNX (with the ``onnx`` extra) and live ``torch.nn.Module`` objects.
"""

from .base import FORMATS, ModelSource, TensorRecord
from .hashing import content_hash
from .layers import NOTE_INTEGER, NOTE_UNSPLIT, iter_weight_matrices, plan_tensor, select_weight_matrices
from .selection import LayerSelection
from .sources import open_source
from .weights import LAYER_KINDS, WeightMatrix, orient

__all__ = [
    "FORMATS",
    "LAYER_KINDS",
    "LayerSelection",
    "NOTE_INTEGER",
    "NOTE_UNSPLIT",
    "ModelSource",
    "TensorRecord",
    "WeightMatrix",
    "content_hash",
    "iter_weight_matrices",
    "open_source",
    "orient",
    "plan_tensor",
    "select_weight_matrices",
]
