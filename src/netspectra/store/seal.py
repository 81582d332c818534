"""Seals of stored results: an HMAC-SHA256 (RFC 2104) under a secret key of this user, kept outside the store.

A store is a file like any other: it can come from elsewhere or be edited by hand.  So every layer row
written is sealed with ``HMAC(key, run context || row values || spectrum)``, and a run with
``HMAC(key, run context || (layer index, row seal)...)`` when it completes, where the run context is the
run id, the content hash of the model, the options, the algorithm version, the column layout, the source
and the training step and label.  A row or run is served only if its seal verifies: a row moved to
another run or model, a value changed, a spectrum replaced, a layer added to or removed from a complete
run, or a store written with another key all fail, and are recomputed.

The key is 32 random bytes in ``$NETSPECTRA_KEY_FILE``, else ``$XDG_CONFIG_HOME/netspectra/store.key``,
else ``~/.config/netspectra/store.key``; created on first use (mode 0600, its folder 0700, appearing
complete or not at all) and refused when others may read or write it.  Losing it costs recomputation only:
every run it sealed is then recomputed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

from netspectra.errors import one_line
from netspectra.store.errors import StoreError

#: Length of the key, in bytes (the output size of SHA-256).
KEY_BYTES = 32


def key_path() -> Path:
    """Where this user's store key is kept."""
    chosen = os.environ.get("NETSPECTRA_KEY_FILE")
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "netspectra" / "store.key"


def load_key() -> bytes:
    """This user's store key, created if there is none yet.

    Raises
    ------
    StoreError
        The key cannot be created or read, is not a regular file of :data:`KEY_BYTES` bytes, or is
        readable or writable by others.
    """
    path = key_path()
    hint = "(set NETSPECTRA_KEY_FILE to a file of your own)"
    try:
        if not os.path.lexists(path):
            _create_key(path)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)  # a FIFO does not block, a link is refused
        with os.fdopen(fd, "rb") as f:
            status = os.fstat(f.fileno())
            key = f.read(KEY_BYTES + 1) if stat.S_ISREG(status.st_mode) else b""
    except OSError as exc:
        raise StoreError(f"store key {path}: {exc.strerror or one_line(exc)} {hint}") from None
    if len(key) != KEY_BYTES:
        raise StoreError(f"store key {path}: not a regular file of {KEY_BYTES} bytes {hint}")
    if status.st_mode & 0o077 or (hasattr(os, "getuid") and status.st_uid != os.getuid()):
        raise StoreError(f"store key {path}: others may read or change it (chmod 600 it, or remove it) {hint}")
    return key


def _create_key(path: Path) -> None:
    """Write a new random key to ``path`` (mode 0600) unless another process just did."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(KEY_BYTES))
        try:
            os.link(temporary, path)  # never replaces a key another process created meanwhile
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)


def encode(values: Iterable[object]) -> bytes:
    """An unambiguous byte string of SQLite values (None, int, float, str, bytes): each tagged with its type,
    text and bytes length-prefixed.

    A float is written exactly (``float.hex``), -0.0 as 0.0 (SQLite keeps no sign on a zero it stores).

    Raises
    ------
    TypeError
        A value SQLite cannot hold.
    """
    parts: list[bytes] = []
    for value in values:
        if value is None:
            parts.append(b"n;")
        elif isinstance(value, bool | int):
            parts.append(b"i%d;" % value)
        elif isinstance(value, float):
            parts.append(b"f" + (value + 0.0).hex().encode() + b";")
        elif isinstance(value, str):
            data = value.encode("utf-8", "surrogatepass")
            parts.append(b"s%d:" % len(data) + data + b";")
        elif isinstance(value, bytes):
            parts.append(b"b%d:" % len(value) + value + b";")
        else:
            raise TypeError(f"not an SQLite value: {type(value).__name__}")
    return b"".join(parts)


class Sealer:
    """Seals and checks rows and runs with this user's key (:func:`load_key`)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, *chunks: bytes) -> bytes:
        mac = hmac.new(self._key, digestmod=hashlib.sha256)
        for chunk in chunks:
            mac.update(chunk)
        return mac.digest()

    def layer_seal(self, context: bytes, row: Sequence[object], spectrum: Sequence[object]) -> bytes:
        """Seal of one layer: its run's context, its row (in column order) and its spectrum (codec, count, data)."""
        return self._mac(b"netspectra-store layer\0", encode([context]), encode(row), encode(spectrum))

    def run_seal(self, context: bytes, layers: Iterable[tuple[int, bytes]]) -> bytes:
        """Seal of a complete run: its context and the (layer index, seal) of every layer, in index order."""
        return self._mac(b"netspectra-store run\0", encode([context]), encode(v for pair in layers for v in pair))

    @staticmethod
    def verifies(seal: object, expected: bytes) -> bool:
        """Whether ``seal`` (as stored: anything) is ``expected``, compared in constant time."""
        return isinstance(seal, bytes) and hmac.compare_digest(seal, expected)
