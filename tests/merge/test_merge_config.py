"""The YAML configuration: the documented schema parses, every mistake is refused with a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netspectra.errors import UsageError
from netspectra.merge import MergeConfig, MethodParams, Thresholds, load_config

EXAMPLE = """\
base_model: base
models:
  - path: ft-a
    weight: 0.7
  - ft-b
method: TIES
parameters: {density: 0.3, scale: 1.5}
overrides:
  - match: 'embed'
    method: linear
  - match: '^layers\\.[0-3]\\.'
    method: star
    parameters: {eta: 0.6}
    weights: [1, 1]
dtype: bfloat16
thresholds: {interference: 0.2, rel_distance: [0.4, 0.8]}
"""


def test_the_documented_example_parses(tmp_path: Path):
    path = tmp_path / "merge.yaml"
    path.write_text(EXAMPLE)
    config = load_config(path)
    assert config.base_model == str(tmp_path / "base")  # relative to the configuration file
    assert [(m.path, m.weight) for m in config.models] == [(str(tmp_path / "ft-a"), 0.7), (str(tmp_path / "ft-b"), 1.0)]
    assert config.method == "ties" and config.dtype == "BF16"
    assert config.params == MethodParams(scale=1.5, density=0.3, eta=0.4, k=None)
    assert config.thresholds.interference == 0.2 and config.thresholds.rel_distance == (0.4, 0.8)
    assert config.thresholds.sigma2_ratio == Thresholds().sigma2_ratio


def test_overrides_first_match_wins_and_parameters_merge_over_the_top_level(tmp_path: Path):
    path = tmp_path / "merge.yaml"
    path.write_text(EXAMPLE)
    config = load_config(path)
    plan = config.plan("model.embed_tokens.weight")
    assert (plan.method, plan.weights, plan.reason) == ("linear", (0.7, 1.0), "override embed")
    plan = config.plan("layers.2.mlp.weight")
    assert plan.method == "star" and plan.weights == (1.0, 1.0)
    assert plan.params == MethodParams(scale=1.5, density=0.3, eta=0.6)
    plan = config.plan("layers.12.mlp.weight")
    assert (plan.method, plan.reason, plan.params.density) == ("ties", "method", 0.3)


def test_to_dict_round_trips_through_a_json_configuration(tmp_path: Path):
    (tmp_path / "merge.yaml").write_text(EXAMPLE)
    config = load_config(tmp_path / "merge.yaml")  # paths are absolute from here on
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "merge.json").write_text(json.dumps(config.to_dict()))
    assert load_config(tmp_path / "sub" / "merge.json") == config


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"method": "soup"}, "unknown merge method 'soup'"),
        ({"methd": "ties"}, "unknown configuration key 'methd'"),
        ({"models": ["a"]}, "at least two models"),
        ({"models": [{"path": "a", "wieght": 1}, "b"]}, "models[0]: unknown key 'wieght'"),
        ({"models": [{"path": "a", "weight": "heavy"}, "b"]}, "models[0].weight must be a number"),
        ({"parameters": {"eta": 40}}, "eta must lie in (0, 1] (a fraction: 0.4 keeps 40%)"),
        ({"parameters": {"density": 0}}, "density must lie in (0, 1]"),
        ({"parameters": {"k": 0}}, "k must be a positive integer"),
        ({"parameters": {"rank": 3}}, "unknown parameter 'rank'"),
        ({"overrides": [{"match": "(", "method": "linear"}]}, "invalid regular expression"),
        ({"overrides": [{"match": "x", "weights": [1]}]}, "1 weights for 2 models"),
        ({"overrides": [{"method": "linear"}]}, "with 'match'"),
        ({"dtype": "int8"}, "unsupported output dtype 'int8'"),
        ({"thresholds": {"interference": "low"}}, "thresholds.interference must be a number"),
        ({"thresholds": {"tw_level": 0.5}}, "tw_level must be one of"),
        ({"base_model": None, "method": "star"}, "method star merges task vectors and needs base_model"),
        ({"base_model": None, "overrides": [{"match": "x", "method": "tsv"}]}, "method tsv merges task vectors"),
        ({"models": [{"path": "a", "weight": 1}, {"path": "b", "weight": -1}]}, "models: the weights sum to zero"),
        ({"overrides": [{"match": "x", "method": "ties", "weights": [1, -1]}]}, "overrides[0]: the weights sum to zero"),
    ],
)
def test_mistakes_are_refused_with_a_clear_message(change, message):
    data = {"base_model": "base", "models": ["a", "b"], "method": "linear"}
    data.update(change)
    with pytest.raises(UsageError) as err:
        MergeConfig.from_dict(data)
    assert message in str(err.value)


@pytest.mark.parametrize("name", ["bf16", "BF16", "bfloat16", "float16", "half", "fp32", "F64"])
def test_dtype_names(name):
    config = MergeConfig.from_dict({"models": ["a", "b"], "method": "linear", "dtype": name})
    assert config.dtype in ("BF16", "F16", "F32", "F64")


def test_file_errors_name_the_file(tmp_path: Path):
    with pytest.raises(UsageError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: [a, b\nmethod: linear\n")
    with pytest.raises(UsageError, match=r"bad\.yaml: invalid YAML"):
        load_config(bad)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("models: [a, b]\nmethod: median\n")
    with pytest.raises(UsageError, match=r"wrong\.yaml: unknown merge method"):
        load_config(wrong)
