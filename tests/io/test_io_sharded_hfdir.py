import json

import numpy as np
import pytest

from fixtures_models import (
    gpt2_like_arrays,
    rng,
    save_torch,
    tiny_mlp_arrays,
    write_safetensors,
    write_sharded,
    write_tiny_mlp_safetensors,
)
from netspectra.errors import SourceError, UnsafeFileError
from netspectra.io import NOTE_UNSPLIT, content_hash, iter_weight_matrices, open_source


def _oriented(a):
    return a if a.shape[0] >= a.shape[1] else a.T


def test_sharded_index_file_and_directory(tmp_path):
    tensors = write_sharded(tmp_path / "m", n_shards=3)
    index = tmp_path / "m" / "model.safetensors.index.json"
    for source, fmt in ((index, "safetensors-sharded"), (tmp_path / "m", "safetensors-sharded")):
        src = open_source(source)
        assert src.format == fmt
        wms = list(iter_weight_matrices(source))
        assert [w.name for w in wms] == ["embed_tokens.weight"] + [f"layers.{i}.weight" for i in range(12)]
        assert wms[0].kind == "embedding"
        for w in wms:
            np.testing.assert_array_equal(w.load()[0], _oriented(tensors[w.name]))
        assert {w.source.rsplit("/", 1)[-1] for w in wms} == {f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)}


def test_shards_are_opened_lazily(tmp_path):
    d = tmp_path / "m"
    write_sharded(d, {"a.weight": np.ones((3, 3), np.float32), "b.weight": np.ones((3, 3), np.float32)})
    (d / "model-00002-of-00002.safetensors").write_bytes(b"\x10" + bytes(7) + b"{}")  # corrupt second shard
    it = iter_weight_matrices(d)  # opening the source reads no shard header
    # every header is read before the first matrix, to yield them in model order (issue 26)
    with pytest.raises(SourceError, match="model-00002-of-00002.safetensors"):
        next(it)


@pytest.mark.parametrize("bad", ["../evil.safetensors", "/etc/passwd.safetensors", "sub/../../x.safetensors"])
def test_index_escaping_the_directory_is_refused(tmp_path, bad):
    d = tmp_path / "m"
    d.mkdir()
    (tmp_path / "evil.safetensors").write_bytes(b"")
    (d / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"w": bad}}))
    with pytest.raises(UnsafeFileError, match="escapes|absolute"):
        open_source(d)
    with pytest.raises(UnsafeFileError):
        open_source(d / "model.safetensors.index.json")


def test_index_problems(tmp_path):
    d = tmp_path / "m"
    write_sharded(d)
    index = d / "model.safetensors.index.json"
    obj = json.loads(index.read_text())
    obj["weight_map"]["ghost.weight"] = "model-00009-of-00009.safetensors"
    index.write_text(json.dumps(obj))
    with pytest.raises(SourceError, match="missing shard model-00009"):
        open_source(d)
    obj["weight_map"]["ghost.weight"] = "model-00001-of-00002.safetensors"
    index.write_text(json.dumps(obj))
    with pytest.raises(SourceError, match="ghost.weight is listed in the index but missing"):
        list(iter_weight_matrices(d))
    index.write_text("{not json")
    with pytest.raises(SourceError, match="invalid index JSON"):
        open_source(d)
    index.write_text(json.dumps({"metadata": {}}))
    with pytest.raises(SourceError, match="weight_map"):
        open_source(d)


def test_hf_dir_prefers_safetensors_and_exposes_config(tmp_path):
    torch = pytest.importorskip("torch")
    arrays = write_tiny_mlp_safetensors(tmp_path / "model.safetensors")
    save_torch(tmp_path / "pytorch_model.bin", {"other.weight": torch.ones(5, 5)})
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mlp", "num_attention_heads": 2}))
    src = open_source(tmp_path)
    assert src.format == "hf-dir" and src.path == tmp_path
    assert src.config == {"model_type": "mlp", "num_attention_heads": 2}
    assert [w.name for w in iter_weight_matrices(tmp_path)] == ["fc1.weight", "fc2.weight"]
    assert content_hash(tmp_path) == content_hash(tmp_path / "model.safetensors")
    (tmp_path / "model.safetensors").unlink()
    assert [w.name for w in iter_weight_matrices(tmp_path)] == ["other.weight"]
    assert open_source(tmp_path).format == "hf-dir"
    del arrays


def test_hf_dir_with_sharded_torch_bins(tmp_path):
    torch = pytest.importorskip("torch")
    a, b = torch.randn(4, 3), torch.randn(6, 3)
    save_torch(tmp_path / "pytorch_model-00001-of-00002.bin", {"a.weight": a})
    save_torch(tmp_path / "pytorch_model-00002-of-00002.bin", {"b.weight": b})
    (tmp_path / "pytorch_model.bin.index.json").write_text(
        json.dumps(
            {"weight_map": {"a.weight": "pytorch_model-00001-of-00002.bin", "b.weight": "pytorch_model-00002-of-00002.bin"}}
        )
    )
    (tmp_path / "config.json").write_text("{}")
    wa, wb = iter_weight_matrices(tmp_path)
    np.testing.assert_array_equal(wa.load()[0], a.numpy())
    np.testing.assert_array_equal(wb.load()[0], b.numpy())


