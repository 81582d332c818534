import pickle

import numpy as np
import pytest

from fixtures_models import (
    layer_stack_arrays,
    raw_safetensors,
    write_safetensors,
    write_tiny_mlp_safetensors,
    write_torch_safetensors,
)
from netspectra.errors import MatrixError, NetspectraError, SourceError
from netspectra.io import iter_weight_matrices, open_source
from netspectra.io.safetensors_file import SafetensorsFile


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_values_identical_to_safetensors_package(tmp_path, dtype):
    from safetensors.numpy import load_file

    path = tmp_path / "mlp.safetensors"
    write_tiny_mlp_safetensors(path, dtype=dtype)
    ref = load_file(str(path))
    f = SafetensorsFile(path)
    for name, arr in ref.items():
        got = f.read(name)
        assert got.dtype == (np.float64 if dtype == np.float64 else np.float32)
        np.testing.assert_array_equal(got, arr.astype(got.dtype))


@pytest.mark.parametrize("tdtype", ["bfloat16", "float16", "float32", "float8_e4m3fn", "float8_e5m2"])
def test_torch_dtypes_identical_via_torch(tmp_path, tdtype):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    torch.manual_seed(0)
    t = {"w": (torch.randn(7, 5) * 3).to(getattr(torch, tdtype)), "b": torch.randn(3).to(getattr(torch, tdtype))}
    path = write_torch_safetensors(tmp_path / "t.safetensors", t)
    ref = load_file(str(path))
    f = SafetensorsFile(path)
    for name in t:
        np.testing.assert_array_equal(f.read(name), ref[name].float().numpy())
    assert f.entries["w"].dtype in ("BF16", "F16", "F32", "F8_E4M3", "F8_E5M2")


def test_iter_tiny_mlp(tmp_path):
    path = tmp_path / "mlp.safetensors"
    arrays = write_tiny_mlp_safetensors(path)
    src = open_source(path)
    assert src.format == "safetensors" and src.path == path and src.config == {}
    assert src.metadata == {"format": "np"}
    wms = list(iter_weight_matrices(path))
    assert [w.name for w in wms] == ["fc1.weight", "fc2.weight"]
    assert [w.layer_index for w in wms] == [0, 1]
    assert all(w.kind == "linear" and w.dtype == "F32" and w.num_matrices == 1 for w in wms)
    assert wms[0].matrix_shape == (16, 8) and wms[1].matrix_shape == (16, 4)
    x = wms[1].load()
    assert x.dtype == np.float64 and x.shape == (1, 16, 4)
    np.testing.assert_array_equal(x[0], arrays["fc2.weight"].T)


def test_natural_model_order(tmp_path):
    path = write_safetensors(tmp_path / "s.safetensors", layer_stack_arrays(12))
    names = [w.name for w in iter_weight_matrices(path)]
    assert names == [f"layers.{i}.weight" for i in range(12)]


def test_loader_is_picklable(tmp_path):
    path = tmp_path / "mlp.safetensors"
    arrays = write_tiny_mlp_safetensors(path)
    wm = next(iter(iter_weight_matrices(path)))
    load = pickle.loads(pickle.dumps(wm.load))
    np.testing.assert_array_equal(load()[0], arrays["fc1.weight"])


def test_one_by_n_is_kept_unless_min_dim_2(tmp_path):
    path = write_safetensors(tmp_path / "r.safetensors", {"row.weight": np.arange(6, dtype=np.float32)[None]})
    assert list(iter_weight_matrices(path, min_dim=2)) == []
    (wm,) = iter_weight_matrices(path)
    assert wm.matrix_shape == (6, 1)
    assert wm.load().shape == (1, 6, 1)


def test_integer_tensors(tmp_path):
    arrays = {
        "embeddings.position_ids": np.arange(8, dtype=np.int64)[None].repeat(2, 0),
        "token_type_index": np.zeros((3, 3), np.int32),
        "q.weight": np.arange(12, dtype=np.int8).reshape(4, 3),
        "mask": np.ones((3, 3), bool),
    }
    path = write_safetensors(tmp_path / "i.safetensors", arrays)
    skipped = {}
    (wm,) = iter_weight_matrices(path, on_skip=lambda n, r: skipped.setdefault(n, r))
    assert wm.name == "q.weight" and wm.dtype == "I8"
    assert wm.notes == ("integer weights analyzed without dequantization scale",)
    np.testing.assert_array_equal(wm.load()[0], arrays["q.weight"])
    assert set(skipped) == {"embeddings.position_ids", "token_type_index", "mask"}


# ----------------------------------------------------------------------------------------- corrupt files


def _good(tmp_path):
    path = tmp_path / "model.safetensors"
    write_tiny_mlp_safetensors(path)
    return path, path.read_bytes()


def _expect(path, *fragments, exc=SourceError):
    with pytest.raises(exc) as info:
        open_source(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path.name) in msg
    for frag in fragments:
        assert frag in msg, msg
    return msg


@pytest.mark.hardening
def test_truncated_data(tmp_path):
    path, data = _good(tmp_path)
    n = int.from_bytes(data[:8], "little")
    path.write_bytes(data[: 8 + n + 120])
    _expect(path, "truncated: header says", "file has 120")


@pytest.mark.hardening
def test_truncated_header_and_tiny_files(tmp_path):
    path, data = _good(tmp_path)
    path.write_bytes(data[:50])
    _expect(path, "exceeds the file size")
    path.write_bytes(data[:5])
    _expect(path, "truncated")
    path.write_bytes(b"")
    _expect(path, "truncated")


