"""An output model directory that appears complete or not at all.

Files are written into a temporary directory beside the target (same file system), each shard through
:class:`~netspectra.denoise.writer.SafetensorsWriter`; :meth:`OutputDir.commit` renames the directory onto
the target in one ``os.rename``.  An error or Ctrl-C before that removes the temporary directory, so
no half-written model is ever left at the target.  The target must not exist or be an empty directory.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from netspectra.atomic import check_parent, make_parent, publish
from netspectra.denoise.writer import SafetensorsWriter
from netspectra.errors import SourceError, UsageError
from netspectra.io.base import MAX_JSON_BYTES
from netspectra.io.structured import read_bounded


def check_output_dir(path: str | os.PathLike) -> Path:
    """Refuse, before any work, a target that exists and is not an empty directory (so never an input
    file or a directory holding one), a symbolic link (the temporary directory and the rename would
    land in the link's target or on the link), or whose missing folders cannot be made."""
    out = Path(path)
    if out.is_symlink():
        raise UsageError(f"{out}: output is a symbolic link; give the directory itself")
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        raise UsageError(f"{out}: output exists and is not an empty directory")
    check_parent(out)
    return out


class OutputDir:
    """Temporary directory that becomes ``path`` on :meth:`commit`; use as a context manager."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        make_parent(self.path)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.absolute().parent))
        self.files: list[str] = []

    def __enter__(self) -> OutputDir:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if self.tmp.exists():
            shutil.rmtree(self.tmp, ignore_errors=True)

    def writer(self, name: str, metadata: dict[str, str]) -> SafetensorsWriter:
        """A safetensors writer for file ``name`` of the directory."""
        self.files.append(name)
        return SafetensorsWriter(self.tmp / name, metadata)

    def write_json(self, name: str, obj: object) -> None:
        self.files.append(name)
        (self.tmp / name).write_text(json.dumps(obj, indent=2, allow_nan=False) + "\n", encoding="utf-8")

    def copy_file(self, source: Path, name: str) -> None:
        """Copy the regular file ``source`` (at most :data:`~netspectra.io.base.MAX_JSON_BYTES`) as ``name``."""
        data = read_bounded(source, os.fspath(source), name, SourceError, MAX_JSON_BYTES)
        self.files.append(name)
        (self.tmp / name).write_bytes(data)

    def commit(self) -> None:
        """Give the directory the permissions of a new one and rename it onto ``path``."""
        publish(self.tmp, self.path, 0o777)
