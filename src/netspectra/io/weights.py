"""The unit every source yields: one weight matrix (or a stack of matrices for a conv kernel), loaded lazily."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .roles import Placement

#: Layer kinds.  A conv kernel of shape (out, in, *spatial) is a stack of prod(spatial) matrices of
#: shape (out, in), one per spatial position, whose eigenvalues are pooled into one spectrum (as
#: WeightWatcher does).  A fused attention projection split into Q, K, V gives kinds "attention_q" etc.
LAYER_KINDS = ("linear", "embedding", "conv1d", "conv2d", "conv3d", "attention_q", "attention_k", "attention_v")


@dataclass(frozen=True)
class WeightMatrix:
    """One analyzable weight of a model.

    Attributes
    ----------
    name : str
        Tensor name as stored (``encoder.layer.0.attention.self.query.weight``); a fused QKV tensor
        split into parts gets the suffix ``[q]``, ``[k]`` or ``[v]``.
    layer_index : int
        Position of this matrix in the model's analysis order (0, 1, 2, ...).
    kind : str
        One of :data:`LAYER_KINDS`.
    shape : tuple of int
        Shape of the tensor as stored (before any transpose or split).
    dtype : str
        Stored dtype name (``F32``, ``BF16``, ``F8_E4M3``, ``I8``, ...).
    source : str
        The file (or ``module``) the tensor comes from, for error messages.
    matrix_shape : tuple of int
        (N, M) of each matrix after orientation, N >= M.
    num_matrices : int
        How many (N, M) matrices the tensor holds: 1, or prod(spatial dims) for a conv kernel.
    load : callable
        Returns the matrices as a float64 array of shape (k, N, M) with N >= M: k = 1 for a plain
        matrix, k = prod(spatial) for a conv kernel.  Reads the data only when called.  ``load(native=True)``
        returns them in the decoded dtype instead (float32 for F32/F16/BF16/F8, else float64), a view of
        the decoded tensor where the layout allows.
    notes : tuple of str
        Anything the loader had to do that the user should know (e.g. "int8 analyzed without scale"),
        one label each; they join the warnings of the layer's row.
    placement : Placement
        Role, stack, block and expert index of the matrix in its model (:mod:`netspectra.io.roles`).
    positions : int, optional
        The spatial positions of the conv kernel this matrix is a slice of (``pool=False``); None: the
        matrix is the whole tensor (``num_matrices`` positions).
    model_index : int
        Position among all the model's weight matrices, before any selection (what ``LayerSelection.layers``
        picks); -1 when not known.
    noise : callable, optional
        For a quantized tensor, returns its ``sigma2_quant``: the mean per-entry variance of the quantization
        error its format implies (:mod:`netspectra.io.quant_noise`), over the whole stored tensor (a part of
        a fused tensor shares it); None where the reader does not know it.
    """

    name: str
    layer_index: int
    kind: str
    shape: tuple[int, ...]
    dtype: str
    source: str
    matrix_shape: tuple[int, int]
    num_matrices: int
    load: Callable[..., np.ndarray] = field(repr=False, compare=False)
    notes: tuple[str, ...] = ()
    placement: Placement = Placement()
    positions: int | None = None
    model_index: int = -1
    noise: Callable[[], float] | None = field(default=None, repr=False, compare=False)


def orient(matrices: np.ndarray, dtype: type | None = np.float64) -> np.ndarray:
    """Return a stack of shape (k, N, M) with N >= M, transposing each matrix if needed (a view).

    ``dtype`` float64 (default) converts; None keeps the decoded dtype (float32 or float64), so that the
    analysis can accumulate its float64 Gram matrix block by block without a float64 copy of W.
    """
    with np.errstate(invalid="ignore", over="ignore"):  # NaN/Inf are reported by the pipeline's checks
        arr = np.asarray(matrices, dtype=dtype)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.shape[1] < arr.shape[2]:
        arr = np.swapaxes(arr, 1, 2)
    return arr
