"""The analysis pipeline: (source, spec, executor) -> weight matrices -> spectra -> LayerReports -> ModelReport.

This module is the only one that turns sources into reports: :func:`analyze`, :func:`iter_analyze` and
:func:`analyze_many` (exported as ``netspectra.analyze`` ...), the results store
(:mod:`netspectra.store.analyze`), compare and track all go through :func:`list_weights` and
:func:`analyze_weights`, where layers meet an executor.

Matrices are loaded one at a time, so peak memory is bounded by the largest matrix, not the model.
A matrix that cannot be analyzed (NaN/Inf, all zero, 1 x N, unreadable dtype) gets a row with
``status="error"`` and the reason; it does not stop the model.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, Unpack

import numpy as np

from netspectra.diagnose.layer import analyze_spectrum, failed_layer
from netspectra.diagnose.model import ModelReport
from netspectra.diagnose.row import LayerReport
from netspectra.diagnose.tail import analyze_tail
from netspectra.errors import MatrixError
from netspectra.io import WeightMatrix, orient, select_weight_matrices
from netspectra.linalg import compute_spectrum
from netspectra.linalg.spectrum import check_representable
from netspectra.scale.blas_threads import one_blas_thread
from netspectra.scale.executor import Executor, executor_scope, shapes_of
from netspectra.scale.workers import available_memory, stack_peak_bytes
from netspectra.spec import AnalysisSpec, SpecKeywords

#: sqrt of the smallest normal float64: below it, squared entries underflow.
_SMALLEST_ENTRY = float(np.sqrt(np.finfo(np.float64).tiny))

#: Called after each layer with (number done, total, layer name).
ProgressCallback = Callable[[int, int, str], None]

#: A model: a path (file or directory), a live ``torch.nn.Module`` or a :class:`~netspectra.io.ModelSource`.
Source = str | os.PathLike[str] | Any


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


def plan_memory(weight: WeightMatrix) -> None:
    """Refuse, before anything is allocated, a conv stack whose analysis would not fit in the memory
    available now (:func:`~netspectra.scale.workers.stack_peak_bytes`); a 1 KB header can declare 100k positions.

    Raises
    ------
    MatrixError
        Saying how much it would need and how much there is.
    """
    if weight.num_matrices == 1:  # one matrix: the Gram path's memory is the matrix itself (docs/scale.md)
        return
    n, m = weight.matrix_shape
    needed = stack_peak_bytes((weight.num_matrices, n, m))
    available = available_memory()
    if available is not None and needed > available:
        raise MatrixError(
            f"a stack of {weight.num_matrices:,} matrices {n} x {m} needs about {needed / 2**30:.1f} GiB "
            f"to analyze, {available / 2**30:.1f} GiB available"
        )


def analyze_matrix(weight: WeightMatrix, spec: AnalysisSpec = AnalysisSpec()) -> LayerReport:
    """Load one weight matrix, compute its spectrum and every metric; errors become a status row.

    ``spec.spectrum`` picks the eigenvalue backend, and with ``tail_only`` K the top-K analysis of
    :func:`netspectra.diagnose.tail.analyze_tail`; ``spec.fit`` sets the fits.
    """
    try:
        plan_memory(weight)
        stack = weight.load(native=True)  # float32 for F32/F16/BF16/F8: the Gram is accumulated in float64
        check_matrices(stack)
    except MatrixError as exc:
        return failed_layer(
            weight.name,
            weight.layer_index,
            weight.kind,
            weight.matrix_shape,
            weight.num_matrices,
            weight.dtype,
            str(exc),
        )
    where = dict(name=weight.name, layer_index=weight.layer_index, kind=weight.kind, dtype=weight.dtype, options=spec.fit)
    if spec.spectrum.tail_only is not None:
        report = analyze_tail(stack, spectrum_options=spec.spectrum, **where)  # float64 copies only where needed
    else:
        spectrum = compute_spectrum(stack, spec.spectrum, checked=True)
        with one_blas_thread():  # the fits' many small products: threads would only spin (scale.blas_threads)
            report = analyze_spectrum(spectrum, stack=stack, **where)
    return report.with_warnings(*weight.notes) if weight.notes else report


def analyze_array(
    matrix: np.ndarray, spec: AnalysisSpec = AnalysisSpec(), *, name: str = "W", kind: str = "linear"
) -> LayerReport:
    """The row of one in-memory matrix (N x M, or a (k, N, M) stack), analyzed as a layer of a model is.

    >>> netspectra.analyze_array(np.random.default_rng(0).standard_normal((1000, 500))).phase  # doctest: +SKIP
    'random-like'
    """
    array = np.asarray(matrix)
    stack = orient(array if array.ndim == 3 else array[None], None if array.dtype in (np.float32, np.float64) else np.float64)
    weight = WeightMatrix(
        name=name,
        layer_index=0,
        kind=kind,
        shape=tuple(array.shape),
        dtype=str(array.dtype),
        source="array",
        matrix_shape=stack.shape[1:],
        num_matrices=stack.shape[0],
        load=lambda native=False: stack if native else np.asarray(stack, dtype=np.float64),
    )
    return analyze_matrix(weight, spec)


def list_weights(source: Source, spec: AnalysisSpec = AnalysisSpec()) -> list[WeightMatrix]:
    """The weight matrices of ``source`` that ``spec.selection`` keeps, in model order (nothing loaded)."""
    return list(select_weight_matrices(source, spec.selection))


def analyze_weights(
    weights: Sequence[WeightMatrix],
    spec: AnalysisSpec = AnalysisSpec(),
    *,
    executor: str | Executor = "local",
    workers: int | None = None,
) -> Iterator[LayerReport]:
    """Yield :func:`analyze_matrix` of each weight matrix, in order, run by ``executor``.

    The one place where layers meet an executor.  An executor made by name here is sized by the
    shapes of ``weights`` and closed when the generator ends.  Consumers run it to its end
    (``zip(..., strict=True)`` asks for one more item): a generator left at its last ``yield`` would
    close the executor in its finalizer, where a Ctrl-C during the shutdown of the workers is printed as
    "Exception ignored" and lost, and the output is written after all.
    """
    task = partial(analyze_matrix, spec=spec)
    with executor_scope(executor, workers=workers, shapes=shapes_of(weights)) as run:
        yield from run.map(task, weights)


def iter_analyze(
    source: Source,
    spec: AnalysisSpec | None = None,
    *,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
    executor: str | Executor = "local",
    **keywords: Unpack[SpecKeywords],
) -> Iterator[LayerReport]:
    """Yield one :class:`LayerReport` per weight matrix of ``source``, in model order (see :func:`analyze`)."""
    spec = AnalysisSpec.resolve(spec, **keywords)
    weights = list_weights(source, spec)
    reports = analyze_weights(weights, spec, executor=executor, workers=workers)
    for done, (weight, report) in enumerate(zip(weights, reports, strict=True), start=1):
        if progress is not None:
            progress(done, len(weights), weight.name)
        yield report


def analyze(
    source: Source,
    spec: AnalysisSpec | None = None,
    *,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
    executor: str | Executor = "local",
    **keywords: Unpack[SpecKeywords],
) -> ModelReport:
    """Analyze every weight matrix of a model with random matrix theory, using no data.

    Parameters
    ----------
    source : path or torch.nn.Module
        A .safetensors file, a sharded safetensors directory or index, a Hugging Face model directory,
        a PyTorch .pt/.bin state dict (read without running code), an .npz/.npy file, an ONNX file,
        or a live ``torch.nn.Module``.
    spec : AnalysisSpec, optional
        Layer selection, fit and spectrum options; or give them as ``**keywords`` (below), not both.
    progress : callable, optional
        Called as ``progress(done, total, name)`` after each layer.
    workers : int, optional
        Worker processes of the ``process`` or ``dask`` executor (default: the rule of
        :func:`netspectra.scale.default_workers`, or the CPUs for dask).
    executor : {"local", "process", "dask"} or Executor
        ``local`` (default): one layer after the other in this process; ``process``: a pool of worker
        processes; ``dask``: a local Dask cluster, or pass a :class:`netspectra.scale.DaskExecutor`
        connected to a scheduler.  Rows come back in model order whichever runs them.
    **keywords
        The spec as keywords instead (:class:`~netspectra.spec.SpecKeywords`): ``include``, ``exclude``
        (regular expressions on tensor names), ``min_dim``, ``max_dim``, ``options`` (fit settings),
        ``backend`` and ``tail_only`` (top-K tail fits; bulk metrics then NaN).

    Returns
    -------
    ModelReport
        ``.layers`` (one :class:`LayerReport` per matrix), ``.summary`` and ``.to_frame()``.
    """
    layers = tuple(iter_analyze(source, spec, progress=progress, workers=workers, executor=executor, **keywords))
    return ModelReport(source=AnalysisSpec.describe(source), layers=layers)


def analyze_many(
    sources: Sequence[Source],
    spec: AnalysisSpec | None = None,
    *,
    executor: str | Executor = "local",
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    **keywords: Unpack[SpecKeywords],
) -> list[ModelReport]:
    """Analyze several models; their layers form one task stream, so no worker idles between models.

    Parameters
    ----------
    sources : sequence of paths (or modules)
        Anything :func:`analyze` accepts.  On a remote Dask cluster, paths must be visible to every worker.
    spec : AnalysisSpec, optional
        As in :func:`analyze`; or its keywords (:class:`~netspectra.spec.SpecKeywords`), not both.
    executor : {"local", "process", "dask"} or Executor
        Where the layers run; an :class:`~netspectra.scale.Executor` object (e.g. a
        :class:`~netspectra.scale.DaskExecutor` connected to a scheduler) is used as it is, not closed.
    workers : int, optional
        Processes of a ``process`` or local ``dask`` executor.
    progress : callable, optional
        As in :func:`analyze`, counting layers over all models.

    Returns
    -------
    list of ModelReport
        One per source, in order, each identical to ``analyze(source, spec)``.
    """
    spec = AnalysisSpec.resolve(spec, **keywords)
    weights: list[WeightMatrix] = []
    owner: list[int] = []
    for index, source in enumerate(sources):
        found = list_weights(source, spec)
        weights.extend(found)
        owner.extend([index] * len(found))
    layers: list[list[LayerReport]] = [[] for _ in sources]
    reports = analyze_weights(weights, spec, executor=executor, workers=workers)
    for done, (index, report) in enumerate(zip(owner, reports, strict=True), start=1):
        layers[index].append(report)
        if progress is not None:
            progress(done, len(weights), report.name)
    return [ModelReport(source=AnalysisSpec.describe(s), layers=tuple(rows)) for s, rows in zip(sources, layers)]
