"""Tiny files that claim huge memory or time are refused up front (issue 19).

Each case is what a file from the internet can hold: a zip member compressed with bzip2 or LZMA that
declares gigabytes, a pickled ``bytearray(3 GB)``, a pickle of millions of one-byte opcodes, a stored
spectrum that inflates past its claim, a tensor name of a million characters, and a checkpoint that
sets attributes on an allow-listed function with BUILD.  Every test fails on the code before its fix
(a MemoryError/kill, a multi-second hang, or exit 0).
"""

from __future__ import annotations

import io
import pickle
import signal
import sqlite3
import zipfile
import zlib

import numpy as np
import pytest

from netspectra.errors import SourceError
from netspectra.io import iter_weight_matrices, open_source
from netspectra.io.layers import is_norm_layer
from netspectra.io.torch_pickle import MAX_PICKLE_OBJECTS, read_torch_zip
from netspectra.store import codec


def _npz_with_member(path, data: bytes, method: int) -> None:
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        zf.writestr("w.npy", data)


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
@pytest.mark.slow
def test_npz_member_claiming_more_than_its_compression_can_hold_is_refused(tmp_path, method):
    """200 MB of zeros behind a .npy header compresses to a few KB with bzip2/LZMA (ratios deflate
    cannot reach): refused by its declared size, before a byte is inflated."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (50_000, 1000)})
    payload = header.getvalue() + bytes(200_000_000)
    path = tmp_path / "bomb.npz"
    _npz_with_member(path, payload, method)
    info = zipfile.ZipFile(path).getinfo("w.npy")
    if info.file_size <= 1032 * info.compress_size + 1024:
        pytest.skip("this method does not compress zeros past deflate's ratio")
    with pytest.raises(SourceError, match="decompression bomb"):
        open_source(path)


def test_npz_compressed_with_bzip2_and_lzma_still_reads(tmp_path):
    """The bound refuses bombs, not the codecs: real weights compressed with bzip2 and LZMA read."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((64, 48)).astype(np.float32)
    buf = io.BytesIO()
    np.save(buf, w)
    for method in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        path = tmp_path / f"w{method}.npz"
        _npz_with_member(path, buf.getvalue(), method)
        (matrix,) = [m for m in iter_weight_matrices(open_source(path))]
        np.testing.assert_array_equal(matrix.load()[0], w)  # (1, N, M), N >= M


def _torch_zip(path, pickled: bytes, method: int = zipfile.ZIP_STORED) -> None:
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        zf.writestr("archive/data.pkl", pickled)
        zf.writestr("archive/byteorder", b"little")


def test_pickled_bytearray_of_gigabytes_is_refused(tmp_path):
    """``bytearray(3 * 2**30)`` is allow-listed for its bytes, not for a size: a 100-byte file used to
    allocate 3 GB."""
    pickled = b"\x80\x02cbuiltins\nbytearray\n\x8a\x05" + (3 << 30).to_bytes(5, "little") + b"\x85R."
    path = tmp_path / "ba.pt"
    _torch_zip(path, pickled)
    with pytest.raises(SourceError, match="bytearray of 3221225472 bytes"):
        read_torch_zip(path, str(path))


def test_pickle_of_millions_of_empty_lists_is_refused_by_its_object_count(tmp_path):
    """60M one-byte EMPTY_LIST opcodes (bzip2 shrinks them to a few KB) made 4.4 GB of lists; now the
    compressed member is refused by its ratio, and the same pickle stored is refused by its count."""
    pickled = b"\x80\x02" + b"]" * 3 * MAX_PICKLE_OBJECTS + b"."
    bombed = tmp_path / "bz2.pt"
    _torch_zip(bombed, pickled, zipfile.ZIP_BZIP2)
    with pytest.raises(SourceError, match="decompression bomb"):
        read_torch_zip(bombed, str(bombed))
    stored = tmp_path / "stored.pt"
    _torch_zip(stored, pickled)
    with pytest.raises(SourceError, match=f"more than {MAX_PICKLE_OBJECTS} objects"):
        read_torch_zip(stored, str(stored))


