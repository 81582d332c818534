"""Open a model: recognize the source (file, sharded set, directory, live module) and return its
:class:`~netspectra.io.base.ModelSource`.

:func:`open_source` validates what can be validated without reading tensor data (headers, indexes,
pickles); every problem is a :class:`~netspectra.errors.SourceError` (or
:class:`~netspectra.errors.UnsafeFileError`) with one line naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import SourceError, one_line
from .adapter_source import AdapterSource, is_adapter_dir
from .base import TORCH_SUFFIXES, ModelSource, read_config
from .directory_source import AmbiguousWeights, DirectorySource, hf_weights
from .gguf_source import GGUFSource
from .hub import looks_like_hub_id, repo_path_hint, resolve_hub_id
from .keras_source import KerasSource
from .numpy_source import NpySource, NpzSource
from .onnx_source import OnnxSource
from .quantized_formats import dequantizing
from .safetensors_source import SafetensorsSource, sharded_from_index
from .torch_source import TorchSource


def open_file(path: Path, config: dict | None = None) -> ModelSource:
    """The source of one model file, by its name (see :func:`open_source`)."""
    name = path.name.lower()
    if name.endswith(".safetensors"):
        return SafetensorsSource(path, config)
    if name.endswith(".index.json"):
        return sharded_from_index(path, config)
    if name.endswith(TORCH_SUFFIXES):
        return TorchSource(path, config)
    if name.endswith(".npz"):
        return NpzSource(path)
    if name.endswith(".npy"):
        return NpySource(path)
    if name.endswith(".onnx"):
        return OnnxSource(path)
    if name.endswith(".gguf"):
        return GGUFSource(path)
    if name.endswith((".keras", ".h5", ".hdf5")):
        return KerasSource(path, config)
    raise SourceError(
        f"{path}: unknown file type {path.suffix or '(no extension)'!s} "
        "(expected .safetensors, *.index.json, .pt/.pth/.bin/.ckpt, .npz, .npy, .onnx, .gguf, .keras, .h5 or a model directory)"
    )


def open_source(source: object) -> ModelSource:
    """Open a model: a path (file or directory), a live ``torch.nn.Module``, or a :class:`ModelSource`.

    Files: ``.safetensors`` (format ``safetensors``); ``*.safetensors.index.json`` (``safetensors-sharded``);
    ``pytorch_model.bin.index.json`` (``torch``, sharded); ``.pt/.pth/.bin/.ckpt`` (``torch``); ``.npz``;
    ``.npy``; ``.onnx``; ``.gguf``.  A directory with ``config.json`` is ``hf-dir``; its weights are, in order of
    preference, ``model.safetensors.index.json``, ``model.safetensors``, another single
    ``*.safetensors.index.json``, a single ``*.safetensors`` (several without index are read together),
    ``pytorch_model.bin.index.json``, ``pytorch_model.bin``, a single torch file, ``*.onnx``, ``*.npz``.
    Keras files (``.keras``, ``.weights.h5``, legacy ``.h5``; a directory's single one) are ``keras``.
    A directory without ``config.json`` gets the format of its weights.  ``config`` is config.json of
    the directory (of the file's directory for a file), or {}.

    A folder with ``adapter_config.json`` is a PEFT LoRA adapter (:mod:`netspectra.io.adapter_source`:
    its updates dW; :func:`open_adapter` puts it on a base model).
    A path that does not exist but reads as a Hugging Face Hub id (``org/name``, ``org/name@revision``,
    either with ``:file`` naming one file of the snapshot, e.g. one quantization of several ``.gguf``) is
    looked up in the local Hub cache (:mod:`netspectra.io.hub`; never downloaded).

    Raises :class:`SourceError` (one line, naming the file) for a missing path, an unknown file type,
    a directory without weights or with several of which none is the model's by name (the message lists
    them), or a corrupt/truncated/forged file; :class:`UnsafeFileError` for a
    pickle that asks for a non-allow-listed global or a file reference escaping the model directory.
    """
    if isinstance(source, ModelSource):
        return source
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        path = Path(source)
        try:
            hub = not path.exists() and looks_like_hub_id(text)
            if hub:
                path = resolve_hub_id(text)
            if not path.exists():
                raise SourceError(f"{text}: no such file or directory{repo_path_hint(text)}")
            if is_adapter_dir(path):
                return AdapterSource(path)
            if path.is_dir():
                config = read_config(path)
                try:
                    inner = hf_weights(path, config, "hf-dir" if (path / "config.json").is_file() else None)
                except AmbiguousWeights as exc:
                    if not hub:
                        raise
                    raise SourceError(
                        f"{text}: the cached snapshot holds {len(exc.choices)} weight files and nothing says which is "
                        f"the model; name one: {exc.listing(text + ':')}"
                    ) from None
                return dequantizing(DirectorySource(path, inner))
            if not path.is_file():
                raise SourceError(f"{path}: not a regular file")
            return dequantizing(open_file(path))
        except OSError as exc:  # permissions, I/O errors, paths too long, ...
            raise SourceError(f"{os.fspath(source)}: cannot read: {one_line(exc)}") from None
    if _is_torch_module(source):
        from .module_source import ModuleSource

        return ModuleSource(source)
    raise SourceError(f"cannot open a model from {type(source).__name__!s}: expected a path or a torch.nn.Module")


def _is_torch_module(obj: object) -> bool:
    for cls in type(obj).__mro__:
        if cls.__module__ == "torch.nn.modules.module" and cls.__name__ == "Module":
            return True
    return False


def open_adapter(adapter: str | os.PathLike[str], base: object) -> ModelSource:
    """The PEFT LoRA adapter folder ``adapter`` merged onto ``base`` (anything :func:`open_source` opens):
    the base model with each adapted matrix replaced by W + dW.

    Raises :class:`SourceError` when ``adapter`` is not an adapter folder or ``base`` is not its base.
    """
    path = Path(adapter)
    if not is_adapter_dir(path):
        raise SourceError(f"{os.fspath(adapter)}: not a PEFT adapter folder (no adapter_config.json): --base is for an adapter")
    return AdapterSource(path, open_source(base))
