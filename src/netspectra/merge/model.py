"""Whole models: the compatibility report and the streaming merge into a safetensors directory.

Memory: one tensor of each model at a time (plus its float64 copy, the task vectors and, for STAR/TSV,
their SVDs), whatever the model size; merge-check runs its layers through the executor of every action
(:func:`netspectra.pipeline.run_layers`): one tensor of each model per task in flight.

Output: one shard per weight file of the reference model (the base, else the first model),
``model.safetensors.index.json``, the reference's ``config.json`` if it has one, and
``netspectra_merge.json`` (the configuration and the per-tensor log), all written atomically.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Unpack

import numpy as np

from netspectra.denoise.encoding import COMPRESSIBLE_DTYPES
from netspectra.denoise.writer import SafetensorsWriter
from netspectra.diagnose.options import AnalysisOptions
from netspectra.errors import UsageError
from netspectra.io import ModelSource, TensorRecord, dtypes
from netspectra.io.base import config_file
from netspectra.io.quantized import holds_quantized_tensors
from netspectra.merge.compat import DEFAULT_THRESHOLDS, Thresholds, is_matrix, layer_compatibility
from netspectra.merge.config import LayerPlan, MergeConfig, Planner, load_config
from netspectra.merge.inputs import MergeError, ModelSet, open_models
from netspectra.merge.layer import merge_layer
from netspectra.merge.output import OutputDir, check_output_dir
from netspectra.merge.registry import get_method
from netspectra.merge.results import CompatibilityReport, LayerCompatibility, LayerMerge, MergeResult
from netspectra.merge.rules import LayerOutcome
from netspectra.pipeline import ProgressCallback, drain, require_selected, run_layers
from netspectra.scale.executor import Executor
from netspectra.spec import AnalysisSpec, SpecKeywords

#: The per-tensor log written into the output directory.
LOG_NAME = "netspectra_merge.json"
INDEX_NAME = "model.safetensors.index.json"


def check_compatibility(
    models: Sequence[str | os.PathLike],
    spec: AnalysisSpec | None = None,
    *,
    base: str | os.PathLike | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    executor: str | Executor | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    **keywords: Unpack[SpecKeywords],
) -> CompatibilityReport:
    """Spectral compatibility of two or more models, layer by layer (no output written).

    Parameters
    ----------
    models : sequence of paths
        Two or more models with the same tensor names, shapes and dtypes.
    spec : AnalysisSpec, optional
        Which matrices are compared (``spec.selection``: include/exclude patterns, dimension bounds) and
        the fit options of the rows the spectral criteria read; or its keywords, as in
        :func:`netspectra.analyze`.
    base : path, optional
        Their common base: gives the task vectors M_i - B and so the interference criterion.
    thresholds : Thresholds
        Limits of the criteria (:class:`~netspectra.merge.compat.Thresholds`).
    executor, workers : optional
        Where the layers run, as in :func:`netspectra.analyze` (one task per tensor: its matrices in
        every model loaded, analyzed and, with a base, their task vectors decomposed).
    progress : callable, optional
        Called as ``progress(done, total, name)`` after each compared tensor.

    Returns
    -------
    CompatibilityReport
        One row per selected 2-D floating-point tensor; other tensors are counted in ``num_other``.

    Raises
    ------
    MergeError
        A tensor missing from a model, of another shape or dtype, or holding NaN/Inf.
    SourceError
        A model cannot be read.
    """
    spec = AnalysisSpec.resolve(spec, **keywords)
    chosen = spec.selection
    if chosen.layers is not None or chosen.kinds is not None or not chosen.pool:
        raise UsageError("merge compatibility selects matrices by name and dimension: layers, kinds and pool=False do not apply")
    with open_models(models, base) as ms:
        tasks = [_task(ms, name) for name in ms.names]
        matrices = [t for t in tasks if t is not None]
        compared = [t for t in matrices if spec.selection.rejects((t.name,), t.oriented) is None]
        if not compared:
            require_selected(spec.selection, [t.name for t in matrices], ms.labels[-1])
        layers = run_layers(
            partial(_layer_compatibility, thresholds=thresholds, fit=spec.fit),
            compared,
            shapes=[(1, *t.oriented) for t in compared],
            names=[t.name for t in compared],
            executor=executor,
            workers=workers,
            progress=progress,
        )
        rows = tuple(layers)
        labels = ms.labels[ms.has_base :]
    return CompatibilityReport(
        models=tuple(labels),
        base=os.fspath(base) if base is not None else None,
        layers=rows,
        num_other=len(tasks) - len(rows),
        thresholds=thresholds.to_dict(),
    )


@dataclass(frozen=True)
class _LayerTask:
    """One 2-D floating-point tensor of every model (the base first when there is one), not loaded yet."""

    name: str
    labels: tuple[str, ...]
    records: tuple[TensorRecord, ...]
    has_base: bool

    @property
    def oriented(self) -> tuple[int, int]:
        rows, cols = self.records[0].shape
        return (rows, cols) if rows >= cols else (cols, rows)


def _task(ms: ModelSet, name: str) -> _LayerTask | None:
    """The task of tensor ``name``, or None for a tensor that is not a floating-point matrix."""
    ref = ms.records[0][name]
    if not (is_matrix(ref.shape) and ref.dtype in COMPRESSIBLE_DTYPES):
        return None
    return _LayerTask(name, ms.labels, tuple(r[name] for r in ms.records), ms.has_base)


def _layer_compatibility(task: _LayerTask, thresholds: Thresholds, fit: AnalysisOptions) -> LayerCompatibility:
    arrays = [_load(record, label) for record, label in zip(task.records, task.labels)]
    base = arrays.pop(0) if task.has_base else None
    return layer_compatibility(task.name, arrays, base, None, thresholds, fit)


def merge_models(
    config: MergeConfig | dict[str, Any] | str | os.PathLike,
    output: str | os.PathLike,
    *,
    executor: str | Executor | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> MergeResult:
    """Merge models tensor by tensor into the directory ``output`` (atomically).

    Parameters
    ----------
    config : MergeConfig, dict or path
        The configuration (:mod:`netspectra.merge.config`): a :class:`MergeConfig`, a dict of the YAML
        schema (relative paths taken from the current directory) or the path of a YAML/JSON file.
    output : path
        Directory to create; it must not exist, or be an empty directory.
    executor, workers : optional
        Where the floating-point tensors are merged, as in :func:`netspectra.analyze` (one task per tensor:
        its tensors in every model loaded and merged; the files are written in order here).
    progress : callable, optional
        Called as ``progress(done, total, name)`` after each tensor.

    Returns
    -------
    MergeResult
        The rule applied to every tensor, and why.

    Raises
    ------
    MergeError
        A tensor missing from a model, of another shape or dtype, holding NaN/Inf, or a non-float tensor
        whose values differ between models.
    UsageError
        An invalid configuration (read from a file: also a model path in it that does not exist) or
        output directory.
    SourceError
        A model cannot be read.
    """
    if isinstance(config, dict):
        config = MergeConfig.from_dict(config)
    elif not isinstance(config, MergeConfig):
        config = load_config(config, check_paths=True)
    layers: list[LayerMerge] = []
    weight_map: dict[str, str] = {}
    total_size = 0
    with open_models([m.path for m in config.models], config.base_model) as ms:
        quantized = [label for label, src in zip(ms.labels, ms.sources) if holds_quantized_tensors(src)]
        if quantized:
            raise UsageError(
                f"{quantized[0]}: merge writes safetensors and cannot carry quantized tensors (GGUF, "
                "GPTQ, AWQ, FP8 scales, bitsandbytes); merge the unquantized checkpoints"
            )
        out = check_output_dir(output)
        metadata = _metadata(ms.reference, config)
        config_json = _config_json(ms.reference)  # a link out is refused before any tensor is merged
        planner = config.planner(ms.names)  # every plan made here, in order: the matching budget is one per run
        shards = ms.shards()
        tasks = [_merge_task(ms, name, planner) for _, names in shards for name in names]
        merged = [t for t in tasks if t is not None]
        outcomes = run_layers(
            partial(_merge_one, thresholds=config.thresholds),
            merged,
            shapes=[(len(t.records), *_oriented(t.records[0].shape)) for t in merged],
            names=[t.name for t in merged],
            executor=executor,
            workers=workers,
            results_hold_matrices=True,
        )
        with OutputDir(out) as od:
            for shard, names in shards:
                with od.writer(shard, metadata) as writer:
                    for name in names:
                        layer = _write_tensor(writer, ms, name, shard, outcomes, config.dtype)
                        layers.append(layer)
                        weight_map[name] = shard
                        total_size += math.prod(layer.shape) * dtypes.ITEMSIZE[layer.dtype]
                        if progress is not None:
                            progress(len(layers), len(ms.names), name)
                    writer.commit()
            drain(outcomes)
            od.write_json(INDEX_NAME, {"metadata": {"total_size": total_size}, "weight_map": weight_map})
            if config_json is not None:
                od.copy_file(config_json, "config.json")
            result = MergeResult(
                output=os.fspath(output),
                method=config.method,
                base=config.base_model,
                models=tuple(m.path for m in config.models),
                weights=config.weights,
                layers=tuple(layers),
                files=(*od.files, LOG_NAME),
            )
            od.write_json(LOG_NAME, {"config": config.to_dict(), **result.to_dict()})
            od.commit()
    return result


@dataclass(frozen=True)
class _MergeTask:
    """One floating-point tensor to merge: its records (the base first where the method uses it), the plan
    and the output dtype; merged by :func:`_merge_one`, an executor task."""

    name: str
    labels: tuple[str, ...]
    records: tuple[TensorRecord, ...]
    has_base: bool
    plan: LayerPlan
    dtype: str


def _merge_task(ms: ModelSet, name: str, planner: Planner) -> _MergeTask | None:
    """The task of tensor ``name``, or None for a tensor copied unchanged (not floating point)."""
    base_rec, recs = ms.group(name)
    ref = base_rec or recs[0]
    if ref.dtype not in COMPRESSIBLE_DTYPES:
        return None
    plan = planner.plan(name)
    uses_base = base_rec is not None and get_method(plan.method).base != "unused"
    labels = ms.labels if uses_base else ms.labels[ms.has_base :]
    records = (base_rec, *recs) if uses_base else tuple(recs)
    return _MergeTask(name, labels, records, uses_base, plan, planner.config.dtype or ref.dtype)


def _merge_one(task: _MergeTask, thresholds: Thresholds) -> LayerOutcome:
    arrays = [_load(record, label) for record, label in zip(task.records, task.labels)]
    base = arrays.pop(0) if task.has_base else None
    return merge_layer(task.name, arrays, base, task.plan, thresholds, dtype=task.dtype)


def _write_tensor(
    writer: SafetensorsWriter, ms: ModelSet, name: str, shard: str, outcomes: Iterator[LayerOutcome], dtype: str | None
) -> LayerMerge:
    """Write tensor ``name``: the next merged outcome for a floating-point tensor, in ``dtype`` (None: its
    input dtype), else the tensor unchanged (which must then be equal in every model)."""
    base_rec, recs = ms.group(name)
    ref = base_rec or recs[0]
    shape = tuple(ref.shape)
    if ref.dtype not in COMPRESSIBLE_DTYPES:
        _check_equal(ms, name)
        writer.add_unchanged(ref)
        reason = f"{ref.dtype} tensor, equal in every model"
        return LayerMerge(name, shape, ref.dtype, shard, "copy", reason, "", "", math.nan)
    outcome = next(outcomes)
    dtype = dtype or ref.dtype
    writer.add_array(name, outcome.values, dtype)
    return LayerMerge(
        name, shape, dtype, shard, outcome.rule, outcome.reason, outcome.details, outcome.verdict, outcome.interference
    )


def _oriented(shape: tuple[int, ...]) -> tuple[int, int]:
    """(N, M), N >= M, of a tensor for the executor's sizing (a vector or scalar as 1 x n)."""
    dims = [int(d) for d in shape if d > 1] or [1]
    rows, cols = (dims[0], math.prod(dims[1:])) if len(dims) > 1 else (dims[0], 1)
    return (rows, cols) if rows >= cols else (cols, rows)


