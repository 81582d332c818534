"""Whole-model compression: the output loads as the original, copies are exact, factored files rebuild."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors import safe_open

from netspectra.denoise import compress_matrix, compress_model, load_factored, sidecar_path
from netspectra.denoise import model as model_module
from netspectra.errors import SourceError, UsageError
from netspectra.io.safetensors_file import SafetensorsFile

COMPRESSED = {"embed.weight", "fc1.weight", "fc2.weight", "proj.weight"}


def raw_tensor(path, name) -> bytes:
    f = SafetensorsFile(path)
    e = f.entries[name]
    with open(path, "rb") as fh:
        fh.seek(e.start)
        return fh.read(e.end - e.start)


def listing(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_dense_output_has_every_tensor_with_its_name_shape_and_dtype(model_file, tmp_path):
    out = tmp_path / "out.safetensors"
    report = compress_model(model_file, out, method="gavish-donoho", factored=False, force=True)
    before, after = SafetensorsFile(model_file), SafetensorsFile(out)
    assert {k: (e.dtype, e.shape) for k, e in after.entries.items()} == {k: (e.dtype, e.shape) for k, e in before.entries.items()}
    assert after.metadata["format"] == "pt" and after.metadata["origin"] == "test"
    assert json.loads(after.metadata["netspectra"]) == {"method": "gavish-donoho", "shrink": "hard", "factored": False}
    assert {layer.name for layer in report.layers} == COMPRESSED
    for t in report.copied:
        assert raw_tensor(out, t.name) == raw_tensor(model_file, t.name), t.name
    reasons = {t.name: t.reason for t in report.copied}
    assert reasons["conv.weight"] == "conv2d kernel"
    assert reasons["attn.qkv.weight"] == "fused QKV tensor"
    assert reasons["head.weight"].startswith("smaller dimension 10 < min_dim 32")
    assert reasons["bad.weight"].endswith("NaN/Inf entries")
    assert reasons["fc1.bias"] == "fewer than 2 dimensions"
    assert report.params_before == report.params_after and report.compression_ratio == 1.0
    assert report.factored_ratio > 1.0
    assert listing(tmp_path).count("out.safetensors") == 1 and not [p for p in listing(tmp_path) if p.startswith(".")]


def test_compressed_matrices_are_the_low_rank_estimates_in_the_stored_dtype(model_file, tmp_path):
    out = tmp_path / "out.safetensors"
    report = compress_model(model_file, out, method="mp-edge", shrink="frobenius", factored=False, force=True)
    before, after = SafetensorsFile(model_file), SafetensorsFile(out)
    tolerance = {"F32": 1e-6, "F16": 2e-3, "BF16": 1e-2}
    for layer in report.layers:
        expected = compress_matrix(before.read(layer.name), "mp-edge", "frobenius")[1].dense()
        got = after.read(layer.name)
        assert got.shape == before.entries[layer.name].shape
        assert np.allclose(got, expected, rtol=0, atol=tolerance[layer.dtype] * np.abs(expected).max()), layer.name
        assert 0 < layer.rank < layer.M
    fc2 = next(layer for layer in report.layers if layer.name == "fc2.weight")
    assert fc2.transposed and (fc2.N, fc2.M) == (96, 48) and fc2.rank == 3  # planted rank 3


def test_factored_output_rebuilds_to_the_dense_output(model_file, tmp_path):
    dense_out, fact_out = tmp_path / "dense.safetensors", tmp_path / "fact.safetensors"
    dense = compress_model(model_file, dense_out, method="bema", factored=False, force=True)
    report = compress_model(model_file, fact_out, method="bema", force=True)
    meta = json.loads(sidecar_path(fact_out).read_text())
    assert sidecar_path(fact_out) == tmp_path / "fact.json"
    assert meta["format"] == "netspectra-factored" and meta["weights"] == "fact.safetensors"
    assert set(meta["factored"]) == COMPRESSED
    stored = SafetensorsFile(fact_out)
    for name, spec in meta["factored"].items():
        rows, cols = spec["shape"]
        assert stored.entries[spec["A"]].shape == (rows, spec["rank"])
        assert stored.entries[spec["B"]].shape == (spec["rank"], cols)
        assert stored.entries[spec["A"]].dtype == spec["dtype"] == SafetensorsFile(model_file).entries[name].dtype
        assert name not in stored.entries
    rebuilt = load_factored(fact_out)
    reference = SafetensorsFile(dense_out)
    assert set(rebuilt) == set(reference.entries)
    for name, values in rebuilt.items():
        assert values.shape == reference.entries[name].shape
        atol = 2e-2 * np.nanmax(np.abs(values), initial=1e-12)
        assert np.allclose(values, reference.read(name), atol=atol, equal_nan=True), name
    assert report.params_after < dense.params_after and report.compression_ratio > 1.3
    assert report.compression_ratio == pytest.approx(dense.factored_ratio)


def test_a_dtype_netspectra_cannot_decode_is_copied_bit_for_bit(model_file, tmp_path, add_raw_tensor):
    payload = np.random.default_rng(1).integers(0, 256, 1600, np.uint8).tobytes()
    add_raw_tensor(model_file, "scales.weight", "F8_E8M0", (40, 40), payload)  # OCP MX scales
    out = tmp_path / "out.safetensors"
    report = compress_model(model_file, out, method="bema", force=True)
    assert {t.name: t.reason for t in report.copied}["scales.weight"] == "F8_E8M0 tensor"
    assert raw_tensor(out, "scales.weight") == payload
    assert SafetensorsFile(out).entries["scales.weight"].dtype == "F8_E8M0"


def test_output_that_is_the_input_is_refused_and_nothing_changes(model_file, tmp_path, monkeypatch):
    original = model_file.read_bytes()
    monkeypatch.chdir(tmp_path)
    link = tmp_path / "link.safetensors"
    link.symlink_to(model_file)
    for target in (model_file, model_file.name, link):
        with pytest.raises(UsageError, match="refusing to overwrite"):
            compress_model(model_file, target, method="bema")
    assert model_file.read_bytes() == original
    assert not [p for p in listing(tmp_path) if p.startswith(".")]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "otsu"}, "unknown method"),
        ({"method": "rank:0"}, "rank:K"),
        ({"shrink": "soft"}, "unknown shrinker"),
        ({"output": "model.safetensors/out.safetensors"}, "is not a directory"),
        ({"output": "."}, "is a directory"),
    ],
)
def test_bad_requests_raise_usage_errors(model_file, tmp_path, monkeypatch, kwargs, message):
    monkeypatch.chdir(tmp_path)
    args = {"output": "out.safetensors", "method": "bema", "force": True, **kwargs}
    with pytest.raises(UsageError, match=message):
        compress_model(model_file, args.pop("output"), **args)
    assert "out.safetensors" not in listing(tmp_path)


def test_factor_names_that_exist_already_are_refused(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "m.safetensors"
    rng = np.random.default_rng(0)
    save_file({"w": rng.standard_normal((64, 64)).astype(np.float32), "w.A": np.zeros(2, np.float32)}, str(path))
    with pytest.raises(UsageError, match=r"already has a tensor named w\.A"):
        compress_model(path, tmp_path / "o.safetensors", method="bema", force=True)
    compress_model(path, tmp_path / "o.safetensors", method="bema", factored=False, force=True)  # dense: no such clash


def test_an_interrupted_run_leaves_no_output_and_no_temporary_files(model_file, tmp_path, monkeypatch):
    calls = []

    compress_svd = model_module.compress_svd

    def interrupted(*args, **kwargs):
        if calls:
            raise KeyboardInterrupt
        calls.append(1)
        return compress_svd(*args, **kwargs)

    monkeypatch.setattr(model_module, "compress_svd", interrupted)
    with pytest.raises(KeyboardInterrupt):
        compress_model(model_file, tmp_path / "out.safetensors", method="bema", factored=True)
    assert listing(tmp_path) == ["model.safetensors"]


def test_include_exclude_and_min_dim_choose_what_is_compressed(model_file, tmp_path):
    out = tmp_path / "out.safetensors"
    report = compress_model(model_file, out, method="rank:2", exclude="embed", min_dim=8, force=True)
    assert {layer.name for layer in report.layers} == (COMPRESSED - {"embed.weight"}) | {"head.weight"}
    assert {t.name: t.reason for t in report.copied}["embed.weight"] == "matched by exclude"


def test_report_frames_and_dict(model_file, tmp_path):
    report = compress_model(model_file, tmp_path / "out.safetensors", method="energy:0.9", factored=True, force=True)
    frame = report.to_frame()
    assert list(frame["name"]) == [layer.name for layer in report.layers]
    assert {"rank", "params_before", "params_after", "rel_fro_error", "mean_pred_cos2_left"} <= set(frame.columns)
    assert set(report.copied_frame()["name"]) == {t.name for t in report.copied}
    document = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert document["summary"]["num_compressed"] == len(report.layers) == 4
    assert document["summary"]["copied_reasons"]["fewer than 2 dimensions"] == 2
    assert document["summary"]["function_judge"] == "bound" and document["summary"]["function_mean_cosine"] is None


def test_torch_checkpoint_input_keeps_dtypes(tmp_path):
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(0)
    state = {
        "lin.weight": torch.randn(64, 48, generator=gen).to(torch.bfloat16),
        "lin.bias": torch.randn(64, generator=gen).to(torch.bfloat16),
        "emb.weight": torch.randn(100, 40, generator=gen).half(),
        "steps": torch.tensor([3], dtype=torch.int64),
    }
    torch.save(state, tmp_path / "ckpt.pt")
    out = tmp_path / "out.safetensors"
    report = compress_model(tmp_path / "ckpt.pt", out, method="rank:4", factored=False, force=True)
    with safe_open(str(out), framework="pt") as f:
        assert set(f.keys()) == set(state)
        for name, tensor in state.items():
            assert f.get_tensor(name).dtype == tensor.dtype and f.get_tensor(name).shape == tensor.shape
        assert torch.equal(f.get_tensor("lin.bias"), state["lin.bias"])
        assert torch.equal(f.get_tensor("steps"), state["steps"])
    assert {layer.name: layer.rank for layer in report.layers} == {"lin.weight": 4, "emb.weight": 4}


def test_load_factored_needs_its_sidecar(model_file, tmp_path):
    out = tmp_path / "out.safetensors"
    compress_model(model_file, out, method="bema", factored=True, force=True)
    meta = sidecar_path(out)
    document = json.loads(meta.read_text())
    document["factored"]["fc1.weight"]["A"] = "nope"
    meta.write_text(json.dumps(document))
    with pytest.raises(SourceError, match="missing from out.safetensors: nope"):
        load_factored(out)
    meta.unlink()
    with pytest.raises(SourceError, match="sidecar"):
        load_factored(out)
