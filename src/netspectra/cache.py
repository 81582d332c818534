"""A disk cache of arrays that are costly to compute and the same on every run (the HTMP density tables).

Entries are ``.npz`` files (read with ``allow_pickle=False``) under ``$NETSPECTRA_CACHE_DIR``, else
``$XDG_CACHE_HOME/netspectra``, else ``~/.cache/netspectra``; ``NETSPECTRA_CACHE_DIR=off`` disables it.
A file is written atomically (temporary file + rename), so concurrent workers and interrupted runs
never leave a partial entry; an entry that cannot be read or written is recomputed, silently: the cache
only ever saves time.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from netspectra.atomic import atomic_write
from netspectra.errors import NetspectraError


def cache_directory() -> Path | None:
    """The cache's root directory, or None when it is disabled."""
    chosen = os.environ.get("NETSPECTRA_CACHE_DIR")
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "off", "0", "none") else Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "netspectra"


def load_arrays(namespace: str, key: str, names: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """The arrays ``names`` stored under ``namespace/key``, or None (absent, unreadable or incomplete)."""
    root = cache_directory()
    if root is None:
        return None
    try:
        with np.load(root / namespace / f"{key}.npz", allow_pickle=False) as stored:
            return {name: np.array(stored[name]) for name in names}
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None


def store_arrays(namespace: str, key: str, arrays: dict[str, np.ndarray]) -> None:
    """Store ``arrays`` under ``namespace/key`` atomically; any failure (read-only disk, full disk) is ignored."""
    root = cache_directory()
    if root is None:
        return
    folder = root / namespace

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as out:
            np.savez(out, **arrays)

    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / f"{key}.npz", write)
    except (OSError, NetspectraError):
        return
