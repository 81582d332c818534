"""A Hugging Face Hub id (``Qwen/Qwen2.5-0.5B``, ``org/name@revision``) resolved from the local cache.

``huggingface_hub.snapshot_download(..., local_files_only=True)`` finds the snapshot folder of the id in
the cache (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``); netspectra
never downloads.  A cache miss is one line naming the id, the cache searched and how to fetch it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import SourceError

#: ``org/name`` or ``org/name@revision``: what a Hub id looks like (a relative path of two parts that
#: does not exist looks the same; it is tried as an id only once no such file is found).
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}(@[\w./-]{1,128})?")


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
    """The local snapshot folder of the Hub id ``text``.

    Raises
    ------
    SourceError
        When huggingface_hub is missing or the id is not in the cache (never downloads).
    """
    repo_id, _, revision = text.partition("@")
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError
    except ImportError:
        raise SourceError(
            f"{text}: no such file or directory (to open a Hugging Face Hub id from the local cache, pip install huggingface_hub)"
        ) from None
    cache = hub_cache()
    try:
        return Path(snapshot_download(repo_id, revision=revision or None, cache_dir=cache, local_files_only=True))
    except (LocalEntryNotFoundError, HFValidationError, OSError, ValueError):
        raise SourceError(
            f"{text}: no such file or directory, and not in the local Hugging Face cache {cache}; "
            f"netspectra never downloads: fetch it with `hf download {repo_id}` and run again"
        ) from None
