"""The GGUF header pre-scan (issue 25) passes real files' metadata and refuses only what they never hold.

The attacks themselves are in ``tests/round3/gguf.py``; here the bounds are shown not to refuse a real
model: a Gemma 3-sized vocabulary (262,144 tokens, their scores and types, 1.05M values for the reader),
and a file written in the other byte order.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from gguf_files import write_gguf_file
from netspectra.errors import SourceError
from netspectra.io import gguf_header
from netspectra.io.gguf_header import MAX_GGUF_VALUES, check_gguf_header
from round3.gguf import ARRAY, FLOAT32, STRING, UINT32, _array, _kv, _string, gguf_bytes

gguf = pytest.importorskip("gguf")

VOCAB = 262_144


def test_a_gemma_sized_vocabulary_passes(tmp_path):
    tokens = b"".join(_string(f"tok{i}") for i in range(VOCAB))
    kvs = [
        _kv("general.architecture", STRING, _string("gemma3")),
        _kv("tokenizer.ggml.tokens", ARRAY, _array(STRING, VOCAB, tokens)),
        _kv("tokenizer.ggml.scores", ARRAY, _array(FLOAT32, VOCAB, bytes(4 * VOCAB))),
        _kv("tokenizer.ggml.token_type", ARRAY, _array(UINT32, VOCAB, bytes(4 * VOCAB))),
    ]
    path = tmp_path / "vocab.gguf"
    path.write_bytes(gguf_bytes(kvs))
    values = check_gguf_header(path, "vocab.gguf")
    assert values == 4 * 3 + 2 + 2 * 3 + 4 * VOCAB  # keys, their string value, array headers, items
    assert values <= MAX_GGUF_VALUES / 2 + 20  # the bound leaves room for about twice Gemma 3's metadata


def test_a_big_endian_file_passes_and_its_lies_are_caught(tmp_path):
    """GGUFReader reads files of the other byte order; so does the scan (the version's low half is 0)."""
    write_gguf_file(tmp_path / "be.gguf", {"blk.0.attn_q.weight": np.ones((8, 8), np.float32)}, endianess=gguf.GGUFEndian.BIG)
    data = (tmp_path / "be.gguf").read_bytes()
    assert struct.unpack_from("<I", data, 4)[0] & 0xFFFF == 0
    check_gguf_header(tmp_path / "be.gguf", "be.gguf")
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[:-1])
    with pytest.raises(SourceError, match=r"cut\.gguf: tensor 'blk\.0\.attn_q\.weight': 256 bytes .* past the end"):
        check_gguf_header(cut, "cut.gguf")


def test_the_metadata_is_planned_against_available_memory(tmp_path, monkeypatch):
    """What passes the bounds is still refused where the reader's views would not fit."""
    from netspectra.scale import workers

    path = tmp_path / "m.gguf"
    path.write_bytes(gguf_bytes([_kv("tokenizer.ggml.scores", ARRAY, _array(FLOAT32, 1000, bytes(4000)))]))
    monkeypatch.setattr(workers, "available_memory", lambda: 100 * gguf_header.GGUF_BYTES_PER_VALUE)
    with pytest.raises(SourceError, match=r"m\.gguf: parsing the GGUF metadata needs about 1005.0 KiB, 100.0 KiB available"):
        check_gguf_header(path, "m.gguf")
