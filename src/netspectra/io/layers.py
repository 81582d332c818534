"""Layer rules: which stored tensors are analyzable weight matrices, of what kind, and how to load them.

From each :class:`~netspectra.io.sources.TensorRecord` of a source:

* skipped, with a reason (:func:`~.selection.skip_category` groups the reasons for counting): fewer than 2 or more than
  5 dims (biases, norms, scalars); depthwise conv kernels (out, 1, *spatial); names containing ``norm``;
  names whose last part is ``bias``/``masked_bias`` or ends in ``_bias`` (GPT-2's causal-mask buffers are 4-D "bias");
  BOOL tensors (masks); integer tensors whose name looks like a buffer (ends with ``_ids``, contains
  ``position_ids`` or ``index``).  Other integer tensors are analyzed as floats with the note
  "integer weights analyzed without dequantization scale".
* kind: the source's own (module type, ONNX operator) when it has one; otherwise 2-D ->
  ``embedding`` if the name matches ``embed|wte|wpe|tok_embeddings|word_embeddings|
  position_embeddings|shared.weight``, else ``linear``; 3-, 4-, 5-D -> ``conv1d``/``conv2d``/``conv3d``.
* fused attention (2-D): names containing ``c_attn``, ``qkv`` (``Wqkv``, ``qkv_proj``) or
  ``in_proj_weight`` with shape (3d, d) are split into 3 contiguous row blocks, with shape (d, 3d)
  (GPT-2 ``Conv1D`` layout (in, 3*in)) into 3 column blocks.  ``query_key_value`` (GPT-NeoX/Bloom,
  rows interleaved per head as [head][q, k, v][head_dim]) is split only when config.json gives
  ``num_attention_heads`` (and no grouped/multi-query layout).  The parts are named ``<name>[q]``,
  ``[k]``, ``[v]`` with kinds ``attention_q/k/v``; a fused tensor that cannot be split safely stays
  one ``linear`` matrix with the note "fused QKV left unsplit: layout unknown".
* experts: a 3-D tensor whose role is an expert's (``mlp.experts.gate_up_proj`` (E, ., .) of transformers 5
  and GPT-OSS, ``mlp.experts.down_proj``, GGUF's ``ffn_gate_exps`` ...; :mod:`netspectra.io.roles`) is E
  matrices, named ``<name>[e]``; a fused ``gate_up_proj`` is split into ``<name>[e,gate]`` and
  ``<name>[e,up]`` where config.json's ``model_type`` gives its layout (:mod:`netspectra.io.experts`).
  Their biases (``gate_up_proj_bias``: 2-D, a name ending in ``_bias``) are skipped like any bias.
* matrices: a 2-D tensor is one matrix; a conv kernel (out, in, *spatial) is prod(spatial) matrices
  W[:, :, p] of shape (out, in).  Every matrix is oriented N x M with N >= M (transposed if needed).
* placement and order: each matrix gets its role, stack, block and expert (:func:`~netspectra.io.roles.place`)
  and the matrices of a transformer are yielded in model order (:func:`~netspectra.io.roles.model_order`:
  ``blk.2`` before ``blk.10``, q, k, v, o before the MLP), numbered 0, 1, 2, ... in that order.
* filters: a :class:`~netspectra.io.selection.LayerSelection` (``include``/``exclude`` regular
  expressions searched in the name, with or without the ``[q]`` suffix; ``min_dim``, ``max_dim``,
  ``min_evals``, ``max_evals``, ``layers`` by position, ``kinds``); with ``pool=False`` a conv kernel
  yields its k matrices one by one, ``<name>[slice i]``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from ..errors import SourceError
from . import dtypes
from .base import ModelSource, TensorRecord
from .experts import NOTE_FUSED_ODD, NOTE_FUSED_UNSPLIT, FusedLayout, fused_layout
from .roles import Placement, model_order, place, role_of
from .selection import LayerSelection
from .sources import open_source
from .weights import WeightMatrix, orient

_EMBED = re.compile(r"embed|(^|\.)(wte|wpe)(\.|$)|tok_embeddings|word_embeddings|position_embeddings|(^|\.)shared\.weight$", re.I)
_FUSED = re.compile(r"c_attn|qkv|in_proj_weight", re.I)
_INTERLEAVED = re.compile(r"query_key_value", re.I)
_INT_BUFFER = re.compile(r"_ids$|position_ids|index", re.I)
_CONV_KINDS = {3: "conv1d", 4: "conv2d", 5: "conv3d"}
_PARTS = (("q", "attention_q"), ("k", "attention_k"), ("v", "attention_v"))

#: Most weight matrices one model may yield.  The largest published checkpoints hold about 70,000
#: (Kimi K2: 60 mixture-of-experts layers of 385 experts of 3 matrices); a 20 MB file can declare
#: 200,000 2 x 2 matrices, each of which costs a row's fixed work (about 0.2 ms of fits and metrics),
#: minutes in all.  Beyond it the model is refused; include/exclude patterns select a part.
MAX_MATRICES = 100_000

NOTE_INTEGER = "integer weights analyzed without dequantization scale"
NOTE_UNSPLIT = "fused QKV left unsplit: layout unknown"


class MatrixLoader:
    """Picklable loader of one WeightMatrix: reads the tensor, extracts the matrices, orients them.

    ``layout`` is ``matrix`` (2-D), ``conv`` (out, in, *spatial), ``rows``/``cols``/``heads`` for
    part ``part`` (0, 1, 2 = q, k, v) of a fused QKV tensor (``heads``: per-head interleaved rows), or
    ``expert`` for expert ``part`` of a 3-D expert tensor (E, ., .), its ``gate`` or ``up`` half by
    ``fused`` (:class:`~netspectra.io.experts.FusedLayout`) when ``half`` is given.  An expert is read
    alone where the tensor's loader can (a ``part(index)`` method: safetensors, GGUF).
    """

    def __init__(
        self,
        record: TensorRecord,
        layout: str,
        part: int = 0,
        heads: int = 0,
        half: str = "",
        fused: FusedLayout | None = None,
    ) -> None:
        self.load_tensor = record.load
        self.name = record.name
        self.source = record.source
        self.shape = record.shape
        self.layout = layout
        self.part = part
        self.heads = heads
        self.half = half
        self.fused = fused

    def _read(self) -> np.ndarray:
        if self.layout == "expert":
            read_part = getattr(self.load_tensor, "part", None)
            arr = np.asarray(read_part(self.part)) if read_part is not None else self._whole()[self.part]
            if arr.shape != self.shape[1:]:
                raise SourceError(f"{self.source}: expert {self.part} of {self.name} has shape {arr.shape}, not {self.shape[1:]}")
            return self.fused.part(arr, self.half) if self.half and self.fused else arr
        return self._whole()

    def _whole(self) -> np.ndarray:
        arr = np.asarray(self.load_tensor())
        if arr.shape != self.shape:
            raise SourceError(f"{self.source}: tensor {self.name} has shape {arr.shape}, header says {self.shape}")
        return arr

    def __call__(self, *, native: bool = False) -> np.ndarray:
        """The oriented (k, N, M) stack: float64, or with ``native`` the decoded dtype (float32/float64)."""
        arr = self._read()
        if self.layout == "conv":
            out, inp = self.shape[:2]
            arr = np.moveaxis(arr.reshape(out, inp, -1), 2, 0)
        elif self.layout == "rows":
            d = self.shape[0] // 3
            arr = arr[self.part * d : (self.part + 1) * d]
        elif self.layout == "cols":
            d = self.shape[1] // 3
            arr = arr[:, self.part * d : (self.part + 1) * d]
        elif self.layout == "heads":
            rows, cols = self.shape
            hd = rows // (3 * self.heads)
            arr = arr.reshape(self.heads, 3, hd, cols)[:, self.part].reshape(self.heads * hd, cols)
        return orient(arr, None if native else np.float64)


class SliceLoader:
    """Picklable loader of slice ``index`` (one spatial position) of a conv stack: a (1, N, M) stack."""

    def __init__(self, stack: MatrixLoader, index: int) -> None:
        self.stack = stack
        self.index = index

    def __call__(self, *, native: bool = False) -> np.ndarray:
        return self.stack(native=native)[self.index : self.index + 1]


@dataclass(frozen=True)
class _Planned:
    name: str
    kind: str
    matrix_shape: tuple[int, int]
    num_matrices: int
    loader: MatrixLoader | SliceLoader
    notes: tuple[str, ...]
    placement: Placement | None = None  # set by plan_tensor from the name where the rule did not
    positions: int | None = None


def _slices(planned: list[_Planned]) -> Iterator[_Planned]:
    """The plans of ``pool=False``: a conv stack of k matrices as k plans of one, ``<name>[slice i]``."""
    for p in planned:
        if p.num_matrices == 1 or not isinstance(p.loader, MatrixLoader):
            yield p
            continue
        for i in range(p.num_matrices):
            loader = SliceLoader(p.loader, i)
            yield _Planned(f"{p.name}[slice {i}]", p.kind, p.matrix_shape, 1, loader, p.notes, p.placement, p.num_matrices)


def _oriented(rows: int, cols: int) -> tuple[int, int]:
    return (rows, cols) if rows >= cols else (cols, rows)


def _heads_from_config(config: dict) -> int | None:
    heads = next((config[k] for k in ("num_attention_heads", "n_head", "num_heads") if k in config), None)
    if not isinstance(heads, int) or isinstance(heads, bool) or heads <= 0:
        return None
    if any(config.get(k) for k in ("multi_query", "multi_query_attention", "new_decoder_architecture")):
        return None
    for k in ("num_key_value_heads", "num_kv_heads", "n_head_kv", "multi_query_group_num"):
        if config.get(k) not in (None, heads):
            return None
    return heads


def _split(record: TensorRecord, layout: str, heads: int = 0, notes: tuple[str, ...] = ()) -> list[_Planned]:
    rows, cols = record.shape
    part_shape = (rows // 3, cols) if layout in ("rows", "heads") else (rows, cols // 3)
    return [
        _Planned(f"{record.name}[{suffix}]", kind, _oriented(*part_shape), 1, MatrixLoader(record, layout, i, heads), notes)
        for i, (suffix, kind) in enumerate(_PARTS)
    ]


#: A word of a name (between dots and underscores) that marks a normalisation layer (layernorm,
#: rms_norm, norm1, ln_f, ln_2, ...), not a word that merely contains "norm" (subnormal, denormalizer).
_NORM_WORD = re.compile(r"[a-z]*norm\d*|ln\d*")
_WORD_SEPARATORS = re.compile(r"[._]")

#: Longest tensor name analyzed; a longer one is skipped (no model names a tensor with a book).
MAX_NAME_CHARS = 1024


def is_unicode(name: str) -> bool:
    """Whether ``name`` encodes to UTF-8: a pickle or a JSON escape can smuggle in a lone surrogate,
    which no CSV, terminal or Parquet file can hold."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_norm_layer(name: str) -> bool:
    """Whether a (lower-case) tensor name has a normalisation-layer word; linear in the name's length."""
    return any(_NORM_WORD.fullmatch(word) for word in _WORD_SEPARATORS.split(name))


