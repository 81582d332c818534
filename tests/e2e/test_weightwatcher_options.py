"""WeightWatcher's other calls and options against netspectra's equivalents on small torch models:
``describe()``, ``pool=False``, ``vectors=True``, ``distances(method='cka')``, ``min_evals``/``max_evals``."""

import logging
import warnings

import numpy as np
import pytest

import netspectra

torch = pytest.importorskip("torch")
ww = pytest.importorskip("weightwatcher")
logging.getLogger("weightwatcher").setLevel(logging.ERROR)


def model(seed: int) -> "torch.nn.Module":
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(16, 48, 3), torch.nn.Flatten(), torch.nn.Linear(300, 120), torch.nn.Linear(120, 80), torch.nn.Linear(4, 3)
    )


def watcher(m: "torch.nn.Module", method: str, **kwargs: object):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(ww.WeightWatcher(model=m), method)(**kwargs)


def test_describe_lists_what_weightwatcher_describes():
    m = model(0)
    theirs = watcher(m, "describe", min_evals=0)  # its default is 8, netspectra keeps every matrix
    ours = netspectra.describe(m)
    assert [
        (f"{n}.weight", int(a), int(b), int(e))
        for n, a, b, e in zip(theirs["name"], theirs["N"], theirs["M"], theirs["num_evals"])
    ] == [(row.name, row.N, row.M, row.num_evals) for row in ours.layers]
    assert [row.num_matrices for row in ours.layers] == [int(rf) for rf in theirs["rf"]]


@pytest.mark.parametrize("min_evals, max_evals", [(8, 15000), (100, 15000), (8, 150)])
def test_eigenvalue_count_filters_keep_what_weightwatcher_keeps(min_evals, max_evals):
    m = model(0)
    theirs = watcher(m, "describe", min_evals=min_evals, max_evals=max_evals)
    ours = netspectra.describe(m, min_evals=min_evals, max_evals=max_evals)
    assert [row.name for row in ours.layers] == [f"{name}.weight" for name in theirs["name"]]


def test_pool_false_analyzes_each_conv_slice_as_weightwatcher():
    m = model(0)
    theirs = watcher(m, "analyze", pool=False)
    ours = netspectra.analyze(m, pool=False, ww_compat=True).layers
    assert [layer.name for layer in ours[:9]] == [f"0.weight[slice {i}]" for i in range(9)]
    assert len(ours) == len(theirs)
    for layer, (_, row) in zip(ours, theirs.iterrows()):
        assert layer.alpha == pytest.approx(row["alpha"], rel=1e-9), layer.name
        assert layer.num_tail == row["num_pl_spikes"], layer.name
        assert layer.lambda_max_ww == pytest.approx(row["lambda_max"], rel=1e-9), layer.name  # k/2 of the whole kernel


def test_layers_and_kinds_select_positions_and_types():
    m = model(0)
    assert [row.name for row in netspectra.describe(m, layers=[1, 3]).layers] == ["2.weight", "4.weight"]
    assert [row.name for row in netspectra.describe(m, kinds=["conv2d"]).layers] == ["0.weight"]
    assert [row.model_index for row in netspectra.describe(m, kinds=["linear"]).layers] == [1, 2, 3]


VECTOR_COLUMNS = [
    f"{part}_{stat}_{name}"
    for name in ("vec_entropy", "loc_ratio", "part_ratio")
    for part in ("bulk", "tail")
    for stat in ("mean", "var")
]


def test_vectors_equal_weightwatchers():
    """WeightWatcher splits the eigenvectors of its ``eig()`` at the xmin of its SVD eigenvalues, so the vector at
    xmin falls on either side by rounding, and which layers it lands on differs between CPUs (layer 2 of this
    model on an AMD EPYC); netspectra puts the tail's own eigenvalues in the tail.  So the columns are compared
    on every layer where WeightWatcher's split, recomputed here with its own ``eig_full``, holds its tail count,
    and at least two layers must be compared."""
    from weightwatcher.RMT_Util import eig_full

    torch.manual_seed(2)
    m = torch.nn.Sequential(torch.nn.Linear(300, 120), torch.nn.Linear(120, 80), torch.nn.Linear(80, 200))
    theirs = watcher(m, "analyze", vectors=True)
    ours = netspectra.analyze(m, ww_compat=True, options=netspectra.AnalysisOptions(vectors=True)).layers
    compared = []
    for index, (_, row) in enumerate(theirs.iterrows()):
        w = m[index].weight.detach().numpy().astype(float)
        x = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
        split = int(np.count_nonzero(np.real(eig_full(x)[0]) >= row["xmin"]))
        if split != int(row["num_pl_spikes"]):
            continue  # the vector at xmin fell into WeightWatcher's bulk
        compared.append(index)
        for column in VECTOR_COLUMNS:
            assert getattr(ours[index], column) == pytest.approx(float(row[column]), rel=1e-9), (index, column)
    assert len(compared) >= 2, compared


def test_cka_equals_weightwatchers_distances():
    a, b = model(0), model(0)
    with torch.no_grad():
        for p in b.parameters():
            p.add_(0.5 * torch.randn_like(p) * p.std())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, _, theirs = ww.WeightWatcher().distances(a, b, method="cka")
    ours = netspectra.compare_models(a, b, min_dim=8).layers
    np.testing.assert_allclose(
        [layer.cka for layer in ours], theirs["delta_W"].to_numpy(dtype=float), rtol=1e-6
    )  # it multiplies in float32
    assert netspectra.compare_models(a, a, min_dim=8).layers[0].cka == pytest.approx(1.0)
