"""AlphaPruning's layer-wise allocation (issue 18, part 1; issue 27, item 7), magnitude pruning and ``netspectra prune``.

The allocation is checked against the authors' formula written out here (``ww_sparsity`` of the
AlphaPruning code: block means when block-wise, min-max map into [1 - epsilon, 1 + epsilon], scale to the
parameter-weighted target) on their published alpha_peak values of LLaMA-7B and LLaMA-2-7B
(tests/data/alphapruning, MIT), and for what the additions guarantee: the weighted mean is the target, no
layer above MAX_SPARSITY, a smaller alpha never pruned more, a layer without alpha at the mean ratio.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from safetensors.numpy import load_file, save_file

from netspectra.act.blocks import OUTSIDE_BLOCKS, block_scope, split_block
from netspectra.act.pruning import MAX_SPARSITY, PruningOptions, alpha_allocation, magnitude_prune, plan_pruning
from netspectra.cli import main
from netspectra.diagnose.model import ModelReport
from netspectra.errors import UsageError
from netspectra.pipeline import analyze, analyze_array
from netspectra.rmt.tail_tests import fit_power_law_xmin_peak

DATA = Path(__file__).resolve().parents[1] / "data" / "alphapruning"
#: LLaMA-7B / LLaMA-2-7B: 32 blocks of these 7 linear layers (the order of the authors' find_layers), d = 4096, ff = 11008.
LLAMA_LAYERS = (
    ("self_attn.q_proj", 4096 * 4096),
    ("self_attn.k_proj", 4096 * 4096),
    ("self_attn.v_proj", 4096 * 4096),
    ("self_attn.o_proj", 4096 * 4096),
    ("mlp.gate_proj", 11008 * 4096),
    ("mlp.up_proj", 11008 * 4096),
    ("mlp.down_proj", 4096 * 11008),
)


def reference_allocation(alphas, sizes, sparsity, s1=0.7, s2=1.3, layers_per_block=None):
    """AlphaPruning's ww_sparsity, written out from the paper (no clipping): with ``layers_per_block`` the
    block-wise mapping (each run of that many consecutive layers scored by its mean alpha)."""
    scores = np.asarray(alphas, dtype=float)
    if layers_per_block:
        scores = np.repeat(scores.reshape(-1, layers_per_block).mean(axis=1), layers_per_block)
    ratios = (scores - scores.min()) / (scores.max() - scores.min()) * (s2 - s1) + s1
    return ratios * sizes.sum() * sparsity / (sizes * ratios).sum()


@pytest.mark.parametrize("model", ["llama-7b-hf", "llama2-7b-hf"])
@pytest.mark.parametrize("sparsity", [0.5, 0.6, 0.7])
def test_default_allocation_equals_ww_sparsity_on_the_published_llama_alphas(model, sparsity):
    """Issue 27: the authors' defaults are block-wise, alpha_peak and epsilon 0.3; we mapped per matrix with (0.8, 1.2)."""
    alphas = np.load(DATA / model / "alpha_peak.npy")
    names = [f"model.layers.{b}.{layer}.weight" for b in range(32) for layer, _ in LLAMA_LAYERS]
    sizes = np.tile([size for _, size in LLAMA_LAYERS], 32).astype(float)
    assert alphas.shape == (224,)
    options = PruningOptions(sparsity)
    assert (options.mapping, options.xmin, options.ratio_range) == ("block", "peak", (0.7, 1.3))
    blocks = block_scope(names).blocks
    assert blocks[:8] == ("model.layers.0",) * 7 + ("model.layers.1",)
    ours = alpha_allocation(alphas, sizes, sparsity, options.ratio_range, blocks)
    np.testing.assert_allclose(ours, reference_allocation(alphas, sizes, sparsity, layers_per_block=7), rtol=0, atol=1e-12)
    per_matrix = alpha_allocation(alphas, sizes, sparsity, options.ratio_range)
    np.testing.assert_allclose(per_matrix, reference_allocation(alphas, sizes, sparsity), rtol=0, atol=1e-12)
    assert np.ptp(ours.reshape(32, 7), axis=1).max() == 0.0  # one ratio per block


def test_allocation_equals_the_papers_formula_where_nothing_clips():
    rng = np.random.default_rng(0)
    alphas, sizes = rng.uniform(2.0, 6.0, 30), rng.integers(1_000, 50_000, 30).astype(float)
    ours = alpha_allocation(alphas, sizes, 0.5)
    np.testing.assert_allclose(ours, reference_allocation(alphas, sizes, 0.5), rtol=1e-12)
    assert np.isclose((ours * sizes).sum() / sizes.sum(), 0.5)
    order = np.argsort(alphas)
    assert np.all(np.diff(ours[order]) >= 0)  # a smaller alpha (better trained) is never pruned more


