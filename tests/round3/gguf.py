"""GGUF files whose header declares more than the file holds or than a model needs (issue 25).

The gguf package's ``GGUFReader`` parses every key/value eagerly, one NumPy view per value: a 53-byte
file with an array length of 2^62 looped until 1.9 GB, 3M empty strings took 4.7 GB, a ``block_count``
of 10^9 hung building the name table.  The header is now checked against the file's size and sane
bounds (:mod:`netspectra.io.gguf_header`) before the reader is given the file.  The files are written
byte by byte here (``<``: little endian, GGUF version 3), so that each case is exactly the declared lie.
The shards of a split model (issue 26) are each checked so too, and what their split keys declare
(65,535 shards, 199 missing, one linked out of the folder) is refused before another shard is parsed.
"""

from __future__ import annotations

import csv
import struct
from pathlib import Path

import numpy as np

from round3 import Case, Outcome

MAGIC = 0x46554747  # "GGUF" read as a little-endian uint32
UINT8, UINT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64 = 0, 2, 4, 5, 6, 7, 8, 9, 10
F32_TYPE = 0
ALIGNMENT = 32


def _string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def _kv(key: str, value_type: int, payload: bytes) -> bytes:
    return _string(key) + struct.pack("<I", value_type) + payload


def _array(item_type: int, length: int, items: bytes = b"") -> bytes:
    return struct.pack("<IQ", item_type, length) + items


def _tensor_info(name: str, dims: tuple[int, ...], offset: int, ggml_type: int = F32_TYPE) -> bytes:
    return _string(name) + struct.pack(f"<I{len(dims)}QIQ", len(dims), *dims, ggml_type, offset)


def gguf_bytes(kvs: list[bytes], infos: list[bytes] = (), data: bytes = b"", tensor_count: int | None = None) -> bytes:
    """A GGUF v3 file: header, key/values, tensor infos, padding to 32 bytes, tensor data."""
    count = len(infos) if tensor_count is None else tensor_count
    head = struct.pack("<IIQQ", MAGIC, 3, count, len(kvs)) + b"".join(kvs) + b"".join(infos)
    return head + bytes(-len(head) % ALIGNMENT) + data


def _write(folder: Path, name: str, content: bytes) -> list[str]:
    (folder / name).write_bytes(content)
    return ["analyze", name, "-o", "out.csv", "--quiet"]


def _llama(block_count: int, count_type: int) -> bytes:
    """A 24 KB Llama file of two blocks (three 32 x 32 F32 projections each) claiming ``block_count`` blocks."""
    count = struct.pack("<Q" if count_type == UINT64 else "<I", block_count)
    kvs = [_kv("general.architecture", STRING, _string("llama")), _kv("llama.block_count", count_type, count)]
    names = [f"blk.{b}.{p}.weight" for b in range(2) for p in ("attn_q", "attn_k", "ffn_up")]
    size = 32 * 32 * 4
    infos = [_tensor_info(name, (32, 32), i * size) for i, name in enumerate(names)]
    values = np.random.default_rng(0).standard_normal(6 * 32 * 32).astype("<f4").tobytes()
    return gguf_bytes(kvs, infos, values)


def _rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / "out.csv", newline="") as f:
        return list(csv.DictReader(f))


def _names_mapped(folder: Path, outcome: Outcome) -> None:
    """The six matrices analyzed under their Hugging Face names (the table built for the 2 blocks held)."""
    rows = _rows(folder)
    assert sorted(r["name"] for r in rows) == sorted(
        f"model.layers.{b}.{p}.weight" for b in range(2) for p in ("self_attn.q_proj", "self_attn.k_proj", "mlp.up_proj")
    ), [r["name"] for r in rows]
    assert all(r["status"] != "error" and r["N"] == r["M"] == "32" for r in rows), [r["status"] for r in rows]


def _array_length_2_62(folder: Path) -> list[str]:
    content = gguf_bytes([_kv("a.b.c", ARRAY, _array(UINT8, 2**62))])
    assert len(content) == 64  # 53 bytes of header and key/value, padded to the 32-byte alignment
    return _write(folder, "long.gguf", content[:53])


def _bool_array_2_40(folder: Path) -> list[str]:
    return _write(folder, "bools.gguf", gguf_bytes([_kv("general.flags", ARRAY, _array(BOOL, 2**40, bytes(64)))]))


def _twenty_million_values(folder: Path) -> list[str]:
    return _write(
        folder, "values.gguf", gguf_bytes([_kv("tokenizer.ggml.bytes", ARRAY, _array(UINT8, 20_000_000, bytes(20_000_000)))])
    )


def _three_million_empty_strings(folder: Path) -> list[str]:
    strings = _array(STRING, 3_000_000, bytes(8 * 3_000_000))
    return _write(folder, "strings.gguf", gguf_bytes([_kv("tokenizer.ggml.tokens", ARRAY, strings)]))


def _hundred_thousand_tiny_tensors(folder: Path) -> list[str]:
    count = 100_000
    infos = [_tensor_info(f"t{i}.weight", (2, 2), i * ALIGNMENT) for i in range(count)]
    data = (struct.pack("<4f", 1.0, 2.0, 3.0, 5.0) + bytes(ALIGNMENT - 16)) * count
    return _write(folder, "tensors.gguf", gguf_bytes([_kv("general.architecture", STRING, _string("llama"))], infos, data))


