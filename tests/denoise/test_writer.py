"""The streaming safetensors writer: readable by the reference reader, aligned, atomic, no leftovers."""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest
from safetensors import safe_open

from netspectra.denoise import SafetensorsWriter
from netspectra.io import dtypes
from netspectra.io.safetensors_file import SafetensorsFile


def arrays() -> dict[str, tuple[np.ndarray, str]]:
    rng = np.random.default_rng(0)
    return {
        "a.u8": (rng.integers(0, 255, size=(3,)), "U8"),
        "b.f16": (rng.standard_normal((5, 3)).astype(np.float16), "F16"),
        "c.f32": (rng.standard_normal((7,)).astype(np.float32), "F32"),
        "d.f64": (rng.standard_normal((2, 3)), "F64"),
        "e.i64": (np.arange(5), "I64"),
        "f.empty": (np.zeros((0, 4), dtype=np.float32), "F32"),
        "g.bf16": (np.array([[1.0, -2.5], [0.125, 3.0]], dtype=np.float32), "BF16"),
    }


def header_of(path) -> tuple[int, dict]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return n, json.loads(raw[8 : 8 + n])


def test_written_file_reads_back_with_the_reference_reader_and_ours(tmp_path):
    out = tmp_path / "out.safetensors"
    with SafetensorsWriter(out, {"format": "pt"}) as writer:
        for name, (values, dtype) in arrays().items():
            writer.add_array(name, values, dtype)
        writer.commit()
    ours = SafetensorsFile(out)
    assert ours.metadata == {"format": "pt"}
    with safe_open(str(out), framework="numpy") as ref:
        assert set(ref.keys()) == set(arrays())
        for name, (values, dtype) in arrays().items():
            assert ours.entries[name].dtype == dtype and ours.entries[name].shape == values.shape
            assert np.array_equal(ours.read(name), values)
            if dtype != "BF16":  # NumPy has no bfloat16
                assert np.array_equal(ref.get_tensor(name), values)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.safetensors"]


def test_tensors_are_aligned_and_cover_the_data_without_holes(tmp_path):
    out = tmp_path / "out.safetensors"
    with SafetensorsWriter(out) as writer:
        for name, (values, dtype) in arrays().items():
            writer.add_array(name, values, dtype)
        writer.commit()
    n, header = header_of(out)
    assert n % 8 == 0
    spans = sorted((e["data_offsets"], e["dtype"]) for k, e in header.items() if k != "__metadata__")
    position = 0
    for (begin, end), dtype in spans:
        assert begin == position and (8 + n + begin) % dtypes.ITEMSIZE[dtype] == 0
        position = end
    assert 8 + n + position == out.stat().st_size


def test_file_ranges_are_copied_bit_for_bit(tmp_path):
    src = tmp_path / "blob.bin"
    payload = bytes(range(256)) * 10
    src.write_bytes(b"xx" + payload + b"yy")
    out = tmp_path / "out.safetensors"
    with SafetensorsWriter(out) as writer:
        writer.add_file_range("t", "U16", (1280,), src, 2, 2 + len(payload))
        writer.commit()
    n, header = header_of(out)
    begin, end = header["t"]["data_offsets"]
    assert out.read_bytes()[8 + n + begin : 8 + n + end] == payload


def test_nothing_is_written_without_commit_or_on_error(tmp_path):
    out = tmp_path / "out.safetensors"
    out.write_bytes(b"previous")
    with SafetensorsWriter(out) as writer:
        writer.add_array("x", np.ones(3), "F32")
    with pytest.raises(RuntimeError), SafetensorsWriter(out) as writer:
        writer.add_array("x", np.ones(3), "F32")
        raise RuntimeError("interrupted")
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.safetensors"]


def test_new_files_get_the_usual_permissions(tmp_path):
    out = tmp_path / "out.safetensors"
    with SafetensorsWriter(out) as writer:
        writer.add_array("x", np.ones(3), "F32")
        writer.commit()
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_duplicate_names_and_wrong_sizes_are_refused(tmp_path):
    with SafetensorsWriter(tmp_path / "out.safetensors") as writer:
        writer.add_array("x", np.ones(3), "F32")
        with pytest.raises(ValueError, match="duplicate"):
            writer.add_array("x", np.ones(3), "F32")
        with pytest.raises(ValueError, match="reserved"):
            writer.add_array("__metadata__", np.ones(3), "F32")
        with pytest.raises(ValueError, match="do not match"):
            writer.add_file_range("y", "F32", (4,), tmp_path / "out.safetensors", 0, 10)