def test_directory_without_config_and_without_weights(tmp_path):
    write_safetensors(tmp_path / "weights.safetensors", tiny_mlp_arrays())
    assert open_source(tmp_path).format == "safetensors"
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text("{}")
    with pytest.raises(SourceError, match="no recognizable weights"):
        open_source(empty)
    (empty / "config.json").write_text("{oops")
    with pytest.raises(SourceError, match="config.json"):
        open_source(empty)


def test_a_folder_of_several_weight_files_none_the_models_lists_them(tmp_path):
    """Two .gguf (or .onnx, .npz, torch) files of which none is the model's by name: the message names them."""
    for name in ("model-q8_0.gguf", "model-q4_k_m.gguf", "README.md"):
        (tmp_path / name).write_bytes(b"GGUF")
    with pytest.raises(
        SourceError, match=r": 2 weight files and nothing says which is the model: model-q4_k_m\.gguf, model-q8_0\.gguf;"
    ):
        open_source(tmp_path)


def test_several_safetensors_without_index(tmp_path):
    write_safetensors(tmp_path / "part1.safetensors", {"a.weight": np.ones((3, 2), np.float32)})
    write_safetensors(tmp_path / "part2.safetensors", {"b.weight": np.ones((3, 2), np.float32)})
    src = open_source(tmp_path)
    assert src.format == "safetensors-sharded"
    assert [w.name for w in iter_weight_matrices(src)] == ["a.weight", "b.weight"]
    write_safetensors(tmp_path / "part3.safetensors", {"a.weight": np.ones((3, 2), np.float32)})
    with pytest.raises(SourceError, match="appears in both"):
        open_source(tmp_path)


def test_content_hash(tmp_path):
    import hashlib

    path = tmp_path / "m.safetensors"
    write_tiny_mlp_safetensors(path)
    assert content_hash(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    d = tmp_path / "sharded"
    write_sharded(d)
    h1 = content_hash(d)
    assert h1 == content_hash(d / "model.safetensors.index.json") and len(h1) == 64
    write_sharded(d, {k: v + 1 for k, v in write_sharded(tmp_path / "tmp").items()})
    assert content_hash(d) != h1
    with pytest.raises(SourceError):
        content_hash(tmp_path / "missing")


# ----------------------------------------------------------------------------------------- fused QKV with config


def _neox(d=8, heads=2):
    w = rng(3).standard_normal((3 * d, d)).astype(np.float32)
    return {"gpt_neox.layers.0.attention.query_key_value.weight": w}, w


def test_query_key_value_split_with_config(tmp_path):
    tensors, w = _neox()
    write_safetensors(tmp_path / "model.safetensors", tensors)
    (tmp_path / "config.json").write_text(json.dumps({"num_attention_heads": 2, "hidden_size": 8}))
    q, k, v = iter_weight_matrices(tmp_path)
    assert [x.kind for x in (q, k, v)] == ["attention_q", "attention_k", "attention_v"]
    assert q.name.endswith("query_key_value.weight[q]")
    per_head = w.reshape(2, 3, 4, 8)  # [head][q,k,v][head_dim][d]
    for i, part in enumerate((q, k, v)):
        np.testing.assert_array_equal(part.load()[0], per_head[:, i].reshape(8, 8))
    # the same file read alone picks up the sibling config.json
    assert len(list(iter_weight_matrices(tmp_path / "model.safetensors"))) == 3


@pytest.mark.parametrize(
    "config",
    [
        None,
        {"hidden_size": 8},
        {"num_attention_heads": 2, "multi_query": True},
        {"num_attention_heads": 2, "num_key_value_heads": 1},
    ],
)
def test_query_key_value_left_unsplit_without_layout(tmp_path, config):
    tensors, w = _neox()
    write_safetensors(tmp_path / "model.safetensors", tensors)
    if config is not None:
        (tmp_path / "config.json").write_text(json.dumps(config))
    (wm,) = iter_weight_matrices(tmp_path)
    assert wm.kind == "linear" and wm.notes == (NOTE_UNSPLIT,) and wm.matrix_shape == (24, 8)


def test_gpt2_layout(tmp_path):
    arrays = gpt2_like_arrays()
    write_safetensors(tmp_path / "model.safetensors", arrays)
    wms = {w.name: w for w in iter_weight_matrices(tmp_path)}
    assert set(wms) == {
        "h.0.attn.c_attn.weight[q]",
        "h.0.attn.c_attn.weight[k]",
        "h.0.attn.c_attn.weight[v]",
        "h.0.attn.c_proj.weight",
        "h.0.mlp.c_fc.weight",
        "h.0.mlp.c_proj.weight",
        "wte.weight",
        "wpe.weight",
    }
    assert wms["wte.weight"].kind == wms["wpe.weight"].kind == "embedding"
    c = arrays["h.0.attn.c_attn.weight"]
    for i, s in enumerate("qkv"):
        wm = wms[f"h.0.attn.c_attn.weight[{s}]"]
        assert wm.kind == f"attention_{s}" and wm.shape == (12, 36) and wm.matrix_shape == (12, 12)
        np.testing.assert_array_equal(wm.load()[0], c[:, 12 * i : 12 * (i + 1)])
