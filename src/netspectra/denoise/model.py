"""Compress a whole model: every 2-D weight matrix denoised, everything else copied, one safetensors file.

Which tensors are compressed follows the layer rules of :mod:`netspectra.io.layers`: 2-D matrices of
kind ``linear``, ``embedding`` or ``attention_q/k/v`` stored as F64/F32/F16/BF16.  Conv kernels, 1-D
tensors (biases, norms), fused QKV tensors (their three parts have different noise levels; splitting
and reassembling them is not done here), 3-D expert tensors (one matrix per expert), integer/FP8
tensors, matrices with NaN/Inf and anything the layer rules skip are written unchanged, bit for bit
when the input is a safetensors file, and listed in :attr:`CompressionReport.copied` with the reason.

The compressed model is judged as a whole before anything is written (:mod:`netspectra.denoise.judge`):
run on the probe sentences against the original where it can run, else by the data-free chain bound.

Memory: one matrix per task in flight (its float64 copy, its SVD, its factors and their encoded bytes),
plus what the judge keeps: every matrix's singular values (bound), or, where the model runs, the model
itself and every compressed matrix's SVD and factors (at most
:data:`~netspectra.denoise.probe.MAX_PROBE_PARAMETERS` parameters); the matrices are decomposed by the
executor of every action (:func:`netspectra.pipeline.run_layers`) and written in order here; see
:mod:`netspectra.denoise.writer` for the output side.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, Unpack

import numpy as np

from netspectra.atomic import check_parent
from netspectra.denoise.encoding import COMPRESSIBLE_DTYPES
from netspectra.denoise.factored import factor_names, sidecar, sidecar_path
from netspectra.denoise.judge import CANDIDATES, Judge, make_judge, search
from netspectra.denoise.lowrank import LowRank, OrientedSVD, compress_svd, stored_product
from netspectra.denoise.methods import DEFAULT_MIN_DIM, SHRINK_KINDS, Method
from netspectra.denoise.probe import model_folder, open_probe, parameter_count, probe_obstacle
from netspectra.denoise.results import CompressionReport, CopiedTensor, LayerCompression
from netspectra.denoise.writer import SafetensorsWriter
from netspectra.errors import CompressionRefused, MatrixError, UsageError
from netspectra.io import ModelSource, TensorRecord, WeightMatrix, open_source, select_weight_matrices
from netspectra.io.inputs import input_files
from netspectra.io.quantized import holds_quantized_tensors
from netspectra.pipeline import ProgressCallback, drain, require_selected, run_layers
from netspectra.report.export import write_document
from netspectra.report.overwrite import refuse_inputs
from netspectra.scale.executor import Executor
from netspectra.spec import AnalysisSpec, SpecKeywords

#: Layer kinds whose matrices are compressed.
COMPRESSIBLE_KINDS = ("linear", "embedding", "attention_q", "attention_k", "attention_v")


def compress_model(
    source: str | os.PathLike | Any,
    output: str | os.PathLike,
    spec: AnalysisSpec | None = None,
    *,
    method: Method | str = "gavish-donoho",
    shrink: str = "hard",
    factored: bool = True,
    force: bool = False,
    executor: str | Executor | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    **keywords: Unpack[SpecKeywords],
) -> CompressionReport:
    """Denoise every weight matrix of a model with an RMT threshold and write a safetensors file.

    Parameters
    ----------
    source : path or torch.nn.Module
        Anything :func:`netspectra.io.open_source` opens.
    output : path
        The ``.safetensors`` file to write (atomically); must not be an input file.  With ``factored``,
        the sidecar ``OUT.json`` is written next to it.
    spec : AnalysisSpec, optional
        ``spec.selection`` picks the matrices compressed (the others are copied unchanged); or give its
        keywords (``include=``, ``exclude=``, ``min_dim=``, ``max_dim=``), not both.  Without either,
        ``min_dim`` is :data:`~netspectra.denoise.methods.DEFAULT_MIN_DIM` (32): the noise-level estimates
        need a bulk of noise singular values, and a classifier head with 10 outputs has 10 singular
        values, all of them signal, of which the RMT thresholds keep 0 or 1.
    method : Method or str
        ``mp-edge``, ``gavish-donoho``, ``bema``, ``rank:K`` or ``energy:F``.
    shrink : str
        ``hard`` (keep the selected singular values) or ``frobenius``, ``operator``, ``nuclear``.
    factored : bool
        Store each compressed matrix as ``NAME.A`` @ ``NAME.B`` when that is smaller than the matrix (the
        default: a dense low-rank matrix is no smaller than the original); False writes every matrix dense,
        a drop-in file of the original's names and shapes.
    force : bool
        Write the file even when the compressed model fails its function check
        (:mod:`netspectra.denoise.function`: its outputs on the probe sentences where the model runs, else
        the data-free chain bound) or layers are destroyed (zeroed, or keeping less than
        :data:`~netspectra.denoise.results.MIN_ENERGY_KEPT` of their energy); refused otherwise.
    executor, workers : optional
        Where the matrices are decomposed, as in :func:`netspectra.analyze` (one task per matrix; the
        file is written in order here).
    progress : callable, optional
        Called as ``progress(done, total, name)`` after each compressed matrix.

    Returns
    -------
    CompressionReport

    Raises
    ------
    UsageError
        Bad method or shrinker, output equal to an input file, missing output directory, factor names
        that collide with existing tensors.
    CompressionRefused
        The function check fails or some layers would be destroyed, and ``force`` is False: nothing is
        written; the message names a setting that passes both (tried first), or says none of those tried
        does.
    SourceError
        The model cannot be read.
    """
    method = Method.parse(method) if isinstance(method, str) else method
    if spec is None:
        keywords.setdefault("min_dim", DEFAULT_MIN_DIM)
    spec = AnalysisSpec.resolve(spec, **keywords)
    label = str(source) if isinstance(source, (str, os.PathLike)) else type(source).__name__
    if not spec.selection.pool:
        raise UsageError("compress writes whole tensors: pool=False (a conv kernel slice by slice) does not apply")
    if shrink not in SHRINK_KINDS:
        raise UsageError(f"unknown shrinker {shrink!r}; expected one of {', '.join(SHRINK_KINDS)}")
    out = Path(output)
    if out.is_dir():
        raise UsageError(f"{out}: output is a directory; give a .safetensors file name")
    meta_out = sidecar_path(out) if factored else None
    src = open_source(source)
    with src if src is not source else contextlib.nullcontext(src):
        if holds_quantized_tensors(src):
            raise UsageError(
                f"{label}: compress writes safetensors and cannot carry quantized tensors (GGUF, GPTQ, "
                "AWQ, FP8 scales); analyze or compare the quantized model, compress the one it came "
                "from"
            )
        check_output(out, meta_out, src)
        skipped: dict[str, str] = {}
        on_skip = lambda n, r: skipped.setdefault(n, r)  # noqa: E731
        weights = {w.name: w for w in select_weight_matrices(src, spec.selection, on_skip=on_skip)}
        if not weights:
            require_selected(spec.selection, [w.name for w in select_weight_matrices(src)], label)
        records = [(r, _copy_reason(r, weights, skipped)) for r in src.tensors()]
        todo = [r for r, reason in records if reason is None]
        if factored:
            _check_factor_names([r.name for r, _ in records], [r.name for r in todo])
        # Where the model can run, it is loaded (imports, from_pretrained, the original's outputs: seconds)
        # while the matrices are decomposed; the judge sees them once both are done.
        obstacle = probe_obstacle(src) if todo else "nothing to compress"
        folder = model_folder(src)
        keep_vectors = obstacle is None and folder is not None
        loading = ThreadPoolExecutor(1, thread_name_prefix="netspectra-probe")
        try:
            judging = loading.submit(open_probe, folder, todo, parameter_count(src)) if keep_vectors else None
            compressed = run_layers(
                partial(_compress_one, method=method, shrink=shrink, factored=factored, keep_vectors=keep_vectors),
                [(r, weights[r.name].kind) for r in todo],
                shapes=[(1, *weights[r.name].matrix_shape) for r in todo],
                names=[r.name for r in todo],
                executor=executor,
                workers=workers,
                progress=progress,
                results_hold_matrices=True,
            )
            layers: list[LayerCompression] = []
            copied: list[CopiedTensor] = []
            seen: list[tuple[TensorRecord, str, OrientedSVD | np.ndarray, LowRank | None]] = []
            entries: dict[str, dict[str, object]] = {}
            with SafetensorsWriter(out, _metadata(src, method, shrink, factored)) as writer:
                for record, reason in records:
                    if reason is None:
                        outcome = next(compressed)
                        if isinstance(outcome, str):
                            reason = outcome
                        else:
                            layer, factors, svd = outcome
                            layers.append(_write_compressed(writer, record, layer, factors, entries))
                            seen.append((record, weights[record.name].kind, svd, factors if keep_vectors else None))
                    if reason is not None:
                        writer.add_unchanged(record)
                        shape = tuple(record.shape)
                        copied.append(CopiedTensor(record.name, shape, record.dtype, math.prod(shape), reason))
                drain(compressed)
                judge = make_judge(judging.result() if judging is not None else str(obstacle), factored)
                for item in seen:
                    judge.observe(*item)
                report = CompressionReport(
                    source=label,
                    output=str(out),
                    method=str(method),
                    shrink=shrink,
                    factored=factored,
                    layers=tuple(layers),
                    copied=tuple(copied),
                    function=judge.check(layers),
                )
                if report.refused and not force:
                    raise CompressionRefused(_refusal(report, judge))
                writer.commit()
        finally:
            loading.shutdown(wait=False, cancel_futures=True)
    if meta_out is not None:
        extra = {"method": str(method), "shrink": shrink, "source": label}
        write_document(meta_out, sidecar(out, entries, extra))
    return report


def _compress_one(
    item: tuple[TensorRecord, str], method: Method, shrink: str, factored: bool, keep_vectors: bool
) -> tuple[LayerCompression, LowRank, OrientedSVD | np.ndarray] | str:
    """One matrix (its record and layer kind) compressed, an executor task, with its SVD for the judge (or
    only its singular values, without ``keep_vectors``); or why it is copied instead (a matrix without a
    spectrum)."""
    record, kind = item
    try:
        svd = OrientedSVD.of(record.load())
    except MatrixError as exc:
        return str(exc)
    layer, factors = compress_svd(svd, method, shrink, name=record.name, kind=kind, dtype=record.dtype, factored=factored)
    return layer, factors, svd if keep_vectors else svd.s


def _refusal(report: CompressionReport, judge: Judge) -> str:
    """The one line of a refused compression: what fails, and a setting that passes the same checks (tried
    first), or the least compression tried when none does."""
    problems = []
    if report.damaged:
        problems.append(f"{report.method} would destroy the model: {report.damage_summary()}")
    if report.function is not None and not report.function.passed:
        problems.append(report.function.describe())
    other = sum(t.params for t in report.copied)
    best, tried = search(judge, (report.method, report.shrink), other)
    if best is not None:
        shrink = "" if report.shrink == "hard" else " --shrink hard"
        advice = f"{best.describe()} passes: use --method {best.method}{shrink}, or pass --force to write it anyway"
    else:
        advice = (
            f"no setting tried passes (energy:F, F = {', '.join(f'{m.value:g}' for m in CANDIDATES)}, --shrink hard; "
            f"the least compressive, {tried.describe()}): keep the model as it is, or pass --force to write it anyway"
        )
    return f"refused, nothing written: {'; '.join(problems)}. {advice}"


def _write_compressed(
    writer: SafetensorsWriter,
    record: TensorRecord,
    layer: LayerCompression,
    factors: LowRank,
    entries: dict[str, dict[str, object]],
) -> LayerCompression:
    """Write one compressed matrix: its factors where they are smaller than it, else the rebuilt matrix."""
    if layer.params_after < layer.params_before:
        name_a, name_b = factor_names(record.name)
        writer.add_array(name_a, factors.left, record.dtype)
        writer.add_array(name_b, factors.right, record.dtype)
        entries[record.name] = {
            "A": name_a,
            "B": name_b,
            "shape": list(record.shape),
            "dtype": record.dtype,
            "rank": factors.rank,
        }
    else:
        writer.add_array(record.name, stored_product(factors, record.dtype), record.dtype)
    return layer


def _copy_reason(record: TensorRecord, weights: dict[str, WeightMatrix], skipped: dict[str, str]) -> str | None:
    """None when ``record`` is compressed, else why it is copied unchanged."""
    weight = weights.get(record.name)
    if weight is None:
        if f"{record.name}[q]" in weights:
            return "fused QKV tensor"
        if f"{record.name}[0]" in weights or f"{record.name}[0,gate]" in weights:
            return "3-D expert tensor"
        return skipped.get(record.name, "not a weight matrix")
    if weight.kind not in COMPRESSIBLE_KINDS or len(record.shape) != 2:
        return f"{weight.kind} kernel" if weight.kind.startswith("conv") else f"{weight.kind} not compressed"
    if record.dtype not in COMPRESSIBLE_DTYPES:
        return f"{record.dtype} tensor"
    return None


def _metadata(src: ModelSource, method: Method, shrink: str, factored: bool) -> dict[str, str]:
    """The input's safetensors metadata (``format: pt`` if none), plus what netspectra did."""
    inner = getattr(src, "inner", src)
    metadata = dict(getattr(inner, "metadata", None) or {})
    metadata.setdefault("format", "pt")
    metadata["netspectra"] = json.dumps({"method": str(method), "shrink": shrink, "factored": factored})
    return metadata


def check_output(out: Path, meta_out: Path | None, src: ModelSource) -> None:
    """Refuse an output that is (by inode: a hard link or symlink too) any file the model is read from
    (:func:`~netspectra.io.inputs.input_files`: external data, config.json included), or whose folder cannot
    be made (:func:`netspectra.atomic.check_parent`)."""
    check_parent(out)
    refuse_inputs((out, meta_out), input_files(src))


def _check_factor_names(tensor_names: list[str], to_compress: list[str]) -> None:
    names = set(tensor_names)
    for name in to_compress:
        clash = [n for n in factor_names(name) if n in names]
        if clash:
            raise UsageError(f"cannot write factors of {name}: the model already has a tensor named {clash[0]}")