@pytest.mark.hardening
def test_forged_header_length(tmp_path):
    path, data = _good(tmp_path)
    path.write_bytes((2**63).to_bytes(8, "little") + data[8:])
    _expect(path, "limit")
    path.write_bytes((len(data)).to_bytes(8, "little") + data[8:])
    _expect(path, "exceeds the file size")


@pytest.mark.hardening
def test_bad_json(tmp_path):
    path = tmp_path / "model.safetensors"
    bad = b'{"a": {"dtype": "F32", '
    path.write_bytes(len(bad).to_bytes(8, "little") + bad)
    _expect(path, "not valid JSON")
    path.write_bytes((4).to_bytes(8, "little") + b"\xff\xfe{}")
    _expect(path, "not a safetensors file")
    path.write_bytes((2).to_bytes(8, "little") + b"[]")
    _expect(path, "not a safetensors file")


@pytest.mark.parametrize(
    "entry, fragment",
    [
        ({"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 100]}, "data_offsets span"),
        ({"dtype": "F32", "shape": [2, -2], "data_offsets": [0, 16]}, "invalid shape"),
        ({"dtype": "F32", "shape": [2, 2], "data_offsets": [16, 0]}, "invalid data_offsets"),
        ({"dtype": "F32", "shape": [2, 2]}, "invalid data_offsets"),
        ({"dtype": 3, "shape": [2, 2], "data_offsets": [0, 16]}, "dtype"),
        ("nope", "not an object"),
        ({"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]}, "truncated: header says 64 bytes of data, file has 16"),
    ],
)
@pytest.mark.hardening
def test_invalid_entries(tmp_path, entry, fragment):
    path = tmp_path / "model.safetensors"
    path.write_bytes(raw_safetensors({"w": entry}, bytes(16)))
    _expect(path, fragment)


@pytest.mark.hardening
def test_overlap_and_duplicates(tmp_path):
    path = tmp_path / "model.safetensors"
    hdr = {
        "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
        "b": {"dtype": "F32", "shape": [2, 2], "data_offsets": [8, 24]},
    }
    path.write_bytes(raw_safetensors(hdr, bytes(24)))
    _expect(path, "overlap")
    text = b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    path.write_bytes(len(text).to_bytes(8, "little") + text + bytes(4))
    _expect(path, "duplicate")
    hdr = {"__metadata__": {"x": 1}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
    path.write_bytes(raw_safetensors(hdr, bytes(4)))
    _expect(path, "__metadata__")


def test_padding_and_gaps_are_fine(tmp_path):
    path = tmp_path / "model.safetensors"
    w = np.arange(4, dtype="<f4")
    hdr = {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [8, 24]}}
    path.write_bytes(raw_safetensors(hdr, bytes(8) + w.tobytes(), pad=b"    "))
    np.testing.assert_array_equal(SafetensorsFile(path).read("w"), w.reshape(2, 2))


def test_unknown_dtype_is_yielded_but_fails_on_load(tmp_path):
    path = tmp_path / "model.safetensors"
    w = np.arange(6, dtype="<f4").reshape(3, 2)
    hdr = {
        "a.weight": {"dtype": "F4_E2M1", "shape": [4, 2], "data_offsets": [0, 4]},
        "b.weight": {"dtype": "F32", "shape": [3, 2], "data_offsets": [4, 28]},
    }
    path.write_bytes(raw_safetensors(hdr, bytes(4) + w.tobytes()))
    a, b = iter_weight_matrices(path)
    assert a.name == "a.weight" and a.dtype == "F4_E2M1" and a.matrix_shape == (4, 2)
    with pytest.raises(MatrixError, match="unsupported dtype F4_E2M1"):
        a.load()
    np.testing.assert_array_equal(b.load()[0], w)


def test_errors_share_the_root(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"garbage!garbage!")
    with pytest.raises(NetspectraError):
        open_source(path)


def test_header_is_validated_at_open_not_at_first_next(tmp_path):
    path, data = _good(tmp_path)
    path.write_bytes(data[:-10])
    with pytest.raises(SourceError):
        iter_weight_matrices(path)  # no next() needed


def test_empty_tensor(tmp_path):
    path = write_safetensors(tmp_path / "e.safetensors", {"w": np.zeros((0, 3), np.float32)})
    (wm,) = iter_weight_matrices(path, min_dim=0)
    assert wm.load().shape == (1, 3, 0)


def test_model_order_of_sorted_safetensors_names(tmp_path):
    """Safetensors stores names sorted; the layer index follows the model: embeddings, blocks in natural
    order (2 before 10), within a block attention before the MLP (issue 26), output heads last (lm_head is
    not layer 0)."""
    import numpy as np
    from safetensors.numpy import save_file

    from netspectra.io import iter_weight_matrices
    from netspectra.io.base import natural_key

    names = [
        "lm_head.weight",
        "model.embed_tokens.weight",
        "model.layers.10.mlp.up_proj.weight",
        "model.layers.2.mlp.up_proj.weight",
        "model.layers.2.self_attn.q_proj.weight",
    ]
    path = tmp_path / "m.safetensors"
    save_file({n: np.ones((8, 4), np.float32) for n in names}, str(path))
    assert [w.name for w in iter_weight_matrices(path)] == [
        "model.embed_tokens.weight",
        "model.layers.2.self_attn.q_proj.weight",
        "model.layers.2.mlp.up_proj.weight",
        "model.layers.10.mlp.up_proj.weight",
        "lm_head.weight",
    ]
    huge = "layers." + "9" * 5000 + ".weight"  # digit runs compare without int(): no 4300-digit limit
    assert natural_key("layers.7.weight") < natural_key(huge) and natural_key("a007") == natural_key("a7")
