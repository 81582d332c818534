"""Compare two checkpoints of a model layer by layer: metric deltas and the spectrum of W_B - W_A.

Each matched pair is one task of the executor, loaded once: both matrices are analyzed from the loaded
arrays (one spectrum each, as :func:`netspectra.analyze` would) and their difference is decomposed once
more, its Gram matrix accumulated from blocks of rows of the two (never a float64 copy of W_B - W_A).  Peak
memory is that of the pairs in flight (one per worker or thread: the two decoded matrices), not the models.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Unpack

import numpy as np

from netspectra.compare.cka import weight_cka
from netspectra.compare.diff import difference_spectrum, storage_epsilon
from netspectra.compare.matching import LayerMatch, Unmatched, match_layers
from netspectra.compare.result import ChangeThresholds, LayerComparison, ModelComparison, compare_layer
from netspectra.diagnose.row import LayerReport
from netspectra.errors import MatrixError
from netspectra.io import WeightMatrix
from netspectra.pipeline import ProgressCallback, Source, analyze_matrix, check_matrices, list_weights, run_layers
from netspectra.scale.executor import Executor
from netspectra.spec import AnalysisSpec, SpecKeywords

if TYPE_CHECKING:
    from netspectra.diagnose.model import ModelReport


def compare_models(
    a: Source,
    b: Source,
    spec: AnalysisSpec | None = None,
    *,
    thresholds: ChangeThresholds = ChangeThresholds(),
    executor: str | Executor | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    **keywords: Unpack[SpecKeywords],
) -> ModelComparison:
    """Compare checkpoint ``b`` against ``a`` (deltas are B - A).

    Parameters
    ----------
    a, b : path or torch.nn.Module
        Anything :func:`netspectra.analyze` accepts.
    spec : AnalysisSpec, optional
        As in :func:`netspectra.analyze` (applied to both models), or its keywords (``include=``,
        ``options=``, ...), not both.
    thresholds : ChangeThresholds
        Flag rules (:mod:`netspectra.compare.result`).
    executor, workers : optional
        Where the pairs run, as in :func:`netspectra.analyze` (each pair is one task: both matrices
        loaded, analyzed and their difference decomposed); rows come back in A's order.
    progress : callable, optional
        Called as ``progress(done, total, name)`` after each pair.

    Returns
    -------
    ModelComparison
        One :class:`LayerComparison` per matched pair (matched by name, else by shape in order) and
        the matrices that have no counterpart.
    """
    spec = AnalysisSpec.resolve(spec, **keywords)
    matching = match_layers(list_weights(a, spec), list_weights(b, spec))
    pairs = matching.pairs
    layers = run_layers(
        partial(compare_pair, spec=spec, thresholds=thresholds),
        pairs,
        shapes=[(p.a.num_matrices, *p.a.matrix_shape) for p in pairs],
        names=[p.a.name for p in pairs],
        executor=executor,
        workers=workers,
        progress=progress,
    )
    return ModelComparison(
        source_a=AnalysisSpec.describe(a),
        source_b=AnalysisSpec.describe(b),
        layers=tuple(layers),
        unmatched=matching.unmatched,
        thresholds=thresholds,
        warning=matching.warning,
    )


def compare_pair(pair: LayerMatch, spec: AnalysisSpec, thresholds: ChangeThresholds) -> LayerComparison:
    """One matched pair: both rows (one spectrum each, as :func:`netspectra.analyze` computes them) and the
    spectrum of W_B - W_A, each matrix loaded once."""
    report_a, stack_a = _analyze_loaded(pair.a, spec)
    report_b, stack_b = _analyze_loaded(pair.b, spec)
    diff = None
    if stack_a is not None and stack_b is not None:
        try:
            diff = difference_spectrum(
                stack_b,
                stack_a,
                spectral_norm_a=report_a.spectral_norm,
                frobenius_norm_a=report_a.frobenius_norm,
                eps=storage_epsilon(pair.a.dtype, pair.b.dtype),
                min_fit_evals=spec.fit.min_fit_evals,
                min_tail=spec.fit.min_tail,
            )
        except MatrixError:  # W_B - W_A overflows where W_A and W_B did not: no difference spectrum
            diff = None
    cka = math.nan
    if stack_a is not None and stack_b is not None and stack_a.shape == stack_b.shape:
        spectrum_a, spectrum_b = _full_spectrum(report_a), _full_spectrum(report_b)
        known = (spectrum_a, spectrum_b) if spectrum_a is not None and spectrum_b is not None else None
        cka = weight_cka(stack_a, stack_b, rows_are_n=pair.a.shape[0] >= pair.a.shape[1], spectra=known)
    return compare_layer(report_a, report_b, diff, pair.matched_by, thresholds, cka=cka)


def _full_spectrum(report: LayerReport) -> np.ndarray | None:
    """The row's M eigenvalues of a single matrix; None for a stack or a partial spectrum (a tail-only window)."""
    evals = report.eigenvalues
    return evals if report.num_matrices == 1 and evals is not None and evals.size == report.M else None


def _analyze_loaded(weight: WeightMatrix, spec: AnalysisSpec) -> tuple[LayerReport, np.ndarray | None]:
    """The layer row and the loaded (k, N, M) stack (decoded dtype), or None for a matrix without a spectrum."""
    try:
        stack = weight.load(native=True)
        check_matrices(stack)
    except MatrixError:
        return analyze_matrix(weight, spec), None  # reloads only to produce the error row
    loaded = replace(weight, load=lambda native=False: stack if native else np.asarray(stack, dtype=np.float64))
    return analyze_matrix(loaded, spec), stack


def compare_reports(a: ModelReport, b: ModelReport, thresholds: ChangeThresholds = ChangeThresholds()) -> ModelComparison:
    """Compare two analyses of which only the rows are known (two runs of the results store, ``netspectra
    report RUN_A RUN_B``): the layers paired by name, their deltas and flags (:func:`compare_layer`) without
    the spectrum of W_B - W_A (no weights are read: its columns are NaN), and the names on one side only."""
    in_b = {layer.name: layer for layer in b.layers}
    in_a = {layer.name for layer in a.layers}
    pairs = [compare_layer(layer, in_b[layer.name], None, "name", thresholds) for layer in a.layers if layer.name in in_b]
    unmatched = [Unmatched("a", layer.name, "not in B") for layer in a.layers if layer.name not in in_b]
    unmatched += [Unmatched("b", layer.name, "not in A") for layer in b.layers if layer.name not in in_a]
    return ModelComparison(a.source, b.source, tuple(pairs), tuple(unmatched), thresholds)
