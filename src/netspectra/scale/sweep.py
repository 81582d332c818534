"""Sweeps: many models analyzed as one stream of layers on one executor, one ModelReport per model."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from netspectra.analyze import ProgressCallback, analyze_weights
from netspectra.diagnose.layer import AnalysisOptions
from netspectra.diagnose.model import ModelReport
from netspectra.io import iter_weight_matrices
from netspectra.linalg import SpectrumOptions
from netspectra.scale.executor import Executor


def analyze_many(
    sources: Sequence[str | Path | Any],
    *,
    executor: str | Executor = "local",
    workers: int | None = None,
    include: str | None = None,
    exclude: str | None = None,
    min_dim: int = 1,
    max_dim: int | None = None,
    options: AnalysisOptions = AnalysisOptions(),
    spectrum_options: SpectrumOptions = SpectrumOptions(),
    progress: ProgressCallback | None = None,
) -> list[ModelReport]:
    """Analyze several models; their layers form one task stream, so no worker idles between models.

    Parameters
    ----------
    sources : sequence of paths (or modules)
        Anything :func:`netspectra.analyze` accepts.  On a remote Dask cluster, paths must be visible to
        every worker.
    executor : {"local", "process", "dask"} or Executor
        Where the layers run; an :class:`~netspectra.scale.Executor` object (e.g. a
        :class:`~netspectra.scale.DaskExecutor` connected to a scheduler) is used as it is, not closed.
    workers : int, optional
        Processes of a ``process`` or local ``dask`` executor.
    include, exclude, min_dim, max_dim, options, progress
        As in :func:`netspectra.analyze` (``progress`` counts layers over all models).
    spectrum_options : SpectrumOptions
        Backend and ``tail_only``.

    Returns
    -------
    list of ModelReport
        One per source, in order, each identical to ``netspectra.analyze(source, ...)``.
    """
    weights = []
    owner = []
    for index, source in enumerate(sources):
        found = list(iter_weight_matrices(source, include=include, exclude=exclude, min_dim=min_dim, max_dim=max_dim))
        weights.extend(found)
        owner.extend([index] * len(found))
    layers: list[list] = [[] for _ in sources]
    reports = analyze_weights(weights, options=options, spectrum_options=spectrum_options, executor=executor, workers=workers)
    for done, (index, report) in enumerate(zip(owner, reports), start=1):
        layers[index].append(report)
        if progress is not None:
            progress(done, len(weights), report.name)
    return [ModelReport(source=_describe(s), layers=tuple(rows)) for s, rows in zip(sources, layers)]


def _describe(source: Any) -> str:
    """The ``source`` string :func:`netspectra.analyze` records: the path, or the object's type name."""
    return os.fspath(source) if isinstance(source, (str, os.PathLike)) else type(source).__name__
