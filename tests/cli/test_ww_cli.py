"""``netspectra describe`` and the WeightWatcher options of ``netspectra analyze`` as a user runs them."""

import json

import numpy as np
import pandas as pd
import pytest

from fixtures_models import write_safetensors
from netspectra.cli import main


@pytest.fixture()
def model_file(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {
        "a.weight": rng.standard_normal((256, 64)).astype(np.float32),
        "a.bias": rng.standard_normal(256).astype(np.float32),
        "b.weight": rng.standard_normal((64, 256)).astype(np.float32),
        "c.weight": rng.standard_normal((4, 40)).astype(np.float32),
        "d.weight": rng.standard_normal((24, 8, 3, 3)).astype(np.float32),
    }
    return write_safetensors(tmp_path / "model.safetensors", tensors)


def test_describe_prints_positions_shapes_and_counts(model_file, capsys):
    assert main(["describe", str(model_file)]) == 0
    out = capsys.readouterr().out
    assert "a.weight" in out and "24x8x3x3" in out and "4 weight matrices, 204 eigenvalues" in out


def test_describe_json_and_output(model_file, tmp_path, capsys):
    out = tmp_path / "shapes.csv"
    assert main(["describe", str(model_file), "--json", "--layers", "1,3", "-o", str(out)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(row["name"], row["model_index"], row["num_evals"]) for row in doc["layers"]] == [
        ("b.weight", 1, 64),
        ("d.weight", 3, 72),
    ]
    assert pd.read_csv(out)["name"].tolist() == ["b.weight", "d.weight"]


def test_describe_no_pool_lists_each_slice(model_file, capsys):
    assert main(["describe", str(model_file), "--no-pool", "--kinds", "conv2d", "--json"]) == 0
    names = [row["name"] for row in json.loads(capsys.readouterr().out)["layers"]]
    assert names == [f"d.weight[slice {i}]" for i in range(9)]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--layers", "1,x"], "argument --layers: '1,x': give positions as I,J,... (integers)"),
        (["--kinds", "dense"], "LayerSelection.kinds = ('dense',)"),
        (["--min-evals", "100", "--max-evals", "10"], "LayerSelection.max_evals = 10: must be >= min_evals = 100"),
    ],
)
def test_describe_refuses_bad_selections_in_one_line(model_file, capsys, args, message):
    assert main(["describe", str(model_file), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("netspectra: error: ") and message in err and err.count("\n") == 1


def test_analyze_ww_compat_uses_weightwatchers_filters_and_fit(model_file, capsys):
    assert main(["analyze", str(model_file), "--ww-compat", "--json", "--no-depth"]) == 0
    doc = json.loads(capsys.readouterr().out)
    names = [row["name"] for row in doc["layers"]]
    assert names == ["a.weight", "b.weight", "d.weight"]  # c.weight: 4 eigenvalues < min_evals 8
    assert all(row["alpha"] == row["alpha_ww"] for row in doc["layers"])
    assert doc["summary"]["log_spectral_norm_ww_mean"] is not None


def test_analyze_weightwatcher_options(model_file, capsys):
    args = ["analyze", str(model_file), "--json", "--no-depth", "--fix-fingers", "clip_xmax", "--fit", "TPL", "--vectors"]
    assert main([*args, "--include", "^a"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["layers"]
    assert row["raw_alpha"] is not None and row["alpha_tpl"] is not None and row["tail_mean_loc_ratio"] is not None


def test_analyze_refuses_an_unknown_fix(model_file, capsys):
    assert main(["analyze", str(model_file), "--fix-fingers", "xmin_max"]) == 2
    assert "invalid choice: 'xmin_max'" in capsys.readouterr().err
