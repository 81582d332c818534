"""AlphaPruning's layer-wise allocation (issue 18, part 1), magnitude pruning and ``netspectra prune``.

The allocation is checked against the authors' formula written out here (``ww_sparsity`` of the
AlphaPruning code: min-max map into [s1, s2], scale to the parameter-weighted target), and for what the
additions guarantee: the weighted mean is the target, no layer above MAX_SPARSITY, a smaller alpha
never pruned more, a layer without alpha at the mean ratio.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from safetensors.numpy import load_file, save_file

from netspectra.act.pruning import MAX_SPARSITY, alpha_allocation, magnitude_prune, plan_pruning
from netspectra.cli import main
from netspectra.errors import UsageError
from netspectra.pipeline import analyze


def reference_allocation(alphas, sizes, sparsity, s1=0.8, s2=1.2):
    """AlphaPruning's ww_sparsity, transcribed (no clipping)."""
    ratios = (alphas - alphas.min()) / (alphas.max() - alphas.min()) * (s2 - s1) + s1
    return ratios * sizes.sum() * sparsity / (sizes * ratios).sum()


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
    plan = plan_pruning(analyze(model), 0.5)
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
