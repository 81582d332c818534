"""Compare two checkpoints: exactly the perturbed layers are flagged, matching by name and by shape."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import save_file

from netspectra.cli import main
from netspectra.commands.compare_cmd import parse_thresholds
from netspectra.compare import ChangeThresholds, LayerComparison, compare_models
from netspectra.errors import UsageError

SHAPE = (128, 64)
NOISE, RANK_ONE, INT8 = "layers.1.weight", "layers.4.weight", "layers.6.weight"


def _base(seed=0, n_layers=8):
    rng = np.random.default_rng(seed)
    return {f"layers.{i}.weight": (rng.standard_normal(SHAPE) / 8).astype(np.float32) for i in range(n_layers)}


def _perturbed(base, seed=1):
    """Gaussian noise (1% of the entry scale), a strong rank-1 update, and an int8 round trip."""
    rng = np.random.default_rng(seed)
    out = dict(base)
    w = base[NOISE].astype(np.float64)
    out[NOISE] = (w + 0.01 * w.std() * rng.standard_normal(SHAPE)).astype(np.float32)
    w = base[RANK_ONE].astype(np.float64)
    u, v = rng.standard_normal(SHAPE[0]), rng.standard_normal(SHAPE[1])
    out[RANK_ONE] = (w + 0.5 * np.linalg.norm(w) * np.outer(u / np.linalg.norm(u), v / np.linalg.norm(v))).astype(np.float32)
    w = base[INT8]
    scale = np.abs(w).max() / 127
    out[INT8] = (np.round(w / scale).astype(np.int8).astype(np.float32) * scale).astype(np.float32)
    return out


@pytest.fixture()
def pair(tmp_path):
    base = _base()
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_file(base, str(a))
    save_file(_perturbed(base), str(b))
    return a, b


def test_exactly_the_perturbed_layers_are_flagged(pair):
    result = compare_models(*pair)
    assert result.flagged == (NOISE, RANK_ONE, INT8)
    rows = {c.name_a: c for c in result.layers}
    assert all(c.matched_by == "name" for c in result.layers) and result.unmatched == ()
    for name, c in rows.items():
        if name in result.flagged:
            assert "weights" in c.reasons and c.diff_rel_frobenius > 1e-3
        else:
            assert (c.reasons, c.diff_rank, c.diff_rel_frobenius, c.delta_alpha, c.delta_num_spikes) == ("", 0, 0.0, 0.0, 0)
    # the spectrum of W_B - W_A tells the kinds of change apart
    assert rows[RANK_ONE].diff_rank == 1 and "spikes" in rows[RANK_ONE].reasons
    assert rows[RANK_ONE].diff_rel_frobenius == pytest.approx(0.5, rel=1e-4)
    w = _base()[RANK_ONE].astype(np.float64)  # rank 1: ||dW||_2 = ||dW||_F = 0.5 ||W||_F
    assert rows[RANK_ONE].diff_rel_spectral == pytest.approx(0.5 * np.linalg.norm(w) / np.linalg.norm(w, 2), rel=1e-4)
    assert rows[NOISE].diff_rank == rows[INT8].diff_rank == SHAPE[1]  # full rank
    assert rows[NOISE].diff_rel_frobenius == pytest.approx(0.01, rel=0.05)
    assert np.isfinite(rows[NOISE].diff_alpha) and np.isnan(rows[RANK_ONE].diff_alpha)  # 1 eigenvalue: no fit


def test_identical_models_flag_nothing(pair):
    a, _ = pair
    result = compare_models(a, a)
    assert result.flagged == ()
    assert all(c.diff_rank == 0 and c.diff_rel_spectral == 0.0 and c.alpha_z == 0.0 for c in result.layers)


def test_a_renamed_copy_is_matched_by_shape(tmp_path, pair):
    a, _ = pair
    renamed = {k.replace("layers.", "model.blocks."): v for k, v in _base().items()}
    renamed["model.head.weight"] = np.ones((10, 64), np.float32)  # no counterpart in A
    b = tmp_path / "renamed.safetensors"
    save_file(renamed, str(b))
    result = compare_models(a, b)
    assert [(c.name_a, c.name_b, c.matched_by) for c in result.layers] == [
        (f"layers.{i}.weight", f"model.blocks.{i}.weight", "shape") for i in range(8)
    ]
    assert result.flagged == ()
    assert [(u.side, u.name, u.reason) for u in result.unmatched] == [("b", "model.head.weight", "no counterpart")]


def test_unrelated_models_are_matched_by_shape_only_with_a_warning(tmp_path, pair, capsys):
    """Two models that share only shapes: the pairs come with a warning in the result, the JSON and on stderr."""
    a, _ = pair
    assert compare_models(a, a).warning == ""
    other = {f"vision.stage{i}.proj_{i % 3}.kernel": v for i, v in enumerate(_base().values())}
    b = tmp_path / "other.safetensors"
    save_file(other, str(b))
    result = compare_models(a, b)
    assert result.layers and all(c.matched_by == "shape" for c in result.layers)
    assert "may be unrelated" in result.warning and result.to_dict()["warning"] == result.warning
    assert main(["compare", str(a), str(b)]) == 0
    assert "warning: no layer name in common" in capsys.readouterr().err


def test_same_name_other_shape_is_not_diffed(tmp_path, pair):
    a, _ = pair
    other = _base()
    other["layers.3.weight"] = np.ones((100, 64), np.float32)
    b = tmp_path / "resized.safetensors"
    save_file(other, str(b))
    result = compare_models(a, b)
    assert "layers.3.weight" not in [c.name_a for c in result.layers]
    assert {(u.side, u.reason) for u in result.unmatched} == {("a", "shape differs"), ("b", "shape differs")}


def test_thresholds_change_what_is_flagged(pair):
    result = compare_models(*pair, thresholds=ChangeThresholds(rel_frobenius=0.1))
    rows = {c.name_a: c for c in result.layers}
    assert "weights" not in rows[NOISE].reasons and "weights" not in rows[INT8].reasons
    assert "weights" in rows[RANK_ONE].reasons
    assert parse_thresholds(["rel_frobenius=0.1", "spikes=2"]) == ChangeThresholds(rel_frobenius=0.1, spikes=2)
    with pytest.raises(UsageError, match="NAME one of rel_frobenius, alpha_z, spikes"):
        parse_thresholds(["frob=1"])
    with pytest.raises(UsageError, match="is not a number"):
        parse_thresholds(["alpha_z=x"])


def test_cli_writes_the_table_and_json(pair, tmp_path, capsys):
    out = tmp_path / "diff.csv"
    assert main(["compare", *map(str, pair), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "8 layers matched (8 by name, 0 by shape); 3 flagged" in text
    frame = pd.read_csv(out, keep_default_na=False)
    assert list(frame.columns) == LayerComparison.columns()
    assert list(frame.loc[frame.flagged, "name_a"]) == [NOISE, RANK_ONE, INT8]
    assert main(["compare", *map(str, pair), "--json", "--threshold", "rel_frobenius=1"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["thresholds"]["rel_frobenius"] == 1.0
    assert [row["name_a"] for row in doc["layers"] if row["flagged"]] == [RANK_ONE]
    assert main(["compare", *map(str, pair), "--threshold", "bogus"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_difference_that_overflows_has_no_difference_spectrum(tmp_path):
    """W_A = +W and W_B = -W each pass the overflow check (||W||_F just below sqrt(max float64)), but
    W_B - W_A = -2W does not: the layer still gets both rows, with empty difference columns, and no
    NumPy warning on the way."""
    rng = np.random.default_rng(0)
    w = rng.choice([-1.0, 1.0], size=(64, 32)) * (0.9 * np.sqrt(np.finfo(np.float64).max / (64 * 32)))
    save_file({"layer.weight": w}, str(tmp_path / "a.safetensors"))
    save_file({"layer.weight": -w}, str(tmp_path / "b.safetensors"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        [layer] = compare_models(tmp_path / "a.safetensors", tmp_path / "b.safetensors").layers
    assert layer.status_a == layer.status_b == "ok"
    assert layer.diff_rank == -1 and np.isnan(layer.diff_rel_frobenius)
