"""A Hugging Face Hub id (``Qwen/Qwen2.5-0.5B``, ``org/name@revision``) resolved from the local cache.

The cache (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``) holds, for a
model ``org/name``, the repository folder ``models--org--name`` with

* ``refs/<branch or tag>``: a small file holding the commit hash (40 hex digits) the name stands for;
* ``snapshots/<commit>/``: the files of that commit, symlinks into ``blobs/``.

A revision that is a commit hash names its snapshot; any other is a branch or tag read from ``refs/``.
A cache can come from elsewhere (a copied folder, a shared disk), so every step is resolved inside its
root (:func:`~.paths.resolve_inside`): the repository folder inside the cache, the ref inside ``refs/``
(read as a regular file of at most :data:`MAX_REF_BYTES` bytes that must hold a commit hash), the
snapshot inside ``snapshots/``, and the snapshot's files inside the repository folder
(:func:`~.paths.model_roots`).  netspectra never downloads: a miss is one line naming the id, the cache
searched and how to fetch it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from ..errors import SourceError
from .paths import resolve_inside
from .structured import read_bounded

#: ``org/name`` or ``org/name@revision``: what a Hub id looks like (a relative path of two parts that
#: does not exist looks the same; it is tried as an id only once no such file is found).
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}(@[\w./-]{1,128})?")
#: A commit hash as the cache names snapshots.
_COMMIT = re.compile(r"[0-9a-f]{40}")
#: Longest ref file read: a commit hash and a newline, with room to spare.
MAX_REF_BYTES = 256
#: What a cache that leads elsewhere is told.
_HINT = "a Hugging Face cache never links there; repair or delete the cache"


def looks_like_hub_id(text: str) -> bool:
    """Whether ``text`` has the form of a Hub model id (and is not an explicit relative path)."""
    return _HUB_ID.fullmatch(text) is not None and ".." not in text


def hub_cache() -> Path:
    """The Hugging Face Hub cache folder, as ``huggingface_hub`` finds it from the environment."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(home).expanduser() / "hub"


def resolve_hub_id(text: str) -> Path:
    """The local snapshot folder of the Hub id ``text`` (module docstring for what is checked).

    Raises
    ------
    SourceError
        The id is not in the cache (never downloads), its ref is not a regular file of a commit hash.
    UnsafeFileError
        The repository folder, the ref or the snapshot leads outside its root.
    """
    repo_id, _, revision = text.partition("@")
    revision = revision or "main"
    cache = hub_cache()
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    if not repo.is_dir():
        raise _miss(text, repo_id, cache)
    where = f"the Hugging Face cache {cache}"
    resolve_inside(repo, (cache.resolve(),), text, "repository folder", kind="folder", where=where, hint=_HINT)
    real = repo.resolve()
    commit = revision if _COMMIT.fullmatch(revision) else _read_ref(repo, real, revision, text)
    snapshot = repo / "snapshots" / commit
    resolve_inside(snapshot, (real / "snapshots",), text, "snapshot", kind="folder", where=f"{repo.name}/snapshots", hint=_HINT)
    if not snapshot.is_dir():
        raise _miss(text, repo_id, cache)
    return snapshot


def _read_ref(repo: Path, real: Path, revision: str, label: str) -> str:
    """The commit hash that the branch or tag ``revision`` stands for, read from ``repo/refs``."""
    name = PurePosixPath(revision)
    if name.is_absolute() or ".." in name.parts:
        raise SourceError(f"{label}: revision {revision!r} is a path, not a branch, tag or commit hash: refused")
    ref = repo / "refs" / name
    what = f"refs/{revision}"
    resolve_inside(ref, (real / "refs",), label, "ref", where=f"{repo.name}/refs", hint=_HINT)
    if not ref.is_file():
        raise SourceError(
            f"{label}: no such revision in the local Hugging Face cache ({repo.name}/{what} does not exist); "
            "netspectra never downloads"
        )
    text = read_bounded(ref, label, what, SourceError, MAX_REF_BYTES).decode("ascii", "replace").strip()
    if not _COMMIT.fullmatch(text):
        raise SourceError(f"{label}: {what} of the Hugging Face cache does not hold a commit hash (40 hex digits): refused")
    return text


def _miss(text: str, repo_id: str, cache: Path) -> SourceError:
    return SourceError(
        f"{text}: no such file or directory, and not in the local Hugging Face cache {cache}; "
        f"netspectra never downloads: fetch it with `hf download {repo_id}` and run again"
    )
