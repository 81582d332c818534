"""The shards of a split GGUF model: which files they are, and whether they are all there.

A model split by llama.cpp's ``gguf-split`` (or by gguf's ``GGUFWriter`` with ``split_max_tensors`` /
``split_max_size``) is a set of GGUF files ``NAME-00001-of-00003.gguf``, ``NAME-00002-of-00003.gguf``,
... (llama.cpp's ``llama_split_path``: ``%s-%05d-of-%05d.gguf``).  Each shard is a whole GGUF file
holding some of the tensors, with the keys ``split.no`` (0-based), ``split.count`` and
``split.tensors.count`` (the tensors of all shards); the first one also holds the model's metadata
(architecture, block count, heads, tokenizer).  llama.cpp loads such a model from its first shard and
refuses any other (``model must be loaded with the first split``); so does netspectra, and it reads
every shard or refuses naming the missing ones (:class:`~netspectra.io.gguf_source.GGUFSource`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from ..errors import SourceError
from .paths import model_roots, resolve_inside

#: Most shards of one model.  gguf-split's default of 128 tensors a shard puts a 405B Llama (1,138
#: tensors) in 9 shards, DeepSeek-V3 at Q8_0 in 15 of 50 GB; each shard holds a memory map (a file
#: descriptor) while the model is read.
MAX_GGUF_SHARDS = 256
_SHARD_NAME = re.compile(r"(?P<prefix>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf", re.IGNORECASE)


def shard_name(prefix: str, number: int, count: int) -> str:
    """``NAME-00002-of-00003.gguf``: shard ``number`` (from 1) of ``count``."""
    return f"{prefix}-{number:05d}-of-{count:05d}.gguf"


def first_shard_name(name: str) -> str | None:
    """The name of the first shard of the split model that the file ``name`` is a shard of, or None."""
    match = _SHARD_NAME.fullmatch(name)
    return shard_name(match["prefix"], 1, int(match["count"])) if match else None


def _missing(paths: Sequence[Path]) -> str:
    names = [p.name for p in paths if not p.is_file()]
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5:,} more" if len(names) > 5 else "")
    return shown if names else ""


def shard_paths(first: Path, count: int) -> list[Path]:
    """The ``count`` shards of the split model whose first shard is ``first``, all present.

    Raises
    ------
    SourceError
        When ``count`` is past :data:`MAX_GGUF_SHARDS`, when the name of ``first`` does not say where the
        other shards are (``NAME-00001-of-0000n.gguf``) or says another count, or when shards are missing
        (named); :class:`~netspectra.errors.UnsafeFileError` when a shard links out of the first one's folder.
    """
    label = os.fspath(first)
    if count > MAX_GGUF_SHARDS:
        raise SourceError(f"{label}: split.count = {count:,}; netspectra reads models of at most {MAX_GGUF_SHARDS} shards")
    match = _SHARD_NAME.fullmatch(first.name)
    if match is None or int(match["no"]) != 1 or int(match["count"]) != count:
        raise SourceError(
            f"{label}: the first of {count} shards (split.count = {count}), but its name does not say where the others are: "
            f"expected {shard_name(first.stem, 1, count)} beside {shard_name(first.stem, count, count)}"
        )
    paths = [first.with_name(shard_name(match["prefix"], number, count)) for number in range(1, count + 1)]
    paths[0] = first  # the name as given (its case)
    if missing := _missing(paths):
        raise SourceError(f"{label}: shard 1 of a model split in {count}; missing beside it: {missing}")
    roots = model_roots(first.parent)
    return [first] + [resolve_inside(p, roots, label, "shard", where="the first shard's folder") for p in paths[1:]]


def first_shard(paths: Sequence[Path]) -> Path | None:
    """The first shard when ``paths`` (the ``*.gguf`` files of a folder) are the shards of one split model,
    else None (files of different models, or not named as shards).

    Raises
    ------
    SourceError
        When they are shards of one model of which some, named, are missing.
    """
    matches = [_SHARD_NAME.fullmatch(p.name) for p in paths]
    if not paths or any(m is None for m in matches):
        return None
    keys = {(m["prefix"], int(m["count"])) for m in matches if m}
    if len(keys) != 1:
        return None
    ((prefix, count),) = keys
    if count < 1 or count > MAX_GGUF_SHARDS:
        return None
    folder = paths[0].parent
    expected = [folder / shard_name(prefix, number, count) for number in range(1, count + 1)]
    if missing := _missing(expected):
        raise SourceError(f"{folder}: shards of {shard_name(prefix, 1, count)} (a model split in {count}); missing: {missing}")
    return next(p for p, m in zip(paths, matches, strict=True) if m and int(m["no"]) == 1)
