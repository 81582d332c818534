"""Keras files (issue 26, item 8): ``.keras`` archives, ``.weights.h5`` and legacy ``.h5``, read with h5py.

Keras 3 itself (torch backend) writes the files; each record is checked against Keras's own forward
pass: a Dense kernel read as W must give ``F.linear(x, W) == dense(x)``, a Conv2D kernel
``F.conv2d(x, W) == conv(x)`` (channels first), a DepthwiseConv2D kernel a grouped conv, an LSTM's kernels
``torch.nn.LSTM``'s ``weight_ih``/``weight_hh``, MultiHeadAttention's projections ``F.linear`` per head.
A legacy file written by hand with h5py (Keras 2's layout: ``model_weights``, ``layer_names``,
``weight_names`` ending in ``:0``) needs no Keras.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from netspectra.cli import main
from netspectra.errors import MatrixError
from netspectra.io import iter_weight_matrices, open_source

os.environ.setdefault("KERAS_BACKEND", "torch")

h5py = pytest.importorskip("h5py")


def _keras():
    pytest.importorskip("torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip(f"keras runs the {keras.backend.backend()} backend here")
    return keras


def _image_model(keras):
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((9, 9, 3)),
            keras.layers.Conv2D(6, 3, name="conv"),
            keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="depthwise"),
            keras.layers.Flatten(),
            keras.layers.Dense(16, name="fc"),
            keras.layers.Dense(4, name="dense"),
        ],
        name="image",
    )


def _text_model(keras):
    keras.utils.set_random_seed(1)
    tokens = keras.Input((10,), dtype="int32")
    x = keras.layers.Embedding(50, 16, name="embedding")(tokens)
    x = keras.layers.MultiHeadAttention(num_heads=2, key_dim=8, name="mha")(x, x)
    x = keras.layers.Conv1D(16, 3, padding="same", name="conv1d")(x)
    x = keras.layers.LSTM(12, name="lstm")(x)
    x = keras.Sequential(
        [keras.layers.Dense(6, name="inner"), keras.layers.BatchNormalization(name="batch_normalization")], name="sub"
    )(x)
    return keras.Model(tokens, keras.layers.Dense(4, name="head")(x), name="text")


def _saved(model, folder: Path) -> list[Path]:
    """The model as a .keras archive, a Keras 3 .weights.h5 and a legacy .h5."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "model.keras", folder / "model.weights.h5", folder / "legacy.h5"]
    model.save(paths[0])
    model.save_weights(paths[1])
    model.save(paths[2])
    return paths


def _records(path: Path) -> dict[str, np.ndarray]:
    source = open_source(path)
    assert source.format == "keras"
    return {r.name: r.load() for r in source.tensors()}


IMAGE_NAMES = {
    "conv/kernel": (6, 3, 3, 3),
    "conv/bias": (6,),
    "depthwise/kernel": (12, 1, 3, 3),
    "depthwise/bias": (12,),
    "fc/kernel": (16, 300),
    "fc/bias": (16,),
    "dense/kernel": (4, 16),
    "dense/bias": (4,),
}


