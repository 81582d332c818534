"""Compress a whole model: every 2-D weight matrix denoised, everything else copied, one safetensors file.

Which tensors are compressed follows the layer rules of :mod:`netspectra.io.layers`: 2-D matrices of
kind ``linear``, ``embedding`` or ``attention_q/k/v`` stored as F64/F32/F16/BF16.  Conv kernels, 1-D
tensors (biases, norms), fused QKV tensors (their three parts have different noise levels; splitting
and reassembling them is not done here), integer/FP8 tensors, matrices with NaN/Inf and anything the
layer rules skip are written unchanged, bit for bit when the input is a safetensors file, and listed
in :attr:`CompressionReport.copied` with the reason.

Memory: one matrix per task in flight (its float64 copy, its SVD, its factors and their encoded bytes);
the matrices are decomposed by the executor of every action (:func:`netspectra.pipeline.run_layers`) and
written in order here; see :mod:`netspectra.denoise.writer` for the output side.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from functools import partial
from pathlib import Path
from typing import Any, Unpack

import numpy as np

from netspectra.denoise.encoding import COMPRESSIBLE_DTYPES, encode
from netspectra.denoise.factored import factor_names, sidecar, sidecar_path
from netspectra.denoise.lowrank import LowRank, compress_matrix
from netspectra.denoise.methods import DEFAULT_MIN_DIM, SHRINK_KINDS, Method
from netspectra.denoise.results import CompressionReport, CopiedTensor, LayerCompression
from netspectra.denoise.writer import SafetensorsWriter
from netspectra.errors import CompressionRefused, MatrixError, UsageError
from netspectra.io import ModelSource, TensorRecord, WeightMatrix, dtypes, open_source, select_weight_matrices
from netspectra.io.factored import factor_product
from netspectra.io.inputs import input_files
from netspectra.io.quantized import holds_quantized_tensors
from netspectra.pipeline import ProgressCallback, require_selected, run_layers
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
        Write the file even when layers are destroyed (zeroed, or keeping less than
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
        Some layers would be destroyed and ``force`` is False: nothing is written.
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
        compressed = run_layers(
            partial(_compress_one, method=method, shrink=shrink, factored=factored),
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
        entries: dict[str, dict[str, object]] = {}
        with SafetensorsWriter(out, _metadata(src, method, shrink, factored)) as writer:
            for record, reason in records:
                if reason is None:
                    outcome = next(compressed)
                    if isinstance(outcome, str):
                        reason = outcome
                    else:
                        layers.append(_write_compressed(writer, record, *outcome, entries))
                if reason is not None:
                    writer.add_unchanged(record)
                    shape = tuple(record.shape)
                    copied.append(CopiedTensor(record.name, shape, record.dtype, math.prod(shape), reason))
            report = CompressionReport(
                source=label,
                output=str(out),
                method=str(method),
                shrink=shrink,
                factored=factored,
                layers=tuple(layers),
                copied=tuple(copied),
            )
            if report.damaged and not force:
                raise CompressionRefused(
                    f"refused, nothing written: {method} would destroy the model: {report.damage_summary()}. "
                    "Keep more (--method energy:0.9 or rank:K) or pass --force to write it anyway"
                )
            writer.commit()
    if meta_out is not None:
        extra = {"method": str(method), "shrink": shrink, "source": label}
        write_document(meta_out, sidecar(out, entries, extra))
    return report


def _compress_one(
    item: tuple[TensorRecord, str], method: Method, shrink: str, factored: bool
) -> tuple[LayerCompression, LowRank] | str:
    """One matrix (its record and layer kind) compressed, an executor task; or why it is copied instead
    (a matrix without a spectrum)."""
    record, kind = item
    try:
        return compress_matrix(record.load(), method, shrink, name=record.name, kind=kind, dtype=record.dtype, factored=factored)
    except MatrixError as exc:
        return str(exc)


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


def stored_product(factors: LowRank, dtype: str) -> np.ndarray:
    """W_hat as the factored output stores it: the product of its factors rounded to ``dtype``, formed as the
    reader of that output forms it (:func:`~netspectra.io.factored.factor_product`), so that a dense and a
    factored output of one compression are one model (bit for bit in F32 and F64)."""
    left, right = (dtypes.decode(encode(f, dtype), dtype) for f in (factors.left, factors.right))
    return factor_product(left, right, dtypes.result_dtype(dtype))


def _copy_reason(record: TensorRecord, weights: dict[str, WeightMatrix], skipped: dict[str, str]) -> str | None:
    """None when ``record`` is compressed, else why it is copied unchanged."""
    weight = weights.get(record.name)
    if weight is None:
        if f"{record.name}[q]" in weights:
            return "fused QKV tensor"
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
    (:func:`~netspectra.io.inputs.input_files`: external data, config.json included), or whose directory
    is missing."""
    if not out.parent.is_dir():
        raise UsageError(f"{out}: output directory {out.parent} does not exist")
    refuse_inputs((out, meta_out), input_files(src))


def _check_factor_names(tensor_names: list[str], to_compress: list[str]) -> None:
    names = set(tensor_names)
    for name in to_compress:
        clash = [n for n in factor_names(name) if n in names]
        if clash:
            raise UsageError(f"cannot write factors of {name}: the model already has a tensor named {clash[0]}")
