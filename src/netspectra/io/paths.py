"""The one resolver of every path netspectra follows from a path it was given.

A path the user names (on the command line, in a merge configuration) is taken as given: its links are
the user's.  What that path leads to is not: a model folder's weights, shards, ``config.json`` and ONNX
external data, a Hugging Face cache's repository folder, refs and snapshots, the checkpoints found in a
training run's folder.  Each has a *root* (the model folder; the cache; the repository's ``refs/`` and
``snapshots/``; the run folder); :func:`resolve_inside` resolves the path, every symlink followed, and
refuses it when it ends outside its root, so that a folder from a download cannot make netspectra read,
and copy into its outputs, a file of the user's.  An existing path of the wrong type is refused before
it is opened (a FIFO blocks a read forever, a device never ends).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Literal

from ..errors import SourceError, UnsafeFileError

#: What a model folder's links may be trusted to do: open the file they name by its own path instead.
TRUST_HINT = "open that {noun} by its own path if you trust the link"


def model_roots(directory: Path) -> tuple[Path, ...]:
    """Where the files a model refers to may live: its directory, resolved, and for a Hugging Face cache
    snapshot (``models--ORG--NAME/snapshots/REVISION``) the repository folder too, whose ``blobs/`` the
    snapshot's files link to."""
    real = directory.resolve()
    roots = [real]
    if real.parent.name == "snapshots" and real.parent.parent.name.startswith(("models--", "datasets--")):
        roots.append(real.parent.parent)
    return tuple(roots)


def resolve_inside(
    path: Path,
    roots: tuple[Path, ...],
    label: str,
    what: str,
    *,
    kind: Literal["file", "folder"] = "file",
    where: str = "the model directory",
    hint: str = TRUST_HINT,
) -> Path:
    """``path`` if it resolves (symlinks followed) inside one of ``roots`` (resolved paths), and, when it
    exists, is a regular file (``kind="file"``) or a directory (``kind="folder"``).

    Raises
    ------
    UnsafeFileError
        ``path``, or a directory on its way, leads outside every root: one line naming ``label``,
        ``what``, the name and ``where`` the root is.
    SourceError
        An existing path of the wrong type (a FIFO, a device, a file for a folder), or a symlink loop.
    """
    try:
        real = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
        raise SourceError(f"{label}: {what} {path.name!r} is a symlink loop") from None
    if not any(real == root or root in real.parents for root in roots):
        raise UnsafeFileError(
            f"{label}: {what} {path.name!r} links to a {kind} outside {where} (refused: {hint.format(noun=kind)})"
        )
    if kind == "file" and real.exists() and not real.is_file():
        raise SourceError(f"{label}: {what} {path.name!r} is not a regular file")
    if kind == "folder" and real.exists() and not real.is_dir():
        raise SourceError(f"{label}: {what} {path.name!r} is not a directory")
    return path


def safe_member(base: Path, name: object, label: str, what: str) -> Path:
    """``base / name`` for a file name found inside a model file: refuse absolute paths, ``..``, and names
    that resolve outside the model directory through a symlink (:func:`resolve_inside`; the links of a
    Hugging Face cache snapshot into its repository's ``blobs/`` are inside)."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise SourceError(f"{label}: invalid {what} name {name!r}")
    posix, win = PurePosixPath(name), PureWindowsPath(name)
    if posix.is_absolute() or win.is_absolute() or win.drive or name.startswith(("/", "\\")):
        raise UnsafeFileError(f"{label}: {what} {name!r} is an absolute path outside the model directory")
    if ".." in posix.parts or ".." in win.parts:
        raise UnsafeFileError(f"{label}: {what} {name!r} escapes the model directory")
    return resolve_inside(base / name, model_roots(base), label, what)


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same inode when both exist (hard links, symlinks), the same
    resolved path otherwise."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        try:
            return a.resolve() == b.resolve()
        except RuntimeError:  # a symlink loop names no file
            return False