@pytest.mark.slow
def test_image_model_reads_as_pytorch_weights_in_every_keras_file(tmp_path):
    keras = _keras()
    import torch
    import torch.nn.functional as F

    model = _image_model(keras)
    x = np.random.default_rng(2).standard_normal((2, 9, 9, 3)).astype(np.float32)
    conv_out = keras.ops.convert_to_numpy(model.get_layer("conv")(x))
    depth_out = keras.ops.convert_to_numpy(model.get_layer("depthwise")(conv_out))
    flat = depth_out.reshape(2, -1)
    fc_out = keras.ops.convert_to_numpy(model.get_layer("fc")(flat))
    for path in _saved(model, tmp_path):
        records = _records(path)
        assert {name: w.shape for name, w in records.items()} == IMAGE_NAMES, path.name
        t = {name: torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32)) for name, w in records.items()}
        nchw = torch.from_numpy(x).permute(0, 3, 1, 2)
        ours = F.conv2d(nchw, t["conv/kernel"], t["conv/bias"])
        np.testing.assert_allclose(ours.permute(0, 2, 3, 1).numpy(), conv_out, rtol=1e-5, atol=1e-5)
        ours = F.conv2d(ours, t["depthwise/kernel"], t["depthwise/bias"], groups=6)
        np.testing.assert_allclose(ours.permute(0, 2, 3, 1).numpy(), depth_out, rtol=1e-5, atol=1e-5)
        ours = F.linear(torch.from_numpy(flat), t["fc/kernel"], t["fc/bias"])
        np.testing.assert_allclose(ours.numpy(), fc_out, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_text_model_reads_as_pytorch_weights_in_every_keras_file(tmp_path):
    keras = _keras()
    import torch
    import torch.nn.functional as F

    model = _text_model(keras)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 10, 16)).astype(np.float32)
    mha = model.get_layer("mha")
    query = keras.ops.convert_to_numpy(mha._query_dense(x))  # (2, 10, heads, key_dim)
    attended = keras.ops.convert_to_numpy(mha._output_dense(query))
    lstm_out = keras.ops.convert_to_numpy(model.get_layer("lstm")(x))
    conv_out = keras.ops.convert_to_numpy(model.get_layer("conv1d")(x))
    expected = {
        "embedding/embeddings": (50, 16),
        **{f"mha/{p}/kernel": (16, 16) for p in ("query", "key", "value", "attention_output")},
        **{f"mha/{p}/bias": (16,) for p in ("query", "key", "value", "attention_output")},
        "conv1d/kernel": (16, 16, 3),
        "conv1d/bias": (16,),
        "lstm/lstm_cell/kernel": (48, 16),
        "lstm/lstm_cell/recurrent_kernel": (48, 12),
        "lstm/lstm_cell/bias": (48,),
        "sub/inner/kernel": (6, 12),
        "sub/inner/bias": (6,),
        **{f"sub/batch_normalization/{v}": (6,) for v in ("gamma", "beta", "moving_mean", "moving_variance")},
        "head/kernel": (4, 6),
        "head/bias": (4,),
    }
    for path in _saved(model, tmp_path):
        records = _records(path)
        assert {name: w.shape for name, w in records.items()} == expected, path.name
        t = {name: torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32)) for name, w in records.items()}
        xt = torch.from_numpy(x)
        ours = F.linear(xt, t["mha/query/kernel"], t["mha/query/bias"]).reshape(query.shape)
        np.testing.assert_allclose(ours.numpy(), query, rtol=1e-5, atol=1e-5)
        ours = F.linear(ours.reshape(2, 10, 16), t["mha/attention_output/kernel"], t["mha/attention_output/bias"])
        np.testing.assert_allclose(ours.numpy(), attended, rtol=1e-5, atol=1e-5)
        ours = F.conv1d(xt.transpose(1, 2), t["conv1d/kernel"], t["conv1d/bias"], padding=1).transpose(1, 2)
        np.testing.assert_allclose(ours.numpy(), conv_out, rtol=1e-5, atol=1e-5)
        lstm = torch.nn.LSTM(16, 12, batch_first=True)  # gates i, f, g, o: Keras's i, f, c, o
        with torch.no_grad():
            lstm.weight_ih_l0.copy_(t["lstm/lstm_cell/kernel"])
            lstm.weight_hh_l0.copy_(t["lstm/lstm_cell/recurrent_kernel"])
            lstm.bias_ih_l0.copy_(t["lstm/lstm_cell/bias"])
            lstm.bias_hh_l0.zero_()
            ours = lstm(xt)[0][:, -1]
        np.testing.assert_allclose(ours.numpy(), lstm_out, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_analyze_a_keras_archive_gives_a_row_per_matrix_in_model_order(tmp_path):
    keras = _keras()
    (path, *_) = _saved(_text_model(keras), tmp_path)
    assert main(["analyze", str(path), "-o", str(tmp_path / "rows.csv"), "--quiet", "--min-dim", "4"]) == 0
    import pandas as pd

    rows = pd.read_csv(tmp_path / "rows.csv")
    assert list(rows["name"]) == [
        "embedding/embeddings",
        "mha/query/kernel",
        "mha/key/kernel",
        "mha/value/kernel",
        "mha/attention_output/kernel",
        "conv1d/kernel",
        "lstm/lstm_cell/kernel",
        "lstm/lstm_cell/recurrent_kernel",
        "sub/inner/kernel",
        "head/kernel",
    ]
    assert dict(zip(rows["name"], rows["kind"]))["conv1d/kernel"] == "conv1d"
    assert dict(zip(rows["name"], rows["kind"]))["embedding/embeddings"] == "embedding"


def _legacy_file(path: Path, weights: dict[str, np.ndarray], config: dict | None = None) -> Path:
    """A Keras 2 ``model.save('x.h5')`` file: ``model_weights/<layer>/<layer>/<variable>:0``."""
    with h5py.File(path, "w") as f:
        group = f.create_group("model_weights")
        layers: dict[str, list[str]] = {}
        for name, value in weights.items():
            layers.setdefault(name.split("/")[0], []).append(name)
            group.create_dataset(f"{name.split('/')[0]}/{name}", data=value)
        group.attrs["layer_names"] = [layer.encode() for layer in layers]
        for layer, names in layers.items():
            group[layer].attrs["weight_names"] = [n.encode() for n in names]
        if config is not None:
            f.attrs["model_config"] = json.dumps(config).encode()
    return path


def test_keras2_legacy_file_without_keras(tmp_path):
    rng = np.random.default_rng(4)
    weights = {
        "block1_conv1/kernel:0": rng.standard_normal((3, 3, 3, 8)).astype(np.float32),
        "block1_conv1/bias:0": rng.standard_normal(8).astype(np.float32),
        "fc1/kernel:0": rng.standard_normal((32, 10)).astype(np.float32),
        "attention/query/kernel:0": rng.standard_normal((16, 2, 4)).astype(np.float32),
        "attention/attention_output/kernel:0": rng.standard_normal((2, 4, 16)).astype(np.float32),
        "mixer/kernel:0": rng.standard_normal((5, 16, 3)).astype(np.float32),
    }
    config = {
        "class_name": "Functional",
        "config": {
            "name": "model",
            "layers": [
                {"class_name": "MultiHeadAttention", "config": {"name": "attention"}},
                {"class_name": "EinsumDense", "config": {"name": "mixer", "equation": "abc,dce->abde"}},
            ],
        },
    }
    records = {r.name: r for r in open_source(_legacy_file(tmp_path / "vgg.h5", weights, config)).tensors()}
    shapes = {name: r.shape for name, r in records.items()}
    assert shapes == {
        "block1_conv1/kernel": (8, 3, 3, 3),
        "block1_conv1/bias": (8,),
        "fc1/kernel": (10, 32),
        "attention/query/kernel": (8, 16),
        "attention/attention_output/kernel": (16, 8),
        "mixer/kernel": (15, 16),
    }
    np.testing.assert_array_equal(records["block1_conv1/kernel"].load(), weights["block1_conv1/kernel:0"].transpose(3, 2, 0, 1))
    np.testing.assert_array_equal(records["fc1/kernel"].load(), weights["fc1/kernel:0"].T)
    np.testing.assert_array_equal(records["attention/query/kernel"].load(), weights["attention/query/kernel:0"].reshape(16, 8).T)
    mixer = weights["mixer/kernel:0"]  # kernel axes d (5), c (16, contracted), e (3): rows (d, e), columns c
    np.testing.assert_array_equal(records["mixer/kernel"].load(), mixer.transpose(0, 2, 1).reshape(15, 16))


def test_a_kernel_of_unknown_layout_is_an_error_row_not_a_guess(tmp_path):
    """Keras 3 stores variables by position; a 3-D kernel of a layer whose class nothing tells (an
    EinsumDense under a custom name, no config) is not silently read as a conv."""
    path = tmp_path / "custom.weights.h5"
    with h5py.File(path, "w") as f:
        variables = f.create_group("layers/attention/vars")
        variables.attrs["name"] = "attention"
        variables.create_dataset("0", data=np.ones((4, 16, 8), np.float32))
        mha = f.create_group("layers/multi_head_attention/query_dense/vars")
        mha.attrs["name"] = "query"
        mha.create_dataset("0", data=np.ones((16, 2, 8), np.float32))
        f.create_group("layers/multi_head_attention/vars").attrs["name"] = "mha"
    matrices = {m.name: m for m in iter_weight_matrices(path, min_dim=1)}
    assert set(matrices) == {"attention/0", "mha/query/kernel"}
    assert matrices["mha/query/kernel"].matrix_shape == (16, 16)
    with pytest.raises(MatrixError, match="3-D 0 of a layer of unknown class: its matrix layout is not known"):
        matrices["attention/0"].load()
