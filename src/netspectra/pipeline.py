"""The analysis pipeline: (source, spec, executor) -> weight matrices -> spectra -> LayerReports -> ModelReport.

This module is the only one that turns sources into reports: :func:`analyze`, :func:`iter_analyze` and
:func:`analyze_many` (exported as ``netspectra.analyze`` ...), the results store
(:mod:`netspectra.store.analyze`) and every action (:mod:`netspectra.actions`) go through
:func:`list_weights`, :func:`analyze_matrix` and :func:`run_layers`, where layers meet an executor.

Matrices are loaded one at a time, so peak memory is bounded by the largest matrix, not the model.
A matrix that cannot be analyzed (NaN/Inf, all zero, 1 x N, unreadable dtype) gets a row with
``status="error"`` and the reason; it does not stop the model.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, replace
from functools import partial
from typing import Any, TypedDict, TypeVar, Unpack

import numpy as np

from netspectra.diagnose.description import MatrixShape, ModelDescription
from netspectra.diagnose.layer import analyze_spectrum, failed_layer
from netspectra.diagnose.model import ModelReport, RunCost
from netspectra.diagnose.quantization import with_quantization_noise
from netspectra.diagnose.row import LayerReport, PlacementColumns
from netspectra.diagnose.tail import analyze_tail
from netspectra.errors import MatrixError, UsageError
from netspectra.io import WeightMatrix, orient, select_weight_matrices
from netspectra.io.selection import LayerSelection
from netspectra.linalg import compute_spectrum
from netspectra.linalg.spectrum import check_representable
from netspectra.scale.blas_threads import one_blas_thread
from netspectra.scale.executor import Executor, executor_scope, shapes_of
from netspectra.scale.thread_pool import PREFETCH
from netspectra.scale.workers import Shape, available_memory, peak_rss_bytes, stack_peak_bytes
from netspectra.spec import AnalysisSpec, SpecKeywords

#: sqrt of the smallest normal float64: below it, squared entries underflow.
_SMALLEST_ENTRY = float(np.sqrt(np.finfo(np.float64).tiny))

#: Called after each layer (or pair, checkpoint, tensor) with (number done, total, name): the one progress
#: type of every action.
ProgressCallback = Callable[[int, int, str], None]


class RunKeywords(TypedDict, total=False):
    """Where and how an action runs its layers: the keywords every action takes, as :func:`analyze` documents
    them (``executor``, ``workers``, ``progress``)."""

    executor: str | Executor | None
    workers: int | None
    progress: ProgressCallback | None


T = TypeVar("T")
R = TypeVar("R")

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
    placement = PlacementColumns(**asdict(weight.placement))
    try:
        plan_memory(weight)
        stack = weight.load(native=True)  # float32 for F32/F16/BF16/F8: the Gram is accumulated in float64
        check_matrices(stack)
    except MatrixError as exc:
        failed = failed_layer(
            weight.name,
            weight.layer_index,
            weight.kind,
            weight.matrix_shape,
            weight.num_matrices,
            weight.dtype,
            str(exc),
        )
        return replace(failed, placement=placement)
    where = dict(name=weight.name, layer_index=weight.layer_index, kind=weight.kind, dtype=weight.dtype, options=spec.fit)
    if spec.spectrum.tail_only is not None:
        report = analyze_tail(stack, spectrum_options=spec.spectrum, **where)  # float64 copies only where needed
    else:
        spectrum = compute_spectrum(stack, spec.spectrum, checked=True)
        with one_blas_thread():  # the fits' many small products: threads would only spin (scale.blas_threads)
            report = analyze_spectrum(spectrum, stack=stack, positions=weight.positions, **where)
    report = replace(report, placement=placement)
    if weight.noise is not None:
        report = with_quantization_noise(report, quantization_noise(weight))
    return report.with_warnings(*weight.notes) if weight.notes else report


def quantization_noise(weight: WeightMatrix) -> float:
    """The weight's ``sigma2_quant`` (:attr:`~netspectra.io.WeightMatrix.noise`), NaN when its blocks cannot be read."""
    try:
        return float(weight.noise())
    except MatrixError:
        return float("nan")


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