def test_clipping_keeps_the_target_and_the_cap():
    alphas, sizes = np.array([2.0, 3.0, 8.0]), np.array([10_000.0, 10_000.0, 100.0])
    ours = alpha_allocation(alphas, sizes, 0.9, (0.5, 1.5))
    assert ours.max() <= MAX_SPARSITY + 1e-12 and ours[2] == pytest.approx(MAX_SPARSITY)
    assert (ours * sizes).sum() / sizes.sum() == pytest.approx(0.9)
    assert reference_allocation(alphas, sizes, 0.9, 0.5, 1.5)[2] > 1.0  # the unclipped formula prunes > 100%


def test_layers_without_alpha_get_the_mean_ratio_and_ties_are_uniform():
    ours = alpha_allocation(np.array([np.nan, 3.0, 5.0]), np.ones(3), 0.6)
    assert ours[0] == pytest.approx(0.6) and ours[1] < ours[2]
    np.testing.assert_allclose(alpha_allocation(np.full(4, 3.0), np.ones(4), 0.3), 0.3)
    with pytest.raises(UsageError):
        alpha_allocation(np.ones(2), np.ones(2), 1.0)


def test_magnitude_prune_zeroes_exactly_the_smallest_entries():
    w = np.arange(1.0, 101.0).reshape(10, 10) * np.where(np.arange(100).reshape(10, 10) % 2, -1, 1)
    pruned = magnitude_prune(w, 0.3)
    assert np.count_nonzero(pruned == 0) == 30
    assert np.abs(w[pruned == 0]).max() < np.abs(w[pruned != 0]).min()
    np.testing.assert_array_equal(magnitude_prune(w, 0.0), w)


@pytest.fixture()
def model(tmp_path):
    rng = np.random.default_rng(1)
    tensors = {f"layers.{i}.weight": (rng.standard_t(2.5 + i, (128, 96)) / 10).astype(np.float32) for i in range(4)}
    tensors["embed_tokens.weight"] = rng.standard_normal((200, 96)).astype(np.float32)
    path = tmp_path / "m.safetensors"
    save_file(tensors, str(path))
    return path


def test_plan_skips_embeddings_and_reaches_the_target(model):
    plan = plan_pruning(analyze(model), 0.5, mapping="matrix")
    assert [layer.name for layer in plan.layers] == [f"layers.{i}.weight" for i in range(4)]
    assert plan.achieved == pytest.approx(0.5)
    assert plan_pruning(analyze(model), 0.5, uniform=True).to_dict()["sparsity"] == {f"layers.{i}.weight": 0.5 for i in range(4)}


