"""SVD sharpness of a whole model (WeightWatcher's ``SVDSharpness(model)``): every selected weight matrix with its
trap components removed (:func:`netspectra.denoise.sharpness.sharpen`), in the layout the model stores it.

Convention: each matrix is oriented N x M with N >= M for the counts; the sharpened tensors come back in their
stored shape (a conv kernel (out, in, *spatial) sharpened position by position).  Fused QKV parts are
reported but not returned as tensors (they are parts of one stored tensor), nor are the slices of ``pool=False``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import ClassVar, Unpack

import numpy as np

from netspectra.denoise.sharpness import sharpen
from netspectra.io import WeightMatrix
from netspectra.pipeline import ProgressCallback, Source, list_weights, run_layers
from netspectra.scale.executor import Executor, shapes_of
from netspectra.spec import AnalysisSpec, SpecKeywords
from netspectra.tabular import RowsTable, TableRow


@dataclass(frozen=True)
class LayerSharpness(TableRow):
    """One matrix: its trap components removed (summed over a conv stack's positions) and their share of ||W||_F^2."""

    name: str
    kind: str
    N: int
    M: int
    num_matrices: int
    num_removed: int
    energy_removed: float


@dataclass(frozen=True)
class ModelSharpness(RowsTable):
    """Result of :func:`svd_sharpness`: ``layers`` (:meth:`to_frame`) and ``weights``, tensor name -> the sharpened
    tensor in its stored shape (float64; fused QKV parts left out)."""

    source: str
    layers: tuple[LayerSharpness, ...]
    weights: dict[str, np.ndarray]
    row_type: ClassVar[type] = LayerSharpness


def svd_sharpness(
    source: Source,
    spec: AnalysisSpec | None = None,
    *,
    seed: int = 0,
    executor: str | Executor | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    **keywords: Unpack[SpecKeywords],
) -> ModelSharpness:
    """Every weight matrix of ``source`` that the selection keeps, sharpened (module docstring); ``seed`` fixes the
    shuffles that count the traps.  Selection, executor and progress as in :func:`netspectra.analyze`."""
    spec = AnalysisSpec.resolve(spec, **keywords)
    weights = list_weights(source, spec)
    results = run_layers(
        partial(_sharpen_weight, seed=seed),
        weights,
        shapes=shapes_of(weights),
        names=[w.name for w in weights],
        executor=executor,
        workers=workers,
        progress=progress,
        results_hold_matrices=True,
    )
    rows, tensors = [], {}
    for weight, (row, tensor) in zip(weights, results):
        rows.append(row)
        if tensor is not None:
            tensors[weight.name] = tensor
    return ModelSharpness(AnalysisSpec.describe(source), tuple(rows), tensors)


def _sharpen_weight(weight: WeightMatrix, seed: int) -> tuple[LayerSharpness, np.ndarray | None]:
    stack = weight.load()
    results = [sharpen(matrix, seed=seed + i) for i, matrix in enumerate(stack)]
    total = float(np.sum(stack**2))
    removed = sum(r.energy_removed * float(np.sum(m**2)) for r, m in zip(results, stack))
    n, m = weight.matrix_shape
    row = LayerSharpness(
        weight.name,
        weight.kind,
        n,
        m,
        weight.num_matrices,
        sum(r.num_removed for r in results),
        removed / total if total > 0 else 0.0,
    )
    return row, _stored(weight, np.stack([r.matrix for r in results]))


def _stored(weight: WeightMatrix, oriented: np.ndarray) -> np.ndarray | None:
    """The (k, N, M) stack back in the tensor's stored shape; None for a part of a fused tensor or a slice."""
    shape = weight.shape
    if weight.positions is not None or len(shape) < 2 or oriented.shape[0] * shape[0] * shape[1] != int(np.prod(shape)):
        return None
    out, inp = shape[0], shape[1]
    if sorted(oriented.shape[1:]) != sorted((out, inp)):
        return None
    per_position = oriented if oriented.shape[1:] == (out, inp) else np.swapaxes(oriented, 1, 2)
    if len(shape) == 2:
        return per_position[0]
    return np.moveaxis(per_position, 0, 2).reshape(shape)
