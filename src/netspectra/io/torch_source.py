"""``torch.save`` checkpoints (.pt/.pth/.bin/.ckpt), read without running code from them
(:mod:`.torch_pickle`); legacy (pre-1.6) files through ``torch.load(weights_only=True)`` when torch is there."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MatrixError, SourceError, UnsafeFileError
from . import dtypes, torch_pickle
from .base import ModelSource, TensorRecord, read_config


class TorchSource(ModelSource):
    """A ``torch.save`` checkpoint (.pt/.pth/.bin/.ckpt), read without running code from it."""

    format = "torch"

    def __init__(self, path: Path, config: dict | None = None) -> None:
        self.path = path
        self.files = [path]
        self.config = read_config(path.parent) if config is None else config
        label = os.fspath(path)
        try:
            with open(path, "rb") as f:
                magic = f.read(16)
        except OSError as exc:
            raise SourceError(f"{label}: cannot read: {exc.strerror or exc}") from None
        self._records: list[TensorRecord] = []
        if magic.startswith(b"PK"):
            tensors, self._handle, big = torch_pickle.read_torch_zip(path, label)
            seen: dict[tuple, str] = {}
            for name, t in tensors.items():
                ident = (t.storage.entry, t.offset, t.shape, t.stride, t.dtype)
                if ident in seen:  # tied weights saved twice: analyze once
                    continue
                seen[ident] = name
                loader = torch_pickle.TorchTensorLoader(self._handle, name, t, big)
                self._records.append(TensorRecord(name, t.shape, t.dtype, label, loader))
        elif torch_pickle.is_legacy_torch(magic):
            self._handle = None
            tensors = torch_pickle.read_torch_legacy(path, label)
            seen_ptr: set = set()
            for name, t in tensors.items():
                key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), tuple(t.stride()))
                if key in seen_ptr and t.numel() > 0:
                    continue
                seen_ptr.add(key)
                self._records.append(
                    TensorRecord(name, tuple(t.shape), dtypes.from_torch(t.dtype), label, TorchTensorLoader(name, t))
                )
        elif magic[:1] == b"\x80":
            raise UnsafeFileError(f"{label}: refused to load: a plain pickle, not a torch.save checkpoint (pickles can run code)")
        else:
            raise SourceError(f"{label}: not a torch checkpoint (neither a torch.save zip archive nor a pickle)")

    def tensors(self) -> Iterator[TensorRecord]:
        yield from self._records

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


class TorchTensorLoader:
    """Loader of an in-memory torch tensor (legacy checkpoints, live modules)."""

    def __init__(self, name: str, tensor: Any) -> None:
        self.name = name
        self.tensor = tensor

    def part(self, index: int) -> np.ndarray:
        """``tensor[index]`` alone: one expert of a 3-D expert parameter, without converting the others."""
        return TorchTensorLoader(f"{self.name}[{index}]", self.tensor[index])()

    def __call__(self) -> np.ndarray:
        import torch

        t = self.tensor.detach()
        if t.device.type == "meta":
            raise MatrixError(f"{self.name}: tensor on the meta device has no data")
        if t.is_complex():
            raise MatrixError(f"{self.name}: unsupported dtype {dtypes.from_torch(t.dtype)}")
        if t.numel() > t.untyped_storage().nbytes() // max(t.element_size(), 1):  # expand(): stride 0
            raise MatrixError(
                f"{self.name}: a broadcast view of shape {tuple(t.shape)} over a smaller storage, not stored weights"
            )
        wide = t.dtype in (torch.float64, torch.int64, torch.int32)
        try:
            t = t.cpu().double() if wide else t.cpu().float()
            return t.numpy().copy() if t.data_ptr() == self.tensor.data_ptr() else t.numpy()
        except (RuntimeError, TypeError) as exc:  # quantized or exotic tensor types
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise MatrixError(f"{self.name}: cannot convert {dtypes.from_torch(self.tensor.dtype)} to float: {msg}") from None


# --------------------------------------------------------------------------------------------- numpy
