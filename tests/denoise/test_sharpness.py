"""SVD sharpness (WeightWatcher's ``SVDSharpness``): the trap count of shuffled entries, and the removal of the top
components equal to WeightWatcher's ``smooth_W_alt``."""

import numpy as np
import pytest

import netspectra
from netspectra.denoise.sharpness import count_traps, remove_top_components, sharpen


def test_iid_noise_has_no_traps():
    w = np.random.default_rng(0).standard_normal((300, 150))
    assert count_traps(w) == 0
    assert sharpen(w).num_removed == 0


def test_large_entries_make_traps():
    w = np.random.default_rng(1).standard_normal((300, 150))
    w[np.arange(3) * 7, np.arange(3) * 11] = 60.0  # three entries far above the bulk: outliers in any shuffle
    assert count_traps(w) == 3


@pytest.mark.parametrize("shape, count", [((120, 60), 3), ((60, 120), 2)])
def test_removal_equals_weightwatchers(shape, count):
    ww = pytest.importorskip("weightwatcher")
    w = np.random.default_rng(2).standard_normal(shape)
    theirs = ww.WeightWatcher().smooth_W_alt(w, -count, svd_method="accurate")
    ours = remove_top_components(w, count)
    np.testing.assert_allclose(ours.matrix, theirs, rtol=0, atol=1e-12)
    s = np.linalg.svd(w, compute_uv=False)
    assert ours.energy_removed == pytest.approx(np.sum(s[:count] ** 2) / np.sum(s**2))


def test_model_level_returns_stored_shapes():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(40, 90), torch.nn.Conv2d(6, 12, 3))
    with torch.no_grad():
        model[0].weight[0, 0] = 50.0
    result = netspectra.svd_sharpness(model)
    assert {name: t.shape for name, t in result.weights.items()} == {"0.weight": (90, 40), "1.weight": (12, 6, 3, 3)}
    linear = result.layers[0]
    assert linear.num_removed >= 1
    w = model[0].weight.detach().double().numpy()
    np.testing.assert_allclose(result.weights["0.weight"], remove_top_components(w, linear.num_removed).matrix, atol=1e-10)