def plan_tensor(record: TensorRecord, config: dict | None = None) -> tuple[list[_Planned], str | None]:
    """Apply the layer rules to one tensor: (planned matrices, None) or ([], reason it is skipped); each
    planned matrix with its :class:`~netspectra.io.roles.Placement` (role, stack, block, expert)."""
    planned, reason = _plan(record, config or {})
    return [p if p.placement else replace(p, placement=place(p.name, p.kind)) for p in planned], reason


def _experts(record: TensorRecord, config: dict, notes: tuple[str, ...]) -> list[_Planned]:
    """One matrix per expert of a 3-D expert tensor (E, ., .) (:mod:`netspectra.io.experts`), a fused
    ``gate_up_proj`` split into its gate and up halves where the model's layout is known."""
    count, rows, cols = record.shape
    if count > MAX_MATRICES:
        raise SourceError(f"{record.source}: {record.name} declares {count:,} experts, more than {MAX_MATRICES:,} matrices")
    base = place(record.name)
    fused = fused_layout(config) if base.role == "expert_gate_up" else None
    if fused is not None and (cols if fused.transposed else rows) % 2:
        fused, notes = None, (*notes, NOTE_FUSED_ODD)
    elif base.role == "expert_gate_up" and fused is None:
        notes = (*notes, NOTE_FUSED_UNSPLIT)
    halves = ("gate", "up") if fused else ("",)
    planned = []
    for expert in range(count):
        for half in halves:
            shape = fused.part_shape((rows, cols)) if fused else (rows, cols)
            planned.append(
                _Planned(
                    f"{record.name}[{expert},{half}]" if half else f"{record.name}[{expert}]",
                    "linear",
                    _oriented(*shape),
                    1,
                    MatrixLoader(record, "expert", expert, half=half, fused=fused),
                    notes,
                    replace(base, role=f"expert_{half}" if half else base.role, expert=expert),
                )
            )
    return planned


