"""Keras layers' variables as PyTorch stores them: their names, and the axis order that makes a kernel the
matrix (or conv stack) of the equivalent PyTorch weight.  Pure functions of names and shapes; the files
are read by :mod:`netspectra.io.keras_source`.

Keras 3 stores a layer's variables by position only (``vars/0``, ``vars/1``, ...); their names follow the
layer class's order (:data:`VARIABLES`).  The class of a layer comes from the model's config when the
file has one (``.keras`` archives, legacy ``model_config``), else from the layer's group key or its
name, which Keras derives from the class (``conv2d_3`` is a ``Conv2D``: ``keras.src.utils.naming``).

Orientation (Keras keeps inputs first; PyTorch's weight is (out, in, *spatial)):

* Dense kernel (in, out), RNN kernels (in, 4 units): transposed, as ``nn.Linear`` / ``weight_ih``;
* Conv kernel (*spatial, in, out) -> (out, in, *spatial), a stack of prod(spatial) matrices; a transposed
  conv's (*spatial, out, in) -> (in, out, *spatial), which is ``nn.ConvTranspose``'s order;
* depthwise kernel (*spatial, in, multiplier) -> (in multiplier, 1, *spatial), PyTorch's grouped conv
  with groups = in (skipped as depthwise: no matrix);
* EinsumDense kernel: the kernel axes contracted with the input become the columns and the axes that reach
  the output the rows, from the layer's ``equation`` (``btd,ndh->btnh``: (n h, d)); MultiHeadAttention's
  query/key/value kernels (d, heads, head_dim) -> (heads head_dim, d), its output kernel (heads,
  head_dim, d) -> (d, heads head_dim), the layout its ``_build_proj_equation`` fixes;
* a bias of several axes (an EinsumDense's (heads, head_dim)) -> one vector, as PyTorch's;
* embeddings, and 2-D variables not named ``*kernel``: as stored.

A kernel of three or more axes whose layout is not known (an EinsumDense without its equation, a
layer of unknown class in a Keras 3 file) is given a reason instead of an orientation.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

#: Convolution classes (snake case, as Keras names their layers).
CONV = frozenset(
    {
        "conv1d",
        "conv2d",
        "conv3d",
        "conv1d_transpose",
        "conv2d_transpose",
        "conv3d_transpose",
        "depthwise_conv1d",
        "depthwise_conv2d",
        "separable_conv1d",
        "separable_conv2d",
    }
)
_RNN_CELL = ("kernel", "recurrent_kernel", "bias")
#: The variables of each layer class, in the order Keras 3 saves them.
VARIABLES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(CONV - {"separable_conv1d", "separable_conv2d"}, ("kernel", "bias")),
    "separable_conv1d": ("depthwise_kernel", "pointwise_kernel", "bias"),
    "separable_conv2d": ("depthwise_kernel", "pointwise_kernel", "bias"),
    "dense": ("kernel", "bias"),
    "einsum_dense": ("kernel", "bias"),
    "embedding": ("embeddings",),
    "lstm_cell": _RNN_CELL,
    "gru_cell": _RNN_CELL,
    "simple_rnn_cell": _RNN_CELL,
    "layer_normalization": ("gamma", "beta"),
    "batch_normalization": ("gamma", "beta", "moving_mean", "moving_variance"),
}
#: Classes whose ``cell`` sublayer is an RNN cell.
_RNN = frozenset({"lstm", "gru", "simple_rnn"})
#: Classes known by name, beyond those with variables.
KNOWN_CLASSES = frozenset(VARIABLES) | _RNN | {"multi_head_attention"}
#: Sublayers a class creates under fixed attribute keys (Keras 3 group keys), by (class, key).
_SUBLAYERS = {("multi_head_attention", f"{p}_dense"): "einsum_dense" for p in ("query", "key", "value", "output")} | {
    (rnn, "cell"): f"{rnn}_cell" for rnn in _RNN
}
#: Model order of sublayers stored under fixed keys (MultiHeadAttention's query, key, value, output).
SUBLAYER_ORDER = {"query_dense": 0, "key_dense": 1, "value_dense": 2, "output_dense": 3}
#: MultiHeadAttention's projections, by their attribute key (Keras 3) and their layer name.
_MHA_IN = frozenset({"query_dense", "key_dense", "value_dense", "query", "key", "value"})
_MHA_OUT = frozenset({"output_dense", "attention_output"})


def snake_case(name: str) -> str:
    """A class name as Keras names its layers: ``Conv2DTranspose`` -> ``conv2d_transpose``
    (``keras.src.utils.naming.to_snake_case``)."""
    name = re.sub(r"\W+", "", re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name))
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def class_stem(name: str) -> str | None:
    """The known layer class a Keras layer name or group key derives from (``dense_3`` -> ``dense``), or None."""
    stem = re.sub(r"_\d+$", "", name)
    return stem if stem in KNOWN_CLASSES else None


def layer_class(configured: str | None, key: str, name: str, parent_class: str | None) -> str | None:
    """The snake-case class of a layer: the config's, else the one its group key or its name derives from,
    else the class of a sublayer its parent creates under that key (MultiHeadAttention's ``query_dense``
    is an EinsumDense, an LSTM's ``cell`` an LSTMCell); None when nothing tells."""
    return configured or class_stem(key) or class_stem(name) or _SUBLAYERS.get((parent_class, key))


def variable_names(layer_class: str | None, count: int) -> list[str]:
    """Names of a Keras 3 layer's ``count`` stored variables: its class's order, then positions (``0``, ``1``, ...)."""
    names = list(VARIABLES.get(layer_class or "", ()))[:count]
    return names + [str(i) for i in range(len(names), count)]


@dataclass(frozen=True)
class Orientation:
    """Axis order and shape turning a stored kernel into PyTorch's layout: ``x.transpose(axes).reshape(shape)``."""

    axes: tuple[int, ...]
    shape: tuple[int, ...]


def _moved(shape: tuple[int, ...], rows: list[int], cols: list[int]) -> Orientation:
    """The matrix (prod rows axes, prod cols axes) of a kernel."""
    return Orientation(tuple(rows + cols), (math.prod(shape[i] for i in rows), math.prod(shape[i] for i in cols)))


def einsum_orientation(equation: str, shape: tuple[int, ...]) -> Orientation | str:
    """The (out, in) matrix of an EinsumDense kernel of ``equation`` (``input,kernel->output``), or why not."""
    match = re.fullmatch(r"([a-z.]*),([a-z.]*)->([a-z.]*)", equation.replace(" ", ""))
    if match is None:
        return f"EinsumDense equation {equation[:40]!r} not understood"
    given, kernel, produced = (part.replace("...", "") for part in match.groups())
    if len(kernel) != len(shape):
        return f"EinsumDense equation {equation[:40]!r} does not fit a kernel of shape {shape}"
    cols = [i for i, axis in enumerate(kernel) if axis in given and axis not in produced]
    rows = [i for i, axis in enumerate(kernel) if axis in produced and axis not in given]
    if not rows or not cols or len(rows) + len(cols) != len(shape):
        return f"EinsumDense equation {equation[:40]!r} is not one matrix per kernel"
    return _moved(shape, rows, cols)


def orientation(
    shape: tuple[int, ...],
    variable: str,
    layer_class: str | None,
    layer: tuple[str, str],
    parent_class: str | None,
    *,
    equation: str | None = None,
    legacy: bool = False,
) -> Orientation | str:
    """How to lay out one Keras variable as PyTorch would (module docstring), or the reason it cannot be.

    Parameters
    ----------
    shape : tuple of int
        Stored shape.
    variable : str
        Variable name (``kernel``, ``recurrent_kernel``, ``embeddings``, ``0``, ...).
    layer_class, parent_class : str or None
        Snake-case classes of the layer and of the layer holding it, when known.
    layer : (key, name)
        The layer's group key (its attribute, in Keras 3) and its name.
    equation : str, optional
        The layer's EinsumDense equation, when the model's config gives it.
    legacy : bool
        A Keras 2 (legacy HDF5) file: a kernel of three or more axes of unknown class is a convolution's,
        and MultiHeadAttention's projections are known by their names alone.
    """
    ndim = len(shape)
    identity = Orientation(tuple(range(ndim)), shape)
    if ndim < 2 or variable == "embeddings":
        return identity
    if variable.endswith("bias"):  # an EinsumDense bias (heads, head_dim): PyTorch's is one vector
        return Orientation(identity.axes, (math.prod(shape),))
    in_mha = parent_class == "multi_head_attention" or (legacy and parent_class is None)
    if in_mha and ndim >= 3 and not set(layer).isdisjoint(_MHA_IN):
        return _moved(shape, list(range(1, ndim)), [0])
    if in_mha and ndim >= 3 and not set(layer).isdisjoint(_MHA_OUT):
        return _moved(shape, [ndim - 1], list(range(ndim - 1)))
    if equation is not None and layer_class == "einsum_dense":
        return einsum_orientation(equation, shape)
    if ndim == 2:
        return Orientation((1, 0), shape[::-1]) if variable.endswith("kernel") else identity
    spatial = list(range(ndim - 2))
    if variable == "depthwise_kernel" or (variable == "kernel" and (layer_class or "").startswith("depthwise")):
        axes = (ndim - 2, ndim - 1, *spatial)
        return Orientation(axes, (shape[-2] * shape[-1], 1, *shape[:-2]))
    if layer_class in CONV or (legacy and layer_class is None and variable.endswith("kernel")):
        return Orientation((ndim - 1, ndim - 2, *spatial), (shape[-1], shape[-2], *shape[:-2]))
    what = f"a {layer_class} layer" if layer_class else "a layer of unknown class"
    return f"{ndim}-D {variable} of {what}: its matrix layout is not known (an EinsumDense needs its equation)"
