"""Fixtures of the denoise tests: one BLAS thread, and small model files built in the test."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small dense problems run faster on one BLAS thread (and a busy 2-core machine thrashes with more)."""
    with threadpool_limits(1):
        yield


def bf16_bytes(values: np.ndarray) -> np.ndarray:
    """Truncate float32 values to bfloat16 bit patterns (uint16), independently of the code under test."""
    return (np.ascontiguousarray(values, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    """A safetensors model with every kind of tensor the compressor meets.

    Written by ``safetensors.numpy`` except one BF16 matrix, whose header entry is patched in by hand
    (NumPy has no bfloat16): the file is valid for every safetensors reader.
    """
    rng = np.random.default_rng(0)
    low_rank = rng.standard_normal((96, 3)) @ rng.standard_normal((3, 48)) * 0.5
    spike = 2 * np.outer(rng.standard_normal(200), rng.standard_normal(48))
    tensors = {
        "embed.weight": (rng.standard_normal((200, 48)) + spike).astype(np.float32),
        "fc1.weight": (low_rank + 0.1 * rng.standard_normal((96, 48))).astype(np.float32),  # stored (out, in), N x M
        "fc1.bias": rng.standard_normal(96).astype(np.float32),
        "fc2.weight": (low_rank.T + 0.1 * rng.standard_normal((48, 96))).astype(np.float16),  # stored M x N
        "head.weight": rng.standard_normal((10, 48)).astype(np.float32),  # M = 10 < min_dim 32
        "conv.weight": rng.standard_normal((64, 48, 3, 3)).astype(np.float32),
        "attn.qkv.weight": rng.standard_normal((144, 48)).astype(np.float32),
        "norm.weight": np.ones(48, dtype=np.float32),
        "position_ids": np.arange(12, dtype=np.int64)[None],
        "bad.weight": np.full((64, 64), np.nan, dtype=np.float32),
    }
    path = tmp_path / "model.safetensors"
    save_file(tensors, str(path), metadata={"format": "pt", "origin": "test"})
    proj = 0.05 * rng.standard_normal((64, 40)) + 0.1 * np.outer(rng.standard_normal(64), rng.standard_normal(40))
    return _add_raw_tensor(path, "proj.weight", "BF16", proj.shape, bf16_bytes(proj).tobytes())


@pytest.fixture
def add_raw_tensor():
    """``add_raw_tensor(path, name, dtype, shape, data)``: append one tensor to a safetensors file."""
    return _add_raw_tensor


def _add_raw_tensor(path: Path, name: str, dtype: str, shape: tuple[int, ...], data: bytes) -> Path:
    """Rewrite ``path`` with one more tensor (raw little-endian bytes appended at the end of the data section)."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    body = raw[8 + n :]
    header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [len(body), len(body) + len(data)]}
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + body + data)
    return path