def _plan(record: TensorRecord, config: dict) -> tuple[list[_Planned], str | None]:
    name, shape, ndim = record.name, record.shape, len(record.shape)
    low = name.lower()
    last = low.rsplit(".", 1)[-1]
    if len(name) > MAX_NAME_CHARS:
        return [], f"name of {len(name)} characters (longer than {MAX_NAME_CHARS})"
    if not is_unicode(name):
        return [], "name is not valid Unicode (a lone surrogate)"
    if ndim < 2:
        return [], "fewer than 2 dimensions"
    if ndim > 5:
        return [], f"more than 5 dimensions ({ndim}-D)"
    if is_norm_layer(low):
        return [], "normalization weight"
    if last in ("bias", "masked_bias") or last.endswith("_bias"):  # GPT-OSS: experts.gate_up_proj_bias (E, 2I)
        return [], "bias or mask buffer"
    if record.dtype == "BOOL":
        return [], "boolean mask"
    notes: tuple[str, ...] = ()
    if record.dtype in dtypes.INTEGER_DTYPES:
        if _INT_BUFFER.search(name):
            return [], "integer buffer"
        notes = (NOTE_INTEGER,)

    if ndim == 3 and record.kind is None and role_of(name).startswith("expert_") and 0 not in shape:
        return _experts(record, config, notes), None

    if ndim == 2 and record.kind not in ("embedding", "attention_q", "attention_k", "attention_v"):
        rows, cols = shape
        if _FUSED.search(name):
            if rows == 3 * cols and rows > 0:
                return _split(record, "rows", notes=notes), None
            if cols == 3 * rows and cols > 0:
                return _split(record, "cols", notes=notes), None
            notes = (*notes, NOTE_UNSPLIT)
        elif _INTERLEAVED.search(name):
            heads = _heads_from_config(config)
            if heads and rows == 3 * cols and rows % (3 * heads) == 0 and rows > 0:
                return _split(record, "heads", heads, notes), None
            notes = (*notes, NOTE_UNSPLIT)

    if ndim == 2:
        kind = record.kind or ("embedding" if _EMBED.search(name) else "linear")
        if kind.startswith("conv"):
            kind = "linear"
        return [_Planned(name, kind, _oriented(*shape), 1, MatrixLoader(record, "matrix"), notes)], None
    kind = record.kind if record.kind in _CONV_KINDS.values() else _CONV_KINDS[ndim]
    if shape[1] == 1 and shape[0] > 1:
        return [], "depthwise conv (one input channel per filter): no matrix, only one number per position"
    spatial = math.prod(shape[2:])
    return [_Planned(name, kind, _oriented(shape[0], shape[1]), spatial, MatrixLoader(record, "conv"), notes)], None


