import sys

import numpy as np
import pytest

from fixtures_models import build_onnx_model, tiny_mlp_arrays, write_onnx_model
from netspectra.errors import MatrixError, SourceError, UnsafeFileError
from netspectra.io import iter_weight_matrices, open_source


def test_npz(tmp_path):
    arrays = tiny_mlp_arrays()
    arrays["conv.weight"] = np.random.default_rng(0).standard_normal((4, 3, 2)).astype(np.float16)
    path = tmp_path / "w.npz"
    np.savez(path, **arrays)
    src = open_source(path)
    assert src.format == "npz"
    assert [r.name for r in src.tensors()] == list(arrays)
    wms = list(iter_weight_matrices(path))
    assert [(w.name, w.kind, w.num_matrices) for w in wms] == [
        ("fc1.weight", "linear", 1),
        ("fc2.weight", "linear", 1),
        ("conv.weight", "conv1d", 2),
    ]
    np.testing.assert_array_equal(wms[1].load()[0], arrays["fc2.weight"].T)
    np.testing.assert_array_equal(wms[2].load()[1], arrays["conv.weight"][:, :, 1].astype(np.float32))


@pytest.mark.hardening
def test_npz_object_array_is_not_unpickled(tmp_path):
    path = tmp_path / "o.npz"
    np.savez(path, obj=np.array([[object(), 1], [2, 3]], dtype=object), w=np.ones((3, 2)))
    obj, w = iter_weight_matrices(path)
    with pytest.raises(MatrixError):
        obj.load()
    assert w.load().shape == (1, 3, 2)


@pytest.mark.hardening
def test_npy_and_corrupt_numpy_files(tmp_path):
    path = tmp_path / "layer.npy"
    a = np.random.default_rng(1).standard_normal((5, 7))
    np.save(path, a)
    assert open_source(path).format == "npy"
    (wm,) = iter_weight_matrices(path)
    assert wm.name == "layer" and wm.dtype == "F64" and wm.matrix_shape == (7, 5)
    np.testing.assert_array_equal(wm.load()[0], a.T)
    path.write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(SourceError, match="layer.npy"):
        open_source(path)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(SourceError, match="bad.npz"):
        open_source(bad)


# ----------------------------------------------------------------------------------------------- onnx

onnx = pytest.importorskip("onnx")


@pytest.mark.parametrize("external", [False, True])
def test_onnx_initializers(tmp_path, external):
    path = tmp_path / "tiny.onnx"
    arrays = write_onnx_model(path, external=external)
    if external:
        assert (tmp_path / "tiny.onnx.data").is_file()
    src = open_source(path)
    assert src.format == "onnx"
    wms = {w.name: w for w in iter_weight_matrices(path)}
    assert list(wms) == ["embed.weight", "fc1.weight", "fc2.weight", "conv.weight"]  # order of use
    assert [w.kind for w in wms.values()] == ["embedding", "linear", "linear", "conv2d"]
    assert wms["conv.weight"].num_matrices == 9 and wms["conv.weight"].matrix_shape == (4, 3)
    np.testing.assert_array_equal(wms["fc1.weight"].load()[0], arrays["fc1.weight"].T)
    np.testing.assert_array_equal(wms["fc2.weight"].load()[0], arrays["fc2.weight"].T)
    np.testing.assert_array_equal(wms["conv.weight"].load()[4], arrays["conv.weight"][:, :, 1, 1])


@pytest.mark.hardening
def test_onnx_external_data_cannot_escape(tmp_path):
    model, _ = build_onnx_model()
    (tmp_path / "secret.bin").write_bytes(bytes(1000))
    d = tmp_path / "model"
    d.mkdir()
    from onnx import TensorProto

    t = model.graph.initializer[1]
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "../secret.bin"), ("offset", "0"), ("length", str(8 * 16 * 4))):
        e = t.external_data.add()
        e.key, e.value = k, v
    onnx.save_model(model, str(d / "m.onnx"))
    with pytest.raises(UnsafeFileError, match="escapes the model directory"):
        open_source(d / "m.onnx")


@pytest.mark.hardening
def test_onnx_corrupt_and_missing_package(tmp_path, monkeypatch):
    path = tmp_path / "bad.onnx"
    path.write_bytes(b"\x08\x07\x12garbage\xff\xff\xff\xff")
    with pytest.raises(SourceError, match="bad.onnx"):
        open_source(path)
    good = tmp_path / "good.onnx"
    write_onnx_model(good)
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(SourceError, match=r"install netspectra\[onnx\]"):
        open_source(good)


def test_onnx_constant_node_weights(tmp_path):
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(2).standard_normal((6, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Constant", [], ["W"], value=numpy_helper.from_array(w, "W")),
        helper.make_node("MatMul", ["x", "W"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "c",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    path = tmp_path / "c.onnx"
    onnx.save_model(helper.make_model(graph), str(path))
    (wm,) = iter_weight_matrices(path)
    assert wm.name == "W" and wm.kind == "linear"
    np.testing.assert_array_equal(wm.load()[0], w)
