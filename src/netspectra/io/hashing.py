"""Content hashes of model files, to key a results store."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..errors import SourceError
from .base import ModelSource
from .sources import open_source

_CHUNK = 1 << 20


def _file_digest(path: Path) -> bytes:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return h.digest()


def content_hash(path: object) -> str:
    """Hex sha256 identifying a model's weights.

    For a single weight file (or a directory whose weights are one file): the sha256 of the file's
    bytes, the same as ``sha256sum``.  For several files (sharded index and its shards, several
    safetensors in a directory): sha256 over, for each file in order (index first, then shards by
    name), its name relative to the model directory, a NUL byte and the file's own sha256 digest.
    Accepts whatever :func:`~netspectra.io.open_source` accepts as a path.
    """
    if isinstance(path, ModelSource):
        src = path
    elif isinstance(path, (str, os.PathLike)):
        p = Path(path)
        if not p.exists():
            raise SourceError(f"{os.fspath(path)}: no such file or directory")
        if p.is_file() and not p.name.endswith(".index.json"):
            return _file_digest(p).hex()
        src = open_source(p)
    else:
        raise SourceError(f"content_hash needs a path, got {type(path).__name__}")
    files = list(src.files)
    if not files:
        raise SourceError(f"{src!r}: no files to hash")
    if len(files) == 1:
        return _file_digest(files[0]).hex()
    base = files[0].parent
    h = hashlib.sha256()
    for f in files:
        try:
            rel = f.relative_to(base).as_posix()
        except ValueError:
            rel = f.name
        h.update(rel.encode("utf-8") + b"\0" + _file_digest(f))
    return h.hexdigest()