def iter_weight_matrices(
    source: str | os.PathLike[str] | object,
    *,
    include: str | None = None,
    exclude: str | None = None,
    min_dim: int = LayerSelection.min_dim,
    max_dim: int | None = None,
    on_skip: Callable[[str, str], None] | None = None,
) -> Iterator[WeightMatrix]:
    """Yield the analyzable weight matrices of a model, lazily, in model order.

    The keyword form of :func:`select_weight_matrices`: ``include``, ``exclude``, ``min_dim`` and
    ``max_dim`` are those of :class:`~netspectra.io.selection.LayerSelection`.
    """
    selection = LayerSelection(include=include, exclude=exclude, min_dim=min_dim, max_dim=max_dim)
    return select_weight_matrices(source, selection, on_skip=on_skip)


def select_weight_matrices(
    source: str | os.PathLike[str] | object,
    selection: LayerSelection = LayerSelection(),
    *,
    on_skip: Callable[[str, str], None] | None = None,
) -> Iterator[WeightMatrix]:
    """Yield the weight matrices of a model that ``selection`` keeps, lazily, in model order.

    Parameters
    ----------
    source : str, Path, torch.nn.Module or ModelSource
        See :func:`~netspectra.io.open_source`; the source is opened (and its headers validated)
        before this function returns, so a bad path raises here, not at the first ``next()``.
    selection : LayerSelection
        Name patterns and dimension bounds.
    on_skip : callable(name, reason), optional
        Called for every tensor or matrix that is not yielded, with the reason.

    Yields
    ------
    WeightMatrix
        In model order (every tensor's header is planned before the first is yielded; no data is read);
        ``layer_index`` 0, 1, 2, ... in yield order; ``load()`` returns float64 (k, N, M), N >= M,
        so that eigenvalues are those of X = W^T W / N.

    Raises
    ------
    SourceError
        When the selection keeps more than :data:`MAX_MATRICES` matrices (at the next one).
    """
    opened = not isinstance(source, ModelSource)
    src = open_source(source)
    return _generate(src, opened, selection, on_skip)


