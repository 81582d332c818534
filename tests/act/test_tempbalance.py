"""TempBalance (issue 18, part 4): learning-rate factors from alpha, and the hook in a training loop."""

from __future__ import annotations

import numpy as np
import pytest

from netspectra.act.tempbalance import TempBalance, layer_param_groups, lr_factors

torch = pytest.importorskip("torch")


def test_factors_map_alpha_linearly_onto_the_range():
    np.testing.assert_allclose(lr_factors(np.array([2.0, 3.0, 4.0])), [0.5, 1.0, 1.5])
    np.testing.assert_allclose(lr_factors(np.array([2.0, np.nan, 6.0]), (0.2, 1.0)), [0.2, 1.0, 1.0])
    np.testing.assert_allclose(lr_factors(np.array([3.0, 3.0])), [1.0, 1.0])


@pytest.mark.slow
def test_hook_gives_the_heavier_tailed_layer_the_smaller_learning_rate():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(200, 400), torch.nn.ReLU(), torch.nn.Linear(400, 200))
    with torch.no_grad():  # plant: layer 0 heavy-tailed (small alpha), layer 2 Gaussian (large alpha)
        model[0].weight.copy_(torch.from_numpy(np.random.default_rng(0).standard_t(2.0, (400, 200)) / 20))
    groups = layer_param_groups(model, lr=0.1)
    assert [g["name"] for g in groups] == ["0.weight", "2.weight", None]
    optimizer = torch.optim.SGD(groups, lr=0.1)
    balance = TempBalance(optimizer, every=3)
    x = torch.randn(64, 200)
    for _ in range(3):
        loss = model(x).pow(2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        balance.step()
    assert len(balance.history) == 1
    alphas = balance.history[0]
    assert alphas["0.weight"] < alphas["2.weight"]
    lrs = {g["name"]: g["lr"] for g in optimizer.param_groups}
    assert lrs["0.weight"] == pytest.approx(0.05) and lrs["2.weight"] == pytest.approx(0.15) and lrs[None] == 0.1
