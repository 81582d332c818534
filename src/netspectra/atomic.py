"""Outputs that appear complete or not at all, the one mechanism behind every file netspectra writes.

A file is written to a temporary file in the target's directory (same file system), given the
permissions a new file gets (0666 less the umask: ``mkstemp`` makes it 0600), and renamed onto the
target with ``os.replace`` (atomic on POSIX); an error or Ctrl-C before the rename removes the temporary
file.  A directory (a merged model) is published the same way with mode 0777 less the umask.  Missing
parent folders of an output are created (:func:`make_parent`), the same for every output.  Used by
the table and document writers, the HTML report and figures, the safetensors writer, the merged-model
directory and the disk cache.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from netspectra.errors import OutputError, UsageError, one_line


def umask() -> int:
    """The process's file-mode creation mask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(tmp: Path, path: Path, mode: int = 0o666) -> None:
    """Give ``tmp`` the permissions a new file (``mode`` 0o666) or directory (0o777) gets and rename it onto
    ``path`` in one ``os.replace`` (which also replaces an empty directory)."""
    os.chmod(tmp, mode & ~umask())
    os.replace(tmp, path)


def check_parent(path: Path) -> None:
    """Refuse, before any work, an output whose missing folders cannot be made: the nearest existing
    ancestor of ``path`` must be a directory (a file there, or a path of files, is refused).

    Every output of every command is handled alike: its missing parent folders are created when it is
    written (:func:`make_parent`), as ``--plots DIR`` always created its folder.
    """
    ancestor = Path(path).absolute().parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"{path}: cannot create its folder: {ancestor} is not a directory")


def make_parent(path: Path) -> None:
    """Create the missing parent folders of ``path`` (:func:`check_parent`), as a new directory gets them."""
    check_parent(path)
    try:
        Path(path).absolute().parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create its folder: {exc.strerror or one_line(exc)}") from None


def temporary_beside(path: Path, suffix: str = ".tmp") -> Path:
    """A new empty file ``.NAME.XXXX<suffix>`` in ``path``'s directory (closed), for writing ``path`` atomically."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    return Path(name)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary path beside ``path``, then :func:`publish` it as ``path``.

    The temporary file is removed if ``write`` fails or is interrupted; an operating-system error
    (a directory at ``path``, a read-only or full disk) becomes one :class:`OutputError` naming ``path``.
    """
    path = Path(path)
    make_parent(path)
    if path.is_dir():
        raise OutputError(f"{path}: cannot write: it is a directory")
    try:
        tmp = temporary_beside(path)
    except OSError as exc:  # a read-only directory, no space for an inode, a name too long
        raise OutputError(f"{path}: cannot write: {exc.strerror or one_line(exc)}") from None
    try:
        write(tmp)
        publish(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):  # a full disk, a quota, a directory put in its place meanwhile
            raise OutputError(f"{path}: cannot write: {exc.strerror or one_line(exc)}") from None
        raise