def _generate(
    src: ModelSource, opened: bool, selection: LayerSelection, on_skip: Callable[[str, str], None] | None
) -> Iterator[WeightMatrix]:
    def skip(name: str, reason: str) -> None:
        if on_skip is not None:
            on_skip(name, reason)

    position = -1
    try:
        kept: list[tuple[_Planned, TensorRecord, int]] = []
        for record in src.tensors():
            planned, reason = plan_tensor(record, src.config)
            if reason:
                skip(record.name, reason)
                continue
            for p in planned if selection.pool else _slices(planned):
                position += 1
                num_evals = p.matrix_shape[1] * p.num_matrices
                rejected = selection.rejects(
                    (p.name, record.name), p.matrix_shape, num_evals=num_evals, kind=p.kind, position=position
                )
                if rejected:
                    skip(p.name, rejected)
                    continue
                if len(kept) == MAX_MATRICES:
                    raise SourceError(
                        f"{src.path or record.source}: more than {MAX_MATRICES:,} weight matrices, the most one model may "
                        "have: select a part with include/exclude patterns"
                    )
                kept.append((p, record, position))
        placements = [p.placement or Placement() for p, _, _ in kept]
        for index, at in enumerate(model_order(placements)):
            p, record, position = kept[at]
            yield WeightMatrix(
                name=p.name,
                layer_index=index,
                kind=p.kind,
                shape=tuple(record.shape),
                dtype=record.dtype,
                source=record.source,
                matrix_shape=p.matrix_shape,
                num_matrices=p.num_matrices,
                load=p.loader,
                notes=p.notes,
                placement=placements[at],
                positions=p.positions,
                model_index=position,
                noise=record.noise,
            )
    finally:
        if opened:
            src.close()