def _load(record: TensorRecord, label: str) -> np.ndarray:
    values = record.load_required()
    if not np.all(np.isfinite(values)):
        raise MergeError(f"tensor {record.name!r} of {label} holds NaN or Inf values")
    return values


def _check_equal(ms: ModelSet, name: str) -> None:
    """A tensor that is not merged (integer, bool, FP8) must be the same in every model."""
    recs = [r[name] for r in ms.records]
    first = recs[0].load_required()
    for label, rec in zip(ms.labels[1:], recs[1:]):
        if not np.array_equal(first, rec.load_required(), equal_nan=True):
            raise MergeError(
                f"tensor {name!r} ({rec.dtype}) differs between {ms.labels[0]} and {label}; "
                f"only {'/'.join(COMPRESSIBLE_DTYPES)} tensors are merged, others must be equal"
            )


def _metadata(src: ModelSource, config: MergeConfig) -> dict[str, str]:
    """The reference's safetensors metadata (``format: pt`` if none), plus the merge method."""
    inner = getattr(src, "inner", src)
    metadata = dict(getattr(inner, "metadata", None) or {})
    metadata.setdefault("format", "pt")
    metadata["netspectra"] = json.dumps({"merge": config.method, "models": len(config.models)})
    return metadata


def _config_json(src: ModelSource) -> Path | None:
    """The reference model's config.json, resolved inside its folder (a link out is refused, not copied)."""
    if src.path is None:
        return None
    return config_file(src.path if src.path.is_dir() else src.path.parent)