def _string_past_the_end(folder: Path) -> list[str]:
    value = struct.pack("<Q", 1_000_000) + b"llama"  # a million bytes declared, five held
    return _write(folder, "short.gguf", gguf_bytes([_kv("general.architecture", STRING, value)]))


def _tensor_name_past_the_end(folder: Path) -> list[str]:
    info = _tensor_info("blk.0.attn_q.weight", (4, 4), 0)
    info = struct.pack("<Q", 10**6) + info[8:]
    return _write(folder, "name.gguf", gguf_bytes([], [info], bytes(64)))


def _nested_arrays(folder: Path) -> list[str]:
    """An array of arrays 100k deep: 12 bytes a level (llama.cpp refuses nested arrays)."""
    nested = _array(ARRAY, 1) * 100_000 + _array(UINT8, 0)
    return _write(folder, "nested.gguf", gguf_bytes([_kv("general.nested", ARRAY, nested)]))


def _tensor_data_past_the_end(folder: Path) -> list[str]:
    info = _tensor_info("blk.0.attn_q.weight", (2**32, 2**32), 0)
    return _write(folder, "huge.gguf", gguf_bytes([_kv("general.architecture", STRING, _string("llama"))], [info], bytes(64)))


def _split_keys(no: int, count: int, total: int) -> list[bytes]:
    return [
        _kv("split.no", UINT16, struct.pack("<H", no)),
        _kv("split.count", UINT16, struct.pack("<H", count)),
        _kv("split.tensors.count", INT32, struct.pack("<i", total)),
    ]


def _first_shard(count: int) -> bytes:
    """The first shard of a model split in ``count``: one 32 x 32 F32 tensor, the split keys (issue 26)."""
    values = np.random.default_rng(0).standard_normal(32 * 32).astype("<f4").tobytes()
    kvs = [_kv("general.architecture", STRING, _string("llama")), *_split_keys(0, count, count)]
    return gguf_bytes(kvs, [_tensor_info("blk.0.attn_q.weight", (32, 32), 0)], values)


def _split_count_65535(folder: Path) -> list[str]:
    return _write(folder, "m-00001-of-65535.gguf", _first_shard(65535))


def _two_hundred_missing_shards(folder: Path) -> list[str]:
    return _write(folder, "m-00001-of-00200.gguf", _first_shard(200))


def _second_shard_array_2_62(folder: Path) -> list[str]:
    """The second shard is the 53-byte file of an array of 2^62 values: checked before it is parsed."""
    (folder / "m-00002-of-00002.gguf").write_bytes(gguf_bytes([_kv("a.b.c", ARRAY, _array(UINT8, 2**62))])[:53])
    return _write(folder, "m-00001-of-00002.gguf", _first_shard(2))


def _shard_linked_outside(folder: Path) -> list[str]:
    (folder / "outside").mkdir()
    (folder / "outside" / "secret.gguf").write_bytes(gguf_bytes(_split_keys(1, 2, 2)))
    (folder / "model").mkdir()
    (folder / "model" / "m-00002-of-00002.gguf").symlink_to(folder / "outside" / "secret.gguf")
    (folder / "model" / "m-00001-of-00002.gguf").write_bytes(_first_shard(2))
    return ["analyze", "model/m-00001-of-00002.gguf", "-o", "out.csv", "--quiet"]


CASES = [
    Case("array length 2^62 in a 53-byte file", _array_length_2_62, match=r"long\.gguf: .*a\.b\.c.*past the end"),
    Case("BOOL array of 2^40 values", _bool_array_2_40, match=r"bools\.gguf: .*general\.flags.*past the end"),
    Case("20M-element array", _twenty_million_values, match=r"values\.gguf: .*20,000,000 values"),
    Case("3M empty strings", _three_million_empty_strings, match=r"strings\.gguf: .*3,000,000 values"),
    Case("100k tiny tensors", _hundred_thousand_tiny_tensors, match=r"tensors\.gguf: 100,000 tensors"),
    Case("string length past the end of the file", _string_past_the_end, match=r"short\.gguf: .*past the end"),
    Case("tensor name length past the end of the file", _tensor_name_past_the_end, match=r"name\.gguf: .*past the end"),
    Case("array of arrays 100k deep", _nested_arrays, match=r"nested\.gguf: .*array of arrays"),
    Case("tensor of 2^64 values in a 200-byte file", _tensor_data_past_the_end, match=r"huge\.gguf: .*blk\.0\.attn_q\.weight"),
    Case("split.count 65535", _split_count_65535, match=r"m-00001-of-65535\.gguf: split\.count = 65,535; .* at most 256 shards"),
    Case(
        "first of 200 shards alone",
        _two_hundred_missing_shards,
        match=r"m-00001-of-00200\.gguf: shard 1 of a model split in 200; missing beside it: m-00002-of-00200\.gguf, .* and 194 more",
    ),
    Case("second shard: array length 2^62", _second_shard_array_2_62, match=r"m-00002-of-00002\.gguf: .*a\.b\.c.*past the end"),
    Case(
        "second shard links outside the folder",
        _shard_linked_outside,
        match=r"shard 'm-00002-of-00002\.gguf' links to a file outside",
    ),
    *(
        Case(
            f"block_count {label} in a 24 KB file",
            lambda folder, count=count, kind=kind: _write(folder, "blocks.gguf", _llama(count, kind)),
            expect="ok",
            check=_names_mapped,
        )
        for label, count, kind in (("1e9", 10**9, UINT32), ("100k", 100_000, UINT32), ("2^63", 2**63, UINT64))
    ),
]
