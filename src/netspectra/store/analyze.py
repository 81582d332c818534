"""Analyze a model into the results store: reuse a finished run, resume a killed one, or start one.

A model file is identified by its content hash (:func:`netspectra.io.content_hash`) and a run by that
hash, the analysis options and the layout fingerprint (netspectra's version and layer columns):

* a ``complete`` run with the same identity is returned from the store, nothing is recomputed;
* with ``resume=True``, the latest ``running`` run with the same identity (a process that was killed
  or interrupted) is continued: layers already stored are kept, the others are analyzed;
* otherwise a new run is started.  Each layer is committed as soon as it is analyzed.

Layers can be analyzed by any executor (a process pool, a Dask cluster): results come back in model
order and are committed by this process, the store's only writer, as they arrive.

A live ``torch.nn.Module`` has no content hash: every call starts a new run.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from netspectra.analyze import ProgressCallback, analyze_weights
from netspectra.diagnose.layer import AnalysisOptions
from netspectra.diagnose.model import ModelReport
from netspectra.io import content_hash, iter_weight_matrices, open_source
from netspectra.linalg import SpectrumOptions
from netspectra.scale.executor import Executor
from netspectra.store.db import ModelInfo, Store, StoreError

#: Values of :attr:`StoredAnalysis.status`.
STATUSES = ("cached", "resumed", "computed")


@dataclass(frozen=True)
class StoredAnalysis:
    """Result of :func:`analyze_into_store`; unpacks as ``run_id, report = ...``.

    Attributes
    ----------
    run_id : int
        The run in the store holding the result.
    report : ModelReport
        The run's report, read back from the store (every layer with its eigenvalues).
    status : str
        ``cached`` (a complete run was reused, nothing computed), ``resumed`` (an interrupted run was
        continued) or ``computed`` (a new run).
    num_computed : int
        Layers analyzed by this call (0 when cached).
    """

    run_id: int
    report: ModelReport
    status: str
    num_computed: int

    def __iter__(self):
        yield self.run_id
        yield self.report


def analysis_options(
    include: str | None, exclude: str | None, min_dim: int, max_dim: int | None, options: AnalysisOptions,
    spectrum_options: SpectrumOptions = SpectrumOptions(),
) -> dict[str, Any]:
    """Every setting that changes the rows of a run, as the dict stored in ``runs.options``.

    The eigenvalue backend and ``tail_only`` enter only where they differ from the defaults, so that
    runs stored before they existed keep their identity.
    """
    settings = {"include": include, "exclude": exclude, "min_dim": min_dim, "max_dim": max_dim, **asdict(options)}
    defaults = SpectrumOptions()
    for key in ("backend", "tail_only"):
        if getattr(spectrum_options, key) != getattr(defaults, key):
            settings[key] = getattr(spectrum_options, key)
    return settings


def analyze_into_store(
    source: str | Path | Any,
    store: Store | str | Path,
    *,
    resume: bool = False,
    include: str | None = None,
    exclude: str | None = None,
    min_dim: int = 1,
    max_dim: int | None = None,
    options: AnalysisOptions = AnalysisOptions(),
    progress: ProgressCallback | None = None,
    step: int | None = None,
    label: str | None = None,
    workers: int | None = None,
    executor: str | Executor = "local",
    backend: str = "auto",
    tail_only: int | None = None,
) -> StoredAnalysis:
    """Analyze ``source`` like :func:`netspectra.analyze`, writing each layer to ``store`` as it is done.

    Parameters
    ----------
    source : path or torch.nn.Module
        Anything :func:`netspectra.analyze` accepts.
    store : Store or path
        An open :class:`Store`, or the path of one (opened and closed here).
    resume : bool
        Continue the latest unfinished run of the same content and options instead of starting anew.
    include, exclude, min_dim, max_dim, options, progress
        As in :func:`netspectra.analyze`.
    step, label : optional
        Recorded on a new run, to place it in a training trajectory.
    workers, executor, backend, tail_only
        As in :func:`netspectra.analyze`; the layers still missing from the run are analyzed by the
        executor and committed here one by one.  ``backend`` and ``tail_only`` are part of the run's
        identity, the executor is not (it does not change the rows).

    Returns
    -------
    StoredAnalysis
        Run id, the report read back from the store, and whether it was cached, resumed or computed.

    Raises
    ------
    StoreError
        The store cannot be used, or a resumed run's stored layers do not match the model's layers.
    """
    if not isinstance(store, Store):
        with Store(store) as opened:
            return analyze_into_store(
                source, opened, resume=resume, include=include, exclude=exclude, min_dim=min_dim,
                max_dim=max_dim, options=options, progress=progress, step=step, label=label,
                workers=workers, executor=executor, backend=backend, tail_only=tail_only,
            )
    spectrum_options = SpectrumOptions(backend=backend, tail_only=tail_only)
    settings = analysis_options(include, exclude, min_dim, max_dim, options, spectrum_options)
    with open_source(source) as src:
        weights = list(iter_weight_matrices(src, include=include, exclude=exclude, min_dim=min_dim, max_dim=max_dim))
        model = None
        if isinstance(source, (str, os.PathLike)):
            model = ModelInfo(content_hash(src), str(source), src.format)
    if model is not None:
        done = store.find_run(model.content_hash, settings, status="complete")
        if done is not None:  # the same content, maybe first seen under another path: report this one
            report = replace(store.load_report(done.id), source=_describe(source))
            return StoredAnalysis(done.id, report, "cached", 0)
    unfinished = store.find_run(model.content_hash, settings, status="running") if resume and model else None
    if unfinished is None:
        run_id = store.begin_run(_describe(source), settings, model=model, step=step, label=label)
        stored: dict[int, str] = {}
    else:
        run_id = unfinished.id
        stored = store.stored_layers(run_id)
    for weight in weights:
        if weight.layer_index in stored and stored[weight.layer_index] != weight.name:
            raise StoreError(
                f"{store.path}: run {run_id} has layer {weight.layer_index} = {stored[weight.layer_index]}, "
                f"the model has {weight.name}"
            )
    pending = [w for w in weights if w.layer_index not in stored]
    reports = analyze_weights(pending, options=options, spectrum_options=spectrum_options, executor=executor, workers=workers)
    for done_count, (weight, layer) in enumerate(zip(pending, reports), start=len(weights) - len(pending) + 1):
        store.record_layer(run_id, layer)
        if progress is not None:
            progress(done_count, len(weights), weight.name)
    computed = len(pending)
    store.finish_run(run_id)
    status = "computed" if unfinished is None else "resumed"
    return StoredAnalysis(run_id, store.load_report(run_id), status, computed)


def _describe(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return f"module:{type(source).__name__}"
