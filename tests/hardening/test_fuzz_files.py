"""Seeded mutation fuzzing of model files through ``netspectra analyze``.

Every mutated file (truncated, bit-flipped, header bytes overwritten) must end either in exit code 0
with a complete output file, or in exit code 2 with ONE line on stderr naming the file and no output file
— never another exception, a hang, or a half-written output.  Each loop runs a fixed number of cases
from a fixed seed, so a run is reproducible; a failure names the format, the seed and the case number.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from fixtures_models import (
    save_torch,
    tiny_mlp_arrays,
    write_onnx_model,
    write_safetensors,
    write_sharded,
)
from fuzzing import MEMORY_HEADROOM, RSS_GROWTH, check_refusal, memory_cap, mutations, peak_rss, run_cli
from gguf_files import write_gguf_file

CASES_PER_FORMAT = 300  # 4-10 s a format on 2 shared cores
SECONDS_PER_CASE = 20  # a hang fails (fuzzing.run_cli), it is no budget


def _write_npz(path):
    np.savez(path, **tiny_mlp_arrays())


def _write_pt(path):
    torch = pytest.importorskip("torch")
    save_torch(path, {k: torch.from_numpy(v) for k, v in tiny_mlp_arrays().items()})


def _write_onnx(path):
    pytest.importorskip("onnx")
    write_onnx_model(path)


def _write_gguf(path):
    pytest.importorskip("gguf")
    arrays = tiny_mlp_arrays()
    q8 = {name: "Q8_0" for name, value in arrays.items() if value.ndim == 2 and value.shape[1] % 32 == 0}  # blocks of 32
    write_gguf_file(path, arrays, blocks=None, types=q8)


def _write_sharded(directory):
    directory.mkdir()
    write_sharded(directory)
    return directory / "model.safetensors.index.json"


FORMATS = {
    "safetensors": ("model.safetensors", lambda p: write_safetensors(p, tiny_mlp_arrays())),
    "npz": ("model.npz", _write_npz),
    "pt": ("model.pt", _write_pt),
    "onnx": ("model.onnx", _write_onnx),
    "gguf": ("model.gguf", _write_gguf),
}


def _run_case(path, out, capsys, label: str = "") -> tuple[int, str]:
    return run_cli(["analyze", path, "-o", out, "--quiet"], capsys, SECONDS_PER_CASE, label or str(path))


def _check(code: int, err: str, out, name: str, label: str) -> None:
    if code == 0:
        frame = json.loads(out.read_text())
        assert "layers" in frame, label
    else:
        check_refusal(code, err, name, label)
        assert not out.exists(), f"{label}: partial output left"
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")], f"{label}: temp file left"


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.slow
def test_fuzz_single_file_formats(tmp_path, fmt, capsys):
    filename, write = FORMATS[fmt]
    original = tmp_path / f"orig_{filename}"
    write(original)
    data = original.read_bytes()
    seed = sum(map(ord, fmt))
    rng = np.random.default_rng(seed)
    path, out = tmp_path / filename, tmp_path / "out.json"
    outcomes, rss_before = {0: 0, 2: 0}, peak_rss()
    with memory_cap(MEMORY_HEADROOM):  # a forged size that is believed fails here instead of filling the machine
        for case, (label, mutated) in zip(range(CASES_PER_FORMAT), mutations(data, rng)):
            where = f"{fmt} seed {seed} case {case} ({label})"
            path.write_bytes(mutated)
            out.unlink(missing_ok=True)
            code, err = _run_case(path, out, capsys, where)
            _check(code, err, out, filename, where)
            outcomes[code] += 1
    growth = peak_rss() - rss_before
    assert growth < RSS_GROWTH, f"{fmt}: peak RSS grew by {growth / 2**20:.0f} MiB"
    with capsys.disabled():
        print(f"\n{fmt}: {sum(outcomes.values())} cases, {outcomes[0]} analyzed, {outcomes[2]} refused")
    assert outcomes[2] >= 3  # the empty, truncated-header and forged-length cases at least


def test_fuzz_sharded_index(tmp_path, capsys):
    index = _write_sharded(tmp_path / "model")
    data = index.read_bytes()
    rng = np.random.default_rng(7)
    out = tmp_path / "out.json"
    variants = [("truncated", data[: len(data) // 2]), ("not-json", b"\xff\xfe garbage")]
    doc = json.loads(data)
    shard = next(iter(doc["weight_map"].values()))
    for label, target in [("escape", "../../etc/passwd"), ("absolute", "/etc/passwd"), ("missing", "nope.safetensors")]:
        forged = {**doc, "weight_map": {**doc["weight_map"], next(iter(doc["weight_map"])): target}}
        variants.append((label, json.dumps(forged).encode()))
    variants.append(("no-weight-map", b"{}"))
    for case in range(20):
        buf = bytearray(data)
        buf[int(rng.integers(len(buf)))] = int(rng.integers(32, 127))
        variants.append((f"seed 7 case {case} (byte)", bytes(buf)))
    for label, mutated in variants:
        index.write_bytes(mutated)
        out.unlink(missing_ok=True)
        code, err = _run_case(index, out, capsys, f"index {label}")
        _check(code, err, out, index.parent.name, f"index {label}")
        if label in ("escape", "absolute", "missing", "not-json", "truncated"):
            assert code == 2, label
    assert shard  # the index did name shards before mutation