def test_prune_command_writes_ratios_and_a_pruned_model(model, tmp_path, capsys):
    out, pruned = tmp_path / "ratios.yaml", tmp_path / "pruned.safetensors"
    assert main(["prune", str(model), "--sparsity", "0.6", "-o", str(out), "--write", str(pruned)]) == 0
    plan = yaml.safe_load(out.read_text())
    assert plan["target_sparsity"] == 0.6 and plan["achieved_sparsity"] == pytest.approx(0.6)
    weights = load_file(str(pruned))
    for name, sparsity in plan["sparsity"].items():
        assert np.mean(weights[name] == 0) == pytest.approx(sparsity, abs=1e-3)
    np.testing.assert_array_equal(weights["embed_tokens.weight"], load_file(str(model))["embed_tokens.weight"])
    capsys.readouterr()
    assert main(["prune", str(model), "--sparsity", "0.6", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["method"].startswith("alpha-pruning")


def test_prune_refuses_to_overwrite_its_input_and_bad_outputs(model, tmp_path, capsys):
    assert main(["prune", str(model), "--sparsity", "0.5", "--write", str(model)]) == 2
    assert "refusing to overwrite an input file" in capsys.readouterr().err
    assert main(["prune", str(model), "--sparsity", "0.5", "-o", str(tmp_path / "r.txt")]) == 2
    assert main(["prune", str(model), "--sparsity", "1.5"]) == 2


@pytest.fixture()
def encoder(tmp_path):
    """A BERT-shaped encoder: 3 blocks of query/key/value/output, embeddings, a pooler and a classifier head
    (neither of which a pruning tool prunes, and a sentence encoder never runs the pooler)."""
    rng = np.random.default_rng(2)
    tensors = {"embeddings.word_embeddings.weight": rng.standard_normal((500, 64)).astype(np.float32)}
    for b in range(3):
        for part in ("attention.self.query", "attention.self.key", "attention.self.value", "output.dense"):
            tensors[f"encoder.layer.{b}.{part}.weight"] = (rng.standard_t(2.5 + b, (128, 64)) / 10).astype(np.float32)
    tensors["pooler.dense.weight"] = rng.standard_normal((64, 64)).astype(np.float32)
    tensors["classifier.weight"] = rng.standard_normal((64, 64)).astype(np.float32)
    path = tmp_path / "encoder.safetensors"
    save_file(tensors, str(path))
    return path


def test_blocks_are_read_from_the_names():
    assert split_block("model.layers.3.self_attn.q_proj.weight") == ("model.layers", "model.layers.3")
    assert split_block("encoder.layer.0.output.dense.weight") == ("encoder.layer", "encoder.layer.0")
    assert split_block("pooler.dense.weight") is None and split_block("fc0.weight") is None
    names = ["encoder.layer.0.q.weight", "encoder.layer.1.q.weight", "pooler.dense.weight", "classifier.1.weight"]
    assert block_scope(names).blocks == ("encoder.layer.0", "encoder.layer.1", None, None)  # one classifier.1: not repeated
    mlp = block_scope(["fc0.weight", "fc1.weight", "fc2.weight"])
    assert mlp.blocks == ("fc0.weight", "fc1.weight", "fc2.weight") and not mlp.has_repeated_blocks


def test_the_pooler_and_the_head_get_no_budget(encoder):
    """Issue 27: the plan gave budget to the pooler the model never uses."""
    report = analyze(encoder)
    plan = plan_pruning(report, 0.5)
    assert [layer.name for layer in plan.layers] == [n.name for n in report.layers if n.name.startswith("encoder.layer.")]
    excluded = dict(plan.excluded)
    assert excluded["pooler.dense.weight"] == OUTSIDE_BLOCKS and excluded["classifier.weight"] == OUTSIDE_BLOCKS
    assert "embedding" in excluded["embeddings.word_embeddings.weight"]
    assert plan.achieved == pytest.approx(0.5)
    assert plan_pruning(report, 0.5, uniform=True).to_dict()["excluded"] == excluded


def test_default_plan_is_block_wise_alpha_peak(encoder):
    report = analyze(encoder)
    plan = plan_pruning(report, 0.5)
    rows = {layer.name: layer for layer in report.layers}
    for layer in plan.layers:  # alpha_peak of each matrix's own eigenvalues
        assert layer.alpha == pytest.approx(fit_power_law_xmin_peak(rows[layer.name].eigenvalues).alpha, rel=1e-12)
    by_block = {}
    for layer in plan.layers:
        by_block.setdefault(layer.block, []).append(layer)
    assert sorted(by_block) == ["encoder.layer.0", "encoder.layer.1", "encoder.layer.2"]
    for members in by_block.values():
        assert len({m.sparsity for m in members}) == 1 and members[0].score == pytest.approx(np.mean([m.alpha for m in members]))
    ks = plan_pruning(report, 0.5, mapping="matrix", xmin="ks")
    assert [layer.alpha for layer in ks.layers] == [rows[layer.name].alpha for layer in ks.layers]
    assert len({layer.sparsity for layer in ks.layers}) == len(ks.layers)
    assert plan.to_dict()["mapping"] == "block" and plan.to_dict()["xmin"] == "peak"


def test_a_model_without_blocks_prunes_every_matrix():
    rng = np.random.default_rng(0)
    rows = [analyze_array(rng.standard_t(3, (256, 64)), name=f"fc{i}.weight") for i in range(3)]
    plan = plan_pruning(ModelReport(source="mlp", layers=tuple(rows)), 0.5)
    assert [layer.block for layer in plan.layers] == ["fc0.weight", "fc1.weight", "fc2.weight"] and plan.excluded == ()


def test_pruning_options_are_checked(model, capsys):
    with pytest.raises(UsageError, match="PruningOptions.mapping"):
        PruningOptions(0.5, mapping="layer")
    with pytest.raises(UsageError, match="PruningOptions.ratio_range"):
        PruningOptions(0.5, ratio_range=(1.2, 0.8))
    with pytest.raises(UsageError, match="full spectrum"):
        plan_pruning(analyze(model, tail_only=20), 0.5)
    assert plan_pruning(analyze(model, tail_only=20), 0.5, xmin="ks").achieved == pytest.approx(0.5)
    # argparse: not allowed with each other, one line
    assert main(["prune", str(model), "--sparsity", "0.5", "--epsilon", "0.3", "--range", "0.7", "1.3"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert main(["prune", str(model), "--sparsity", "0.5", "--epsilon", "1.5"]) == 2
    assert "ratio_range" in capsys.readouterr().err


def test_prune_cli_defaults_and_variants(encoder, capsys):
    assert main(["prune", str(encoder), "--sparsity", "0.5", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert (plan["mapping"], plan["xmin"], plan["ratio_range"]) == ("block", "peak", [0.7, 1.3])
    assert "pooler.dense.weight" in plan["excluded"] and "pooler.dense.weight" not in plan["sparsity"]
    assert (
        main(["prune", str(encoder), "--sparsity", "0.5", "--mapping", "matrix", "--xmin", "ks", "--epsilon", "0.2", "--json"])
        == 0
    )
    plan = json.loads(capsys.readouterr().out)
    assert (plan["mapping"], plan["xmin"]) == ("matrix", "ks") and plan["ratio_range"] == pytest.approx([0.8, 1.2])
    assert main(["prune", str(encoder), "--sparsity", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "pooler.dense.weight" in out and "block-wise" in out
