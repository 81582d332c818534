"""A real training run: MLPs learning scikit-learn's digits from a Gaussian (Marchenko–Pastur) start.

A short version of benchmarks/track_digits.py: 300 SGD steps per run, three seeds.  The spectrum of the
256 x 256 hidden layer must leave MP: the tail weight 1 - A grows from its start, more with a large
learning rate than with a small one, and spikes appear above the Tracy–Widom edge.
"""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_limits
from torch import nn

from netspectra.compare.track import SpectraTracker

STEPS = 300


@pytest.fixture(autouse=True)
def one_thread():
    """Small matrices on a shared 2-core machine: threads only contend (10-20x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    x = (x - x.mean(0)) / (x.std(0) + 1e-8)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


def _train(digits, lr, seed, batch=16):
    x, y = digits
    torch.manual_seed(seed)
    model = nn.Sequential(
        OrderedDict(
            fc1=nn.Linear(64, 256),
            act1=nn.ReLU(),
            fc2=nn.Linear(256, 256),
            act2=nn.ReLU(),
            out=nn.Linear(256, 10),
        )
    )
    for layer in (model.fc1, model.fc2, model.out):
        nn.init.normal_(layer.weight, 0.0, layer.in_features**-0.5)
        nn.init.zeros_(layer.bias)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    tracker = SpectraTracker(model, every=STEPS, include="fc2")
    for step in range(STEPS + 1):
        tracker.step(step)
        if step < STEPS:
            idx = torch.randint(0, len(x), (batch,), generator=gen)
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return tracker.trajectory.to_frame().set_index("step")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hidden_spectrum_leaves_marchenko_pastur(digits, seed):
    large = _train(digits, lr=0.25, seed=seed)
    small = _train(digits, lr=0.01, seed=seed)
    start, end = large.loc[0], large.loc[STEPS]
    assert start.tail_weight < 0.02 and start.num_spikes == 0  # MP at initialization
    assert end.tail_weight > start.tail_weight + 0.05
    assert end.area < start.area and end.num_spikes >= 3
    assert end.tail_weight > small.loc[STEPS].tail_weight
    assert np.isfinite(end.spacing_ratio) and 0.4 < end.spacing_ratio < 0.65  # the bulk keeps level repulsion
