"""A Hugging Face Hub id (``Qwen/Qwen2.5-0.5B``, ``org/name@revision``, ``org/name:file.gguf``,
``org/name@revision:file.gguf``) resolved from the local cache.

The cache (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``) holds, for a
model ``org/name``, the repository folder ``models--org--name`` with

* ``refs/<branch or tag>``: a small file holding the commit hash (40 hex digits) the name stands for;
* ``snapshots/<commit>/``: the files of that commit, symlinks into ``blobs/``.

A revision that is a commit hash names its snapshot; any other is a branch or tag read from ``refs/``.
A cache can come from elsewhere (a copied folder, a shared disk), so every step is resolved inside its
root (:func:`~.paths.resolve_inside`): the repository folder inside the cache, the ref inside ``refs/``
(read as a regular file of at most :data:`MAX_REF_BYTES` bytes that must hold a commit hash), the
snapshot inside ``snapshots/``, and the snapshot's files inside the repository folder
(:func:`~.paths.model_roots`).  ``:FILE`` names one file of the snapshot (a repository that ships several
quantizations of one model as ``.gguf`` files), a relative path that must stay inside the snapshot
(:func:`~.paths.safe_member`).  netspectra never downloads: a miss is one line naming the id, the cache
searched and how to fetch it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from ..errors import SourceError
from .base import weight_files
from .paths import resolve_inside, safe_member
from .structured import read_bounded

#: ``org/name``, ``org/name@revision``, either with ``:file``: what a Hub id looks like (a relative path
#: of two parts that does not exist looks the same; it is tried as an id only once no such file is found).
_REPO = r"(?P<repo>[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96})"
_FILE = r"(?P<file>[\w./+-]{1,255})"
_HUB_ID = re.compile(_REPO + r"(@(?P<revision>[\w./-]{1,128}))?(:" + _FILE + ")?")
#: ``org/name/file``: a path that is no file, but names one of a cached repository the way a URL would.
_REPO_PATH = re.compile(_REPO + "/" + _FILE)
#: A commit hash as the cache names snapshots.
_COMMIT = re.compile(r"[0-9a-f]{40}")
#: Longest ref file read: a commit hash and a newline, with room to spare.
MAX_REF_BYTES = 256
#: What a cache that leads elsewhere is told.
_HINT = "a Hugging Face cache never links there; repair or delete the cache"


def looks_like_hub_id(text: str) -> bool:
    """Whether ``text`` has the form of a Hub model id (and is not an explicit relative path); a ``:file``
    part is checked when the id is resolved (:func:`resolve_hub_id`), where ``..`` in it is refused."""
    found = _HUB_ID.fullmatch(text)
    return found is not None and ".." not in text[: found.end("revision") if found.group("revision") else found.end("repo")]


def hub_cache() -> Path:
    """The Hugging Face Hub cache folder, as ``huggingface_hub`` finds it from the environment."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(home).expanduser() / "hub"


def resolve_hub_id(text: str) -> Path:
    """The local snapshot folder of the Hub id ``text``, or the file of it that ``:file`` names (module
    docstring for what is checked).

    Raises
    ------
    SourceError
        The id is not in the cache (never downloads), its ref is not a regular file of a commit hash, the
        snapshot has no such file (the message lists the weight files it has).
    UnsafeFileError
        The repository folder, the ref, the snapshot or the named file leads outside its root.
    """
    found = _HUB_ID.fullmatch(text)
    if found is None:
        raise SourceError(f"{text}: not a Hugging Face Hub id (org/name, org/name@revision, org/name:file)")
    repo_id, revision, file = found.group("repo"), found.group("revision") or "main", found.group("file")
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
    if file is None:
        return snapshot
    path = safe_member(snapshot, file, text, "file")
    if not path.is_file():
        have = ", ".join(weight_files(snapshot)) or "no weight file"
        raise SourceError(f"{text}: no file {file} in the cached snapshot {commit[:12]} of {repo_id} (it has: {have})")
    return path


def repo_path_hint(text: str) -> str:
    """For a path ``org/name/file`` that does not exist where ``org/name`` is a cached Hub model: how to
    name its file (`` (a file of the cached Hub model org/name is named org/name:file)``); else ''."""
    found = _REPO_PATH.fullmatch(text)
    if found is None or ".." in text:
        return ""
    repo_id, file = found.group("repo"), found.group("file")
    if not (hub_cache() / f"models--{repo_id.replace('/', '--')}").is_dir():
        return ""
    return f" (a file of the cached Hub model {repo_id} is named {repo_id}:{file})"


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
