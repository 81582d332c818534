"""Analyze a model into the results store: reuse a finished run, resume a killed one, or start one.

A model file is identified by its content hash (:func:`netspectra.io.content_hash`) and a run by that
hash, the spec's :meth:`~netspectra.AnalysisSpec.identity` and the layout fingerprint (netspectra's
version and layer columns):

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Unpack

from netspectra.diagnose.model import ModelReport
from netspectra.io import WeightMatrix, content_hash, open_source
from netspectra.pipeline import ProgressCallback, Source, analyze_weights, list_weights
from netspectra.scale.executor import Executor
from netspectra.spec import AnalysisSpec, SpecKeywords
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

    def __iter__(self) -> Iterator[Any]:
        yield self.run_id
        yield self.report


@contextmanager
def _opened(store: Store | str | Path) -> Iterator[Store]:
    """An open :class:`Store`: the caller's, or one opened from a path and closed on exit."""
    if isinstance(store, Store):
        yield store
        return
    with Store(store) as opened:
        yield opened


def analyze_into_store(
    source: Source,
    store: Store | str | Path,
    spec: AnalysisSpec | None = None,
    *,
    resume: bool = False,
    progress: ProgressCallback | None = None,
    step: int | None = None,
    label: str | None = None,
    workers: int | None = None,
    executor: str | Executor = "local",
    **keywords: Unpack[SpecKeywords],
) -> StoredAnalysis:
    """Analyze ``source`` like :func:`netspectra.analyze`, writing each layer to ``store`` as it is done.

    Parameters
    ----------
    source : path or torch.nn.Module
        Anything :func:`netspectra.analyze` accepts.
    store : Store or path
        An open :class:`Store`, or the path of one (opened and closed here).
    spec : AnalysisSpec, optional
        As in :func:`netspectra.analyze`; its identity is the run's (the executor is not part of it:
        it does not change the rows).  Or the keywords of :meth:`AnalysisSpec.of` (``include=``,
        ``options=``, ``backend=``, ...), not both.
    resume : bool
        Continue the latest unfinished run of the same content and spec instead of starting anew.
    progress : callable, optional
        As in :func:`netspectra.analyze`.
    step, label : optional
        Recorded on a new run, to place it in a training trajectory.
    workers, executor
        As in :func:`netspectra.analyze`; the layers still missing from the run are analyzed by the
        executor and committed here one by one.

    Returns
    -------
    StoredAnalysis
        Run id, the report read back from the store, and whether it was cached, resumed or computed.

    Raises
    ------
    StoreError
        The store cannot be used, or a resumed run's stored layers do not match the model's layers.
    """
    spec = AnalysisSpec.resolve(spec, **keywords)
    settings = spec.identity()
    with open_source(source) as src:
        weights = list_weights(src, spec)
        model = ModelInfo(content_hash(src), str(source), src.format) if isinstance(source, (str, os.PathLike)) else None
    with _opened(store) as db:
        if model is not None:
            done = db.find_run(model.content_hash, settings, status="complete")
            if done is not None:  # the same content, maybe first seen under another path: report this one
                report = replace(db.load_report(done.id), source=AnalysisSpec.describe(source))
                return StoredAnalysis(done.id, report, "cached", 0)
        unfinished = db.find_run(model.content_hash, settings, status="running") if resume and model else None
        if unfinished is None:
            run_id = db.begin_run(AnalysisSpec.describe(source), settings, model=model, step=step, label=label)
            stored: dict[int, str] = {}
        else:
            run_id = unfinished.id
            stored = db.stored_layers(run_id)
        pending = _pending(weights, stored, db, run_id)
        reports = analyze_weights(pending, spec, executor=executor, workers=workers)
        for done_count, (weight, layer) in enumerate(zip(pending, reports, strict=True), start=len(weights) - len(pending) + 1):
            db.record_layer(run_id, layer)
            if progress is not None:
                progress(done_count, len(weights), weight.name)
        db.finish_run(run_id)
        status = "computed" if unfinished is None else "resumed"
        return StoredAnalysis(run_id, db.load_report(run_id), status, len(pending))


def _pending(weights: list[WeightMatrix], stored: dict[int, str], store: Store, run_id: int) -> list[WeightMatrix]:
    """The weights of a run not stored yet; a stored layer of another name means another model."""
    for weight in weights:
        if weight.layer_index in stored and stored[weight.layer_index] != weight.name:
            raise StoreError(
                f"{store.path}: run {run_id} has layer {weight.layer_index} = {stored[weight.layer_index]}, "
                f"the model has {weight.name}"
            )
    return [w for w in weights if w.layer_index not in stored]