def test_build_on_an_allow_listed_function_is_refused(tmp_path):
    """BUILD with a dict state on ``torch._utils._rebuild_tensor_v2`` used to be accepted (exit 0),
    writing the pickle's state into our function's ``__dict__``."""
    pickled = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n}U\x04evilK\x01sb."
    path = tmp_path / "build.pt"
    _torch_zip(path, pickled)
    with pytest.raises(SourceError, match="BUILD"):
        read_torch_zip(path, str(path))
    from netspectra.io import torch_pickle

    assert not hasattr(torch_pickle._rebuild_tensor_v2, "evil")


def test_state_dict_pickle_with_torch_still_reads(tmp_path):
    """The wrapped constructors still rebuild real tensors and parameters."""
    torch = pytest.importorskip("torch")
    w = torch.randn(8, 4)
    path = tmp_path / "sd.pt"
    torch.save({"a.weight": w, "b.weight": torch.nn.Parameter(torch.randn(4, 4))}, path)
    tensors, _handle, _big = read_torch_zip(path, str(path))
    assert sorted(tensors) == ["a.weight", "b.weight"]
    assert tensors["a.weight"].shape == (8, 4)


def test_compressed_torch_storage_reads_only_its_span(tmp_path):
    """A deflated storage member is decompressed up to the tensor's end, and the values match."""
    torch = pytest.importorskip("torch")
    w = torch.randn(16, 8)
    plain = tmp_path / "plain.pt"
    torch.save({"w": w}, plain)
    deflated = tmp_path / "deflated.pt"
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    (matrix,) = list(iter_weight_matrices(open_source(deflated)))
    np.testing.assert_array_equal(matrix.load()[0], w.numpy())  # (1, N, M), N >= M