def list_weights(
    source: Source, spec: AnalysisSpec = AnalysisSpec(), on_skip: Callable[[str, str], None] | None = None
) -> list[WeightMatrix]:
    """The weight matrices of ``source`` that ``spec.selection`` keeps, in model order (nothing loaded); each
    tensor left out is told to ``on_skip(name, reason)``.

    Raises
    ------
    UsageError
        ``spec.selection`` keeps none of the matrices the model has (a pattern that matches nothing):
        naming the selection and the first names there are.
    """
    weights = list(select_weight_matrices(source, spec.selection, on_skip=on_skip))
    if not weights and spec.selection != LayerSelection():
        require_selected(spec.selection, [w.name for w in select_weight_matrices(source)], AnalysisSpec.describe(source))
    return weights


def describe(source: Source, spec: AnalysisSpec | None = None, **keywords: Unpack[SpecKeywords]) -> ModelDescription:
    """The weight matrices of ``source`` that ``spec.selection`` keeps, with their shapes, kinds and eigenvalue
    counts, read from the headers alone: nothing is loaded or decomposed (WeightWatcher's ``describe()``).
    ``spec`` or its keywords as in :func:`analyze` (only the selection matters)."""
    spec = AnalysisSpec.resolve(spec, **keywords)
    skipped: dict[str, str] = {}
    weights = list_weights(source, spec, on_skip=skipped.setdefault)
    return ModelDescription(AnalysisSpec.describe(source), tuple(MatrixShape.of(w) for w in weights), skipped)


def require_selected(selection: LayerSelection, available: Sequence[str], label: str) -> None:
    """Raise :class:`UsageError` for a ``selection`` that kept nothing although ``available`` matrices exist."""
    if available:
        shown = ", ".join(available[:3])
        more = f" and {len(available) - 3} more" if len(available) > 3 else ""
        raise UsageError(f"{label}: {selection.describe()} selects none of its {len(available)} weight matrices ({shown}{more})")


def run_layers(
    task: Callable[[T], R],
    items: Sequence[T],
    *,
    shapes: Sequence[Shape],
    names: Sequence[str],
    executor: str | Executor | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    results_hold_matrices: bool = False,
) -> Iterator[R]:
    """Yield ``task(item)`` for each item, in order, run by ``executor``; the one place where layers meet
    an executor, for every action (analyze, compare, compress, merge-check, merge).

    Parameters
    ----------
    task : callable
        The work of one layer (picklable, with its items, for the process and Dask executors).
    items : sequence
        One per layer (a :class:`~netspectra.io.WeightMatrix`, a matched pair, ...).
    shapes : sequence of (k, N, M)
        The matrices each item loads: an executor made by name here is sized by them
        (:func:`~netspectra.scale.workers.local_threads`, :func:`~netspectra.scale.workers.default_workers`).
    names : sequence of str
        What ``progress`` is told after each item.
    executor, workers : optional
        As in :func:`analyze`; one made by name is closed when the generator ends.
    progress : callable, optional
        Called as ``progress(done, total, name)`` after each item.
    A consumer runs the generator to its end (:func:`drain` after taking what it needs item by item): a
    generator left at its last ``yield`` closes the executor in its finalizer, where a Ctrl-C during the
    workers' shutdown is printed as "Exception ignored" and lost, and the output is written after all.

    results_hold_matrices : bool
        Each result holds a matrix (compress's factors, a merged tensor), not a row: threads then take one
        item each ahead of the one awaited instead of :data:`~netspectra.scale.thread_pool.PREFETCH`, so
        that memory stays bounded by a few layers, not by the model.
    """
    prefetch = 1 if results_hold_matrices else PREFETCH
    with executor_scope(executor, workers=workers, shapes=shapes, prefetch=prefetch) as run:
        for done, (name, result) in enumerate(zip(names, run.map(task, items), strict=True), start=1):
            if progress is not None:
                progress(done, len(items), name)
            yield result


