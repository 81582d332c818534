"""The files a model is read from: what no output of netspectra may overwrite.

Beyond its weight files (``ModelSource.files``: the weights, a shard index and its shards, ONNX external
data), a source reads the ``config.json`` of the folder it lives in (:func:`~.base.read_config`), an
adapter its ``adapter_config.json``, and an adapter on a base model the base's files.  No source reads
tokenizer files.
"""

from __future__ import annotations

import os
from pathlib import Path

from .adapter_source import AdapterSource
from .base import ModelSource
from .sources import open_source

#: Files read beside the weights, in the folder of each weight file or in the model's folder.
BESIDE = ("config.json", "adapter_config.json")


def input_files(source: ModelSource) -> list[Path]:
    """Every file ``source`` is read from (module docstring), each once, in a stable order."""
    folders = {f.parent for f in source.files}
    if source.path is not None and source.path.is_dir():
        folders.add(source.path)
    found = [*source.files, *(d / name for d in sorted(folders) for name in BESIDE if (d / name).is_file())]
    if isinstance(source, AdapterSource) and source.base is not None:
        found += input_files(source.base)
    return list(dict.fromkeys(found))


def model_input_files(model: object) -> list[Path]:
    """:func:`input_files` of ``model``: a :class:`ModelSource` as it is, a path opened (headers only)
    and closed again, nothing for a live module (no file).

    Raises
    ------
    SourceError
        The model cannot be opened (what analyzing it would raise).
    """
    if isinstance(model, ModelSource):
        return input_files(model)
    if not isinstance(model, (str, os.PathLike)):
        return []
    with open_source(model) as source:
        return input_files(source)
