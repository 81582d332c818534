"""The analysis pipeline: source -> weight matrices -> spectra -> one LayerReport each -> ModelReport.

Matrices are loaded one at a time, so peak memory is bounded by the largest matrix, not the model.
A matrix that cannot be analyzed (NaN/Inf, all zero, 1 x N, unreadable dtype) gets a row with
``status="error"`` and the reason; it does not stop the model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from netspectra.diagnose.layer import AnalysisOptions, LayerReport, analyze_spectrum, failed_layer
from netspectra.diagnose.model import ModelReport
from netspectra.errors import MatrixError
from netspectra.io import WeightMatrix, iter_weight_matrices
from netspectra.linalg import SpectrumOptions, compute_spectrum
from netspectra.linalg.spectrum import check_representable
from netspectra.scale.executor import Executor, executor_scope, shapes_of
from netspectra.scale.tail_only import analyze_tail

#: sqrt of the smallest normal float64: below it, squared entries underflow.
_SMALLEST_ENTRY = float(np.sqrt(np.finfo(np.float64).tiny))

#: Called after each layer with (number done, total, layer name).
ProgressCallback = Callable[[int, int, str], None]


def check_matrices(stack: np.ndarray) -> None:
    """Raise :class:`MatrixError` for a stack (k, N, M) that has no meaningful spectrum.

    Empty matrices, a single column (1 x N: one eigenvalue), NaN/Inf entries, all-zero matrices, and
    entries so small or so large that the Gram matrix W^T W would underflow or overflow in float64.
    """
    if stack.size == 0:
        raise MatrixError(f"empty matrix of shape {stack.shape[1:]}")
    if stack.shape[2] < 2:
        raise MatrixError(f"{stack.shape[1]}x{stack.shape[2]} matrix has a single eigenvalue")
    scale = check_representable(stack)
    if scale == 0.0:
        raise MatrixError("all-zero matrix")
    if scale < _SMALLEST_ENTRY:
        raise MatrixError(f"largest entry {scale:.3g}: squares underflow float64")


def analyze_matrix(
    weight: WeightMatrix, options: AnalysisOptions = AnalysisOptions(), spectrum_options: SpectrumOptions = SpectrumOptions()
) -> LayerReport:
    """Load one weight matrix, compute its spectrum and every metric; errors become a status row.

    ``spectrum_options`` picks the eigenvalue backend, and with ``tail_only`` K the top-K analysis of
    :func:`netspectra.scale.tail_only.analyze_tail`.
    """
    try:
        stack = weight.load()
        check_matrices(stack)
    except MatrixError as exc:
        return failed_layer(
            weight.name, weight.layer_index, weight.kind, weight.matrix_shape, weight.num_matrices,
            weight.dtype, str(exc),
        )
    where = dict(name=weight.name, layer_index=weight.layer_index, kind=weight.kind, dtype=weight.dtype, options=options)
    if spectrum_options.tail_only is not None:
        report = analyze_tail(stack, spectrum_options=spectrum_options, **where)
    else:
        report = analyze_spectrum(compute_spectrum(stack, spectrum_options), stack=stack, **where)
    if weight.note:
        extra = f"{report.warning}; {weight.note}" if report.warning else weight.note
        report = replace(report, warning=extra)
    return report


def iter_analyze(
    source: str | Path | Any,
    *,
    include: str | None = None,
    exclude: str | None = None,
    min_dim: int = 1,
    max_dim: int | None = None,
    options: AnalysisOptions = AnalysisOptions(),
    progress: ProgressCallback | None = None,
    workers: int | None = None,
    executor: str | Executor = "local",
    backend: str = "auto",
    tail_only: int | None = None,
) -> Iterator[LayerReport]:
    """Yield one :class:`LayerReport` per weight matrix of ``source``, in model order (see :func:`analyze`)."""
    weights = list(iter_weight_matrices(source, include=include, exclude=exclude, min_dim=min_dim, max_dim=max_dim))
    reports = analyze_weights(weights, options=options, spectrum_options=SpectrumOptions(backend=backend, tail_only=tail_only),
                              executor=executor, workers=workers)  # fmt: skip
    for done, (weight, report) in enumerate(zip(weights, reports), start=1):
        if progress is not None:
            progress(done, len(weights), weight.name)
        yield report


def analyze_weights(
    weights: Sequence[WeightMatrix],
    *,
    options: AnalysisOptions = AnalysisOptions(),
    spectrum_options: SpectrumOptions = SpectrumOptions(),
    executor: str | Executor = "local",
    workers: int | None = None,
) -> Iterator[LayerReport]:
    """Yield :func:`analyze_matrix` of each weight matrix, in order, run by ``executor``.

    The one place where layers meet an executor: :func:`iter_analyze`, the sweeps of
    :mod:`netspectra.scale.sweep` and the results store all go through it.  An executor made by name
    here is sized by the shapes of ``weights`` and closed when the generator ends.
    """
    task = partial(analyze_matrix, options=options, spectrum_options=spectrum_options)
    with executor_scope(executor, workers=workers, shapes=shapes_of(weights)) as run:
        yield from run.map(task, weights)


def analyze(
    source: str | Path | Any,
    *,
    include: str | None = None,
    exclude: str | None = None,
    min_dim: int = 1,
    max_dim: int | None = None,
    options: AnalysisOptions = AnalysisOptions(),
    progress: ProgressCallback | None = None,
    workers: int | None = None,
    executor: str | Executor = "local",
    backend: str = "auto",
    tail_only: int | None = None,
) -> ModelReport:
    """Analyze every weight matrix of a model with random matrix theory, using no data.

    Parameters
    ----------
    source : path or torch.nn.Module
        A .safetensors file, a sharded safetensors directory or index, a Hugging Face model directory,
        a PyTorch .pt/.bin state dict (read without running code), an .npz/.npy file, an ONNX file,
        or a live ``torch.nn.Module``.
    include, exclude : str, optional
        Regular expressions searched in the tensor names.
    min_dim, max_dim : int
        Keep matrices whose smaller dimension is >= ``min_dim`` and larger dimension <= ``max_dim``.
    options : AnalysisOptions
        Fit settings.
    progress : callable, optional
        Called as ``progress(done, total, name)`` after each layer.
    workers : int, optional
        Worker processes of the ``process`` or ``dask`` executor (default: the rule of
        :func:`netspectra.scale.default_workers`, or the CPUs for dask).
    executor : {"local", "process", "dask"} or Executor
        ``local`` (default): one layer after the other in this process; ``process``: a pool of worker
        processes; ``dask``: a local Dask cluster, or pass a :class:`netspectra.scale.DaskExecutor`
        connected to a scheduler.  Rows come back in model order whichever runs them.
    backend : {"auto", "dense", "torch", "lanczos", "randomized"}
        Eigenvalue backend (:func:`netspectra.linalg.choose_backend`).
    tail_only : int, optional
        Fit the power law on the top K eigenvalues of each layer only (Lanczos for large layers); bulk
        metrics are then NaN (:mod:`netspectra.scale.tail_only`).

    Returns
    -------
    ModelReport
        ``.layers`` (one :class:`LayerReport` per matrix), ``.summary`` and ``.to_frame()``.
    """
    layers = tuple(
        iter_analyze(source, include=include, exclude=exclude, min_dim=min_dim, max_dim=max_dim,
                     options=options, progress=progress, workers=workers, executor=executor, backend=backend,
                     tail_only=tail_only)
    )
    return ModelReport(source=_describe(source), layers=layers)


def _describe(source: Any) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    return type(source).__name__