def drain(results: Iterator[object]) -> None:
    """Run a generator of :func:`run_layers` to its end once every item's result has been taken (its
    executor then closes here, not in a finalizer).

    Raises
    ------
    RuntimeError
        If it still had a result: more results than items taken.
    """
    for _ in results:
        raise RuntimeError("an executor yielded more results than were taken")


def analyze_weights(
    weights: Sequence[WeightMatrix],
    spec: AnalysisSpec = AnalysisSpec(),
    *,
    executor: str | Executor | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> Iterator[LayerReport]:
    """Yield :func:`analyze_matrix` of each weight matrix, in order, run by ``executor`` (:func:`run_layers`)."""
    task = partial(analyze_matrix, spec=spec)
    names = [w.name for w in weights]
    return run_layers(
        task, weights, shapes=shapes_of(weights), names=names, executor=executor, workers=workers, progress=progress
    )


def iter_analyze(
    source: Source,
    spec: AnalysisSpec | None = None,
    *,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
    executor: str | Executor | None = None,
    **keywords: Unpack[SpecKeywords],
) -> Iterator[LayerReport]:
    """Yield one :class:`LayerReport` per weight matrix of ``source``, in model order (see :func:`analyze`)."""
    spec = AnalysisSpec.resolve(spec, **keywords)
    yield from analyze_weights(list_weights(source, spec), spec, executor=executor, workers=workers, progress=progress)


def analyze(
    source: Source,
    spec: AnalysisSpec | None = None,
    *,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
    executor: str | Executor | None = None,
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
    executor : {"local", "process", "dask"} or Executor, optional
        ``local`` (default, also None): this process, small layers side by side in threads; ``process``: a pool of worker
        processes; ``dask``: a local Dask cluster, or pass a :class:`netspectra.scale.DaskExecutor`
        connected to a scheduler.  Rows come back in model order whichever runs them.
    **keywords
        The spec as keywords instead (:class:`~netspectra.spec.SpecKeywords`): ``include``, ``exclude``
        (regular expressions on tensor names), ``min_dim``, ``max_dim``, ``options`` (fit settings),
        ``backend`` and ``tail_only`` (top-K tail fits; bulk metrics then NaN).

    Returns
    -------
    ModelReport
        ``.layers`` (one :class:`LayerReport` per matrix, in model order), ``.summary`` (with the rollups by
        role and block, and the wall time and peak memory of this call: ``.cost``), ``.to_frame()``, and
        ``.skipped``: the tensors without a row (biases, norms, depthwise convs, those the selection leaves
        out), each with why.
    """
    start = time.perf_counter()
    spec = AnalysisSpec.resolve(spec, **keywords)
    skipped: dict[str, str] = {}
    weights = list_weights(source, spec, on_skip=skipped.setdefault)
    layers = tuple(analyze_weights(weights, spec, executor=executor, workers=workers, progress=progress))
    return ModelReport(source=AnalysisSpec.describe(source), layers=layers, skipped=skipped, cost=run_cost(start))


def run_cost(start: float) -> RunCost:
    """The :class:`RunCost` of an analysis that began at ``time.perf_counter()`` = ``start``: its wall time
    until now and the peak resident memory (:func:`~netspectra.scale.workers.peak_rss_bytes`)."""
    peak = peak_rss_bytes()
    return RunCost(time.perf_counter() - start, math.nan if peak is None else float(peak))


def analyze_many(
    sources: Sequence[Source],
    spec: AnalysisSpec | None = None,
    *,
    executor: str | Executor | None = None,
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
    skipped: list[dict[str, str]] = [{} for _ in sources]
    for index, source in enumerate(sources):
        found = list_weights(source, spec, on_skip=skipped[index].setdefault)
        weights.extend(found)
        owner.extend([index] * len(found))
    layers: list[list[LayerReport]] = [[] for _ in sources]
    reports = analyze_weights(weights, spec, executor=executor, workers=workers, progress=progress)
    for index, report in zip(owner, reports, strict=True):
        layers[index].append(report)
    return [
        ModelReport(source=AnalysisSpec.describe(s), layers=tuple(rows), skipped=skips)
        for s, rows, skips in zip(sources, layers, skipped)
    ]
