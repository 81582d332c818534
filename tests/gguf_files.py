"""Small GGUF files for the tests, written with the gguf package's own writer (the reference layout).

Import from a test with ``from gguf_files import write_gguf_file`` (``tests/`` is on sys.path: pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np


def write_gguf_file(
    path: str | Path,
    tensors: Mapping[str, np.ndarray],
    *,
    arch: str = "llama",
    blocks: int | None = 1,
    types: Mapping[str, str] | None = None,
    metadata: Callable[[Any], None] | None = None,
    **writer_options: Any,
) -> Path:
    """Write ``tensors`` (GGUF names -> arrays) to ``path``: each as it is, or quantized by ``gguf.quants.quantize``
    to ``types[name]`` (a GGML type name such as ``"Q8_0"``).  ``blocks``: the block count in the metadata (None:
    none); ``metadata(writer)`` adds other keys; ``writer_options`` go to ``GGUFWriter`` (``endianess=``)."""
    import gguf

    writer = gguf.GGUFWriter(str(path), arch, **writer_options)
    if blocks is not None:
        writer.add_block_count(blocks)
    if metadata is not None:
        metadata(writer)
    for name, value in tensors.items():
        kind = (types or {}).get(name)
        if kind is None:
            writer.add_tensor(name, value)
        else:
            qtype = gguf.GGMLQuantizationType[kind]
            writer.add_tensor(name, gguf.quants.quantize(value, qtype), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(path)
