"""Analyze a model into the results store: reuse a finished run, resume a killed one, or start one.

A model file is identified by its content hash (:func:`netspectra.io.content_hash`) and a run by that
hash, the spec's :meth:`~netspectra.AnalysisSpec.identity`, the algorithm version
(:data:`~netspectra.version.ALGORITHM_VERSION`) and the layout fingerprint (the layer columns):

* a ``complete`` run with the same identity whose seals verify (:mod:`netspectra.store.seal`) is returned
  from the store, nothing is recomputed;
* with ``resume=True``, the latest ``running`` run with the same identity (a process that was killed
  or interrupted) is continued: the stored layers that carry their seal are kept, the others (forged,
  edited) are dropped, and the missing ones are analyzed;
* otherwise a new run is started.  Each layer is committed as soon as it is analyzed.

A stored run of the same content and options that is not served (another algorithm version, other
columns, a malformed or unsealed run) is left in the store, and :attr:`StoredAnalysis.reason` says why
it was not used.

Layers can be analyzed by any executor (a process pool, a Dask cluster): results come back in model
order and are committed by this process, the store's only writer, as they arrive.

A live ``torch.nn.Module`` has no content hash: every call starts a new run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Unpack

from netspectra.diagnose.model import ModelReport
from netspectra.io import WeightMatrix, content_hash, open_source
from netspectra.pipeline import ProgressCallback, Source, analyze_weights, list_weights, run_cost
from netspectra.scale.executor import Executor
from netspectra.spec import AnalysisSpec, SpecKeywords
from netspectra.store.db import ModelInfo, RunInfo, Store, StoreError, UntrustedRun
from netspectra.version import ALGORITHM_VERSION

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
    reason : str
        Why a stored run of this model and options was not served, or stored layers were recomputed
        (another algorithm version, a failed integrity check); empty otherwise.
    """

    run_id: int
    report: ModelReport
    status: str
    num_computed: int
    reason: str = ""

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
    skipped: dict[str, str] = {}
    start = time.perf_counter()
    with open_source(source) as src:
        weights = list_weights(src, spec, on_skip=skipped.setdefault)
        model = ModelInfo(content_hash(src), str(source), src.format) if isinstance(source, (str, os.PathLike)) else None
    with _opened(store) as db:
        reasons: list[str] = []
        if model is not None:
            cached, refused = _cached(db, model, settings)
            if refused:
                reasons.append(refused)
            if cached is not None:  # the same content, maybe first seen under another path: report this one
                run_id, report = cached
                report = replace(report, source=AnalysisSpec.describe(source), skipped=skipped)
                return StoredAnalysis(run_id, report, "cached", 0)
        unfinished = None
        if resume and model is not None:
            try:
                unfinished = db.find_run(model.content_hash, settings, status="running")
            except UntrustedRun as exc:
                reasons.append(_detail(exc, db) + "; started anew")
        if unfinished is None:
            run_id = db.begin_run(AnalysisSpec.describe(source), settings, model=model, step=step, label=label)
            stored: dict[int, str] = {}
        else:
            run_id = unfinished.id
            stored, unsealed = db.sealed_layers(run_id)
            if unsealed:
                db.drop_layers(run_id, unsealed)
                reasons.append(f"{len(unsealed)} stored layer(s) of run {run_id} failed the integrity check: recomputed")
        pending = _pending(weights, stored, db, run_id)
        reports = analyze_weights(pending, spec, executor=executor, workers=workers)
        for done_count, (weight, layer) in enumerate(zip(pending, reports, strict=True), start=len(weights) - len(pending) + 1):
            db.record_layer(run_id, layer)
            if progress is not None:
                progress(done_count, len(weights), weight.name)
        db.finish_run(run_id)
        status = "computed" if unfinished is None else "resumed"
        report = replace(db.load_report(run_id, verify=True), skipped=skipped, cost=run_cost(start))
        return StoredAnalysis(run_id, report, status, len(pending), "; ".join(reasons))


def _cached(db: Store, model: ModelInfo, settings: dict) -> tuple[tuple[int, ModelReport] | None, str]:
    """The latest complete run of this content and settings the store may serve, with its report; or None and
    why the store holds no such run (empty when it holds no run of this content and settings at all)."""
    try:
        done = db.find_run(model.content_hash, settings, status="complete")
        if done is not None:
            return (done.id, db.load_report(done.id, verify=True)), ""
        other = db.find_run(model.content_hash, settings, status="complete", any_version=True)
    except UntrustedRun as exc:
        return None, _detail(exc, db) + "; recomputed"
    return None, "" if other is None else _unusable(other)


def _unusable(run: RunInfo) -> str:
    """Why a complete run of another algorithm version or column layout is not served."""
    if run.algorithm_version != ALGORITHM_VERSION:
        version = f"algorithm version {run.algorithm_version}"
        if run.algorithm_version is None:
            version = "an unknown algorithm version (stored before versions were recorded)"
        return f"run {run.id} was computed by {version}, this netspectra's is {ALGORITHM_VERSION}: recomputed"
    return f"run {run.id} was stored with other layer columns: recomputed"


def _detail(exc: StoreError, db: Store) -> str:
    """The message of a store error without the store's path (said beside it)."""
    return str(exc).removeprefix(f"{db.path}: ")


def _pending(weights: list[WeightMatrix], stored: dict[int, str], store: Store, run_id: int) -> list[WeightMatrix]:
    """The weights of a run not stored yet; a stored layer of another name means another model."""
    for weight in weights:
        if weight.layer_index in stored and stored[weight.layer_index] != weight.name:
            raise StoreError(
                f"{store.path}: run {run_id} has layer {weight.layer_index} = {stored[weight.layer_index]}, "
                f"the model has {weight.name}"
            )
    return [w for w in weights if w.layer_index not in stored]
