"""Compare two checkpoints of a model layer by layer: metric deltas and the spectrum of W_B - W_A.

Each matched pair is loaded once: both matrices are analyzed from the loaded arrays (one spectrum
each, as :func:`netspectra.analyze` would) and their difference is decomposed once more.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Unpack

import numpy as np

from netspectra.compare.diff import difference_spectrum, storage_epsilon
from netspectra.compare.matching import match_layers
from netspectra.compare.result import ChangeThresholds, ModelComparison, compare_layer
from netspectra.diagnose.row import LayerReport
from netspectra.errors import MatrixError
from netspectra.io import WeightMatrix
from netspectra.pipeline import ProgressCallback, Source, analyze_matrix, check_matrices, list_weights
from netspectra.spec import AnalysisSpec, SpecKeywords


def compare_models(
    a: Source,
    b: Source,
    spec: AnalysisSpec | None = None,
    *,
    thresholds: ChangeThresholds = ChangeThresholds(),
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
    progress : callable, optional
        As in :func:`netspectra.analyze`.

    Returns
    -------
    ModelComparison
        One :class:`LayerComparison` per matched pair (matched by name, else by shape in order) and
        the matrices that have no counterpart.
    """
    spec = AnalysisSpec.resolve(spec, **keywords)
    options = spec.fit
    matching = match_layers(list_weights(a, spec), list_weights(b, spec))
    layers = []
    for done, pair in enumerate(matching.pairs, start=1):
        report_a, stack_a = _analyze_loaded(pair.a, spec)
        report_b, stack_b = _analyze_loaded(pair.b, spec)
        diff = None
        if stack_a is not None and stack_b is not None:
            try:
                diff = difference_spectrum(
                    np.asarray(stack_b, dtype=np.float64) - np.asarray(stack_a, dtype=np.float64),
                    spectral_norm_a=report_a.spectral_norm,
                    frobenius_norm_a=report_a.frobenius_norm,
                    eps=storage_epsilon(pair.a.dtype, pair.b.dtype),
                    min_fit_evals=options.min_fit_evals,
                    min_tail=options.min_tail,
                )
            except MatrixError:  # W_B - W_A overflows where W_A and W_B did not: no difference spectrum
                diff = None
        layers.append(compare_layer(report_a, report_b, diff, pair.matched_by, thresholds))
        if progress is not None:
            progress(done, len(matching.pairs), pair.a.name)
    return ModelComparison(
        source_a=AnalysisSpec.describe(a),
        source_b=AnalysisSpec.describe(b),
        layers=tuple(layers),
        unmatched=matching.unmatched,
        thresholds=thresholds,
        warning=matching.warning,
    )


def _analyze_loaded(weight: WeightMatrix, spec: AnalysisSpec) -> tuple[LayerReport, np.ndarray | None]:
    """The layer row and the loaded (k, N, M) stack (decoded dtype), or None for a matrix without a spectrum."""
    try:
        stack = weight.load(native=True)
        check_matrices(stack)
    except MatrixError:
        return analyze_matrix(weight, spec), None  # reloads only to produce the error row
    loaded = replace(weight, load=lambda native=False: stack if native else np.asarray(stack, dtype=np.float64))
    return analyze_matrix(loaded, spec), stack