def test_stored_spectrum_is_inflated_no_further_than_its_claim():
    """A 4 MB zlib blob of zeros claiming 537M values inflated to 4.3 GB before its count was checked."""
    bomb = zlib.compress(bytes(50_000_000), 9)
    with pytest.raises(ValueError, match="claims"):
        codec.decode_eigenvalues(bomb, 50_000_000 // 8)
    with pytest.raises(ValueError, match="does not hold the 10 values"):
        codec.decode_eigenvalues(bomb, 10)
    evals = np.linspace(0.0, 3.0, 77)
    np.testing.assert_array_equal(codec.decode_eigenvalues(codec.encode_eigenvalues(evals), 77), evals)


def test_store_with_a_forged_spectrum_count_gives_one_line(tmp_path, capsys):
    """The same through the CLI: a store whose spectrum was replaced by a bomb ends in one line."""
    from safetensors.numpy import save_file

    from netspectra.cli import main

    save_file(
        {"fc.weight": np.random.default_rng(1).standard_normal((40, 30)).astype(np.float32)}, str(tmp_path / "m.safetensors")
    )
    store = tmp_path / "s.db"
    assert main(["analyze", str(tmp_path / "m.safetensors"), "--store", str(store), "--quiet"]) == 0
    with sqlite3.connect(store) as db:
        db.execute("UPDATE spectra SET data = ?, count = ?", (zlib.compress(bytes(40_000_000), 9), 5_000_000))
    capsys.readouterr()
    code = main(["report", "1", "--store", str(store), "-o", str(tmp_path / "r.html"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "claims 5000000 values" in err and "Traceback" not in err
    assert not (tmp_path / "r.html").exists()


def test_norm_layer_names_are_recognised_in_linear_time():
    """The old pattern backtracked quadratically: a 1M-character name never finished."""
    name = "a_" * 500_000 + "x.weight"
    signal.alarm(60)  # a hang guard, not a speed test: the old regex needs hours here (4 s at 80k)
    try:
        assert not is_norm_layer(name)
    finally:
        signal.alarm(0)
    for norm in ("encoder.layer.0.layernorm.weight", "model.norm.weight", "h.0.ln_1.weight", "x.rms_norm.w"):
        assert is_norm_layer(norm)
    for other in ("subnormal.weight", "denormalizer.proj.weight", "lnx.weight", "my-norm.weight"):
        assert not is_norm_layer(other)


def test_a_tensor_with_a_huge_name_is_skipped_with_its_reason(tmp_path):
    from safetensors.numpy import save_file

    rng = np.random.default_rng(2)
    long_name = "x" * 100_000 + ".weight"
    save_file(
        {
            long_name: rng.standard_normal((30, 20)).astype(np.float32),
            "fc.weight": rng.standard_normal((30, 20)).astype(np.float32),
        },
        str(tmp_path / "m.safetensors"),
    )
    names = [m.name for m in iter_weight_matrices(open_source(tmp_path / "m.safetensors"))]
    assert names == ["fc.weight"]


def test_pickle_sharing_containers_along_a_dag_of_2_to_the_40_paths(tmp_path):
    """The memo lets 40 nested dicts each hold the next one twice: 2**40 paths in a 1 KB pickle.  The
    flattener visits each container once."""
    node: dict = {}
    for _ in range(40):
        node = {"a": node, "b": node}
    path = tmp_path / "dag.pt"
    _torch_zip(path, pickle.dumps(node, protocol=2))
    signal.alarm(60)  # a hang guard: walking every path would take days
    try:
        tensors, _handle, _big = read_torch_zip(path, str(path))
    finally:
        signal.alarm(0)
    assert tensors == {}


@pytest.mark.slow
def test_onnx_graph_of_100k_initializers_is_ordered_in_linear_time(tmp_path):
    """Ordering initializers by first use was quadratic (a list membership test per node input)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    count = 100_000
    inits = [helper.make_tensor(f"c{i}", TensorProto.FLOAT, [1], [float(i)]) for i in range(count)]
    nodes = [helper.make_node("Add", [f"x{i}", f"c{i}"], [f"x{i + 1}"]) for i in range(count)]
    graph = helper.make_graph(
        nodes,
        "chain",
        [helper.make_tensor_value_info("x0", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info(f"x{count}", TensorProto.FLOAT, [1])],
        initializer=inits,
    )
    path = tmp_path / "chain.onnx"
    onnx.save(helper.make_model(graph), str(path))
    signal.alarm(30)  # a hang guard, not a speed test: the quadratic ordering took 53 s here, linear 3 s
    try:
        source = open_source(path)
    finally:
        signal.alarm(0)
    assert [r.name for r in source.tensors()][:3] == ["c0", "c1", "c2"]


@pytest.mark.slow
def test_a_conv_stack_may_store_more_eigenvalues_than_one_matrix_within_the_memory_its_analysis_had(monkeypatch):
    """k min(N, M) pooled eigenvalues of a conv stack may pass the one-matrix bound, only for a stack that the
    conv planner (16 bytes an entry within MemAvailable) would have let an analysis hold."""
    from netspectra.scale.workers import STACK_BYTES_PER_ENTRY

    k, n, m = 100_000, 64, 48  # a kernel of 100k positions pools 4.8M eigenvalues
    pooled = k * m
    assert pooled > codec.MAX_STORED_EIGENVALUES
    monkeypatch.setattr(codec, "available_memory", lambda: k * n * m * STACK_BYTES_PER_ENTRY)
    assert codec.spectrum_limit(n, m, k) == pooled
    evals = np.linspace(0.0, 1.0, pooled)
    np.testing.assert_array_equal(codec.decode_eigenvalues(codec.encode_eigenvalues(evals), pooled, pooled), evals)
    monkeypatch.setattr(codec, "available_memory", lambda: k * n * m * STACK_BYTES_PER_ENTRY - 1)
    assert codec.spectrum_limit(n, m, k) == codec.MAX_STORED_EIGENVALUES
    assert codec.spectrum_limit(4096, 4096, 1) == codec.MAX_STORED_EIGENVALUES
    assert codec.spectrum_limit("64", 48.0, None) == codec.MAX_STORED_EIGENVALUES  # a forged row
    with pytest.raises(ValueError, match="claims"):
        codec.decode_eigenvalues(codec.encode_eigenvalues(evals), pooled)
