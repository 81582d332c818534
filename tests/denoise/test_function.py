"""The function judges' math: output agreement, the chain bound (checked on MLPs whose true output error is
computed), and the spectrum-only errors the bound judge tries other settings with."""

from __future__ import annotations

import math

import numpy as np
import pytest

from netspectra.denoise import compress_matrix, compress_model, load_factored
from netspectra.denoise.function import (
    MAX_CHAIN_BOUND,
    MIN_MEAN_COSINE,
    chain_bound,
    output_agreement,
    truncation_errors,
)
from netspectra.denoise.lowrank import OrientedSVD, compress_svd


def test_output_agreement_known_answers():
    rng = np.random.default_rng(0)
    y = rng.standard_normal((3, 5, 4))
    mask = np.ones((3, 5))
    cosines, rel = output_agreement(y, y, mask)
    assert np.allclose(cosines, 1.0) and rel == 0.0
    cosines, rel = output_agreement(y, -y, mask)
    assert np.allclose(cosines, -1.0) and rel == pytest.approx(2.0)
    cosines, rel = output_agreement(y, 2 * y, mask)  # a rescaled output keeps its direction
    assert np.allclose(cosines, 1.0) and rel == pytest.approx(1.0)
    mask[:, 3:] = 0  # padding: whatever the model writes there is not compared
    noisy = y.copy()
    noisy[:, 3:] += 100.0
    cosines, rel = output_agreement(y, noisy, mask)
    assert np.allclose(cosines, 1.0) and rel == 0.0
    # pooled p = (1, 0) and p_hat = (1, 1): cosine 1/sqrt 2
    cosines, _ = output_agreement(np.array([[[1.0, 0.0]]]), np.array([[[1.0, 1.0]]]), np.ones((1, 1)))
    assert cosines[0] == pytest.approx(1 / math.sqrt(2))


def test_the_thresholds_say_the_same_thing():
    """An orthogonal error of relative size MAX_CHAIN_BOUND leaves cosine MIN_MEAN_COSINE."""
    assert 1 / math.sqrt(1 + MAX_CHAIN_BOUND**2) == pytest.approx(MIN_MEAN_COSINE)


def test_chain_bound_compounds():
    assert chain_bound([]) == 0.0
    assert chain_bound([0.1]) == pytest.approx(0.1)
    assert chain_bound([0.1, 0.2, 0.0]) == pytest.approx(1.1 * 1.2 - 1)


def test_truncation_errors_are_what_compress_svd_reports_for_hard():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((80, 30)) + 3 * np.outer(rng.standard_normal(80), rng.standard_normal(30))
    svd = OrientedSVD.of(w)
    for rank in (1, 5, 29, 30):
        layer, _ = compress_svd(svd, f"rank:{rank}", "hard")
        eps, energy = truncation_errors(svd.s, rank)
        assert eps == pytest.approx(layer.rel_spec_error, abs=1e-12) and energy == pytest.approx(layer.energy_kept)


def _relu_chain(weights, x):
    h = x
    for i, w in enumerate(weights):
        h = h @ w.T
        if i < len(weights) - 1:
            h = np.maximum(h, 0.0)
    return h


def test_the_chain_bound_is_tight_for_one_layer():
    """sup_x ||(W_hat - W) x|| / (||W|| ||x||) = s_{r+1} / s_1 = eps, reached at the first dropped direction."""
    rng = np.random.default_rng(2)
    w = rng.standard_normal((40, 24))
    layer, factors = compress_matrix(w, "rank:6")
    _, _, vt = np.linalg.svd(w)
    worst = vt[6]
    moved = np.linalg.norm((factors.dense() - w) @ worst) / np.linalg.norm(w, 2)
    assert moved == pytest.approx(chain_bound([layer.rel_spec_error]))


def test_the_chain_bound_holds_on_a_relu_mlp():
    """A bias-free ReLU MLP 32 -> 64 -> 64 -> 16, every layer truncated: on 2000 random inputs and on each
    layer's worst direction, ||f_hat(x) - f(x)|| <= (prod (1 + eps_l) - 1) prod ||W_l|| ||x||."""
    rng = np.random.default_rng(3)
    shapes = [(64, 32), (64, 64), (16, 64)]
    weights = [
        rng.standard_normal(s) / math.sqrt(s[1])
        + 0.5 * np.outer(rng.standard_normal(s[0]), rng.standard_normal(s[1])) / math.sqrt(s[1])
        for s in shapes
    ]
    compressed, errors = [], []
    for w, rank in zip(weights, (8, 16, 6)):
        layer, factors = compress_matrix(w, f"rank:{rank}")
        compressed.append(factors.dense())
        errors.append(layer.rel_spec_error)
    bound = chain_bound(errors)
    gain = math.prod(np.linalg.norm(w, 2) for w in weights)
    x = np.vstack([rng.standard_normal((2000, 32)), np.linalg.svd(weights[0])[2]])
    moved = np.linalg.norm(_relu_chain(compressed, x) - _relu_chain(weights, x), axis=1) / (gain * np.linalg.norm(x, axis=1))
    assert moved.max() <= bound
    assert moved.max() > 0.01 * bound  # the bound is not vacuous by orders of magnitude here


def test_a_live_torch_mlp_is_judged_by_the_bound(tmp_path):
    """A live module cannot be run on inputs netspectra does not know: the bound judges it, and it holds for
    the module rebuilt from the written file."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(
        torch.nn.Linear(32, 64, bias=False),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 64, bias=False),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 16, bias=False),
    )
    out = tmp_path / "mlp.safetensors"
    report = compress_model(mlp, out, method="energy:0.9", min_dim=8, force=True)
    check = report.function
    assert check.judge == "bound" and "live module" in check.note and not check.passed
    assert check.chain_bound == pytest.approx(math.prod(1 + layer.rel_spec_error for layer in report.layers) - 1)
    original = {k: v.detach().numpy().astype(np.float64) for k, v in mlp.state_dict().items()}
    rebuilt = load_factored(out)
    names = ["0.weight", "2.weight", "4.weight"]
    x = np.random.default_rng(4).standard_normal((500, 32))
    gain = math.prod(np.linalg.norm(original[n], 2) for n in names)
    moved = np.linalg.norm(
        _relu_chain([rebuilt[n].astype(np.float64) for n in names], x) - _relu_chain([original[n] for n in names], x), axis=1
    ) / (gain * np.linalg.norm(x, axis=1))
    assert 0 < moved.max() <= check.chain_bound
