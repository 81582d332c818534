"""The one exception hierarchy of netspectra.

Every error a user can cause (a bad path, a corrupt file, an unsupported dtype) is a
:class:`NetspectraError`; the command line prints its message as one line on stderr and exits 2.
"""

from __future__ import annotations


class NetspectraError(Exception):
    """Root of every error netspectra raises on purpose."""


class SourceError(NetspectraError):
    """A model source cannot be read: missing, unknown format, corrupt, truncated or unsafe."""


class UnsafeFileError(SourceError):
    """A file asks to run code (a pickle with a non-allow-listed global) or escapes its directory."""


class MatrixError(NetspectraError):
    """A single weight matrix cannot be analyzed (NaN/Inf, empty, 1xN, all zero, unknown dtype)."""


class UsageError(NetspectraError):
    """Options that do not fit together, or an output path that cannot be written."""


class OutputError(NetspectraError):
    """An output cannot be written: a directory in its place, a read-only or full disk."""


class CompressionRefused(UsageError):
    """A compression would destroy layers (zero them or remove most of their energy) and was not forced."""


class LayerNotFound(NetspectraError, KeyError):
    """No layer of a model has the name asked for (``report[name]``); the message names the closest ones."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ExecutorError(NetspectraError):
    """A worker died (killed for memory, crashed) or the cluster could not be reached."""


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's message as a single line (first non-empty line, truncated), for error messages."""
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), "") or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_os_error(exc: OSError) -> str:
    """An operating-system error as one line naming its file: ``out.csv: No space left on device``.

    For a rename (``os.replace(tmp, out)``) the target, ``filename2``, is named, not the temporary file.
    """
    path = exc.filename2 if exc.filename2 is not None else exc.filename
    reason = exc.strerror or one_line(exc)
    return f"{path}: {reason}" if path is not None else reason
