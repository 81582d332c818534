"""The method registry: records complete and consistent, parameters checked at construction, settings that
vary over tensors, and the bounds on override patterns."""

from __future__ import annotations

import inspect

import pytest

from netspectra.errors import UsageError
from netspectra.merge import MergeConfig, MethodParams
from netspectra.merge.patterns import MAX_PATTERN_SIZE, RegexClock, check_pattern, pattern_size
from netspectra.merge.registry import REGISTRY, get_method, parameter_table
from netspectra.merge.settings import Conditions, Gradient, evaluate, parse_setting

MERGEKIT_NAMES = [
    "linear",
    "task_arithmetic",
    "ties",
    "dare_linear",
    "dare_ties",
    "della",
    "della_linear",
    "breadcrumbs",
    "breadcrumbs_ties",
    "model_stock",
    "slerp",
    "nuslerp",
]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"density": 5.0, "eta": -1}, "MethodParams: density must lie in (0, 1], got 5.0"),
        ({"eta": -1}, "MethodParams: eta must lie in (0, 1] (a fraction: 0.4 keeps 40%), got -1"),
        ({"k": 0}, "MethodParams: k must be a positive integer or null, got 0"),
        ({"k": 2.5}, "k must be a positive integer or null"),
        ({"t": 1.5}, "MethodParams: t must lie in [0, 1], got 1.5"),
        ({"scale": float("nan")}, "scale must be a finite number"),
        ({"scale": 10**400}, "scale must be a finite number"),
        ({"normalize": "yes"}, "normalize must be true or false"),
        ({"rescale": True}, "rescale must be one of l1, inverse, none"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"gamma": (0.1, 2.0)}, "gamma must lie in [0, 1], got 2.0"),
        ({"eta": (0.1, 0.2)}, "eta is one value for all models"),
        ({"rank": 3}, "MethodParams: unknown parameter 'rank'"),
    ],
)
def test_method_params_are_checked_at_construction(values, message):
    with pytest.raises(UsageError) as err:
        MethodParams(**values)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_method_params_hold_every_parameter_with_shared_defaults():
    params = MethodParams(density=(0.5, 0.3))
    assert params.density == (0.5, 0.3) and params.scale == 1.0 and params["eta"] == 0.4
    assert params.normalize is None  # the methods' defaults differ: each method's own
    assert get_method("ties").bind(params, 2)["normalize"] is True
    assert get_method("dare-ties").bind(params, 2)["normalize"] is False
    assert get_method("ties").bind(MethodParams(), 3)["density"] == (0.2, 0.2, 0.2)
    assert MethodParams(eta=0.4) == MethodParams() and hash(MethodParams(eta=0.4)) == hash(MethodParams())


@pytest.mark.parametrize("name", MERGEKIT_NAMES)
def test_every_mergekit_name_is_a_method(name):
    method = get_method(name)
    assert method.name == name.replace("_", "-") or name in method.aliases


def test_every_record_is_complete():
    table = parameter_table()
    for method in REGISTRY:
        assert method.citation and method.summary and callable(method.rule), method.name
        assert len(inspect.signature(method.rule).parameters) == 1, method.name
        assert all(table[p.name].same_kind(p) for p in method.parameters), method.name
        for p in method.parameters:
            assert p.allows(p.default), f"{method.name}.{p.name} default {p.default!r}"
        assert set(method.mergekit_defaults) <= set(method.parameter_names), method.name


def test_unknown_methods_list_the_known_ones():
    with pytest.raises(UsageError, match="unknown merge method 'sce'; expected one of linear, task-arithmetic"):
        get_method("sce")


@pytest.mark.parametrize(
    ("method", "models", "base", "message"),
    [
        ("slerp", ["a", "b", "c"], None, "slerp merges exactly two models, got 3"),
        ("nuslerp", ["a", "b", "c"], "base", "nuslerp merges exactly two models"),
        ("model-stock", ["a", "b"], None, "method model-stock merges task vectors and needs base_model"),
        ("dare-ties", ["a", "b"], None, "method dare-ties merges task vectors and needs base_model"),
    ],
)
def test_model_counts_and_bases_come_from_the_records(method, models, base, message):
    data = {"models": models, "method": method}
    if base:
        data["base_model"] = base
    with pytest.raises(UsageError, match=message):
        MergeConfig.from_dict(data)


def test_della_density_and_epsilon_are_checked_together(tmp_path):
    from merge_testbed import small_model, write_model

    from netspectra.merge import merge_models

    base = small_model(0)
    for i, name in enumerate(("base", "a", "b")):
        write_model(tmp_path / name, small_model(i, base=base) if i else base)
    config = {"base_model": str(tmp_path / "base"), "models": [str(tmp_path / "a"), str(tmp_path / "b")], "method": "della"}
    config["parameters"] = {"density": 0.1, "epsilon": 0.2}
    with pytest.raises(UsageError, match=r"della needs density \+/- epsilon in \(0, 1\), got density 0.1, epsilon 0.2"):
        merge_models(config, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_gradients_and_conditions_as_mergekit_reads_them():
    gradient = parse_setting([0, 0.3, 0.7, 1], "w")
    assert gradient == Gradient((0, 0.3, 0.7, 1))
    assert [evaluate(gradient, "x", t) for t in (0.0, 0.5, 1.0)] == [0, pytest.approx(0.5), 1]
    assert evaluate(parse_setting([True, False], "b"), "x", 0.75) is True  # picked, not interpolated
    conditions = parse_setting([{"filter": "mlp", "value": [1, 0]}, {"value": 0.5}], "t")
    assert isinstance(conditions, Conditions)
    assert evaluate(conditions, "layers.1.mlp.up", 0.25) == 0.75
    assert evaluate(conditions, "layers.1.attn.q", 0.25) == 0.5
    assert evaluate(parse_setting({"filter": "mlp", "value": 2}, "s"), "attn", 0) is None


def test_a_gradient_spreads_over_the_layers_of_the_model():
    config = MergeConfig.from_dict(
        {"base_model": "b", "models": ["x", "y"], "method": "ties", "parameters": {"density": [0.2, 1.0]}}
    )
    names = ["embed.weight", "layers.0.w", "layers.1.w", "layers.2.w", "head.weight"]
    planner = config.planner(names)
    assert [planner.plan(n).params.density for n in names] == [0.2, 0.2, pytest.approx(0.6), 1.0, 0.2]


@pytest.mark.parametrize(
    ("pattern", "size"),
    [
        ("embed", 5),
        (r"^model\.layers\.(0|1)\.", 17),
        ("a{1000}", 1000),
        ("a{0,100000}", 1),
        ("(ab){100}", 200),
        ("[a-z]{3}x", 4),
        (r"\p{L}{10}", 10),
    ],
)
def test_pattern_size_counts_the_expanded_repetitions(pattern, size):
    assert pattern_size(pattern) == size


@pytest.mark.parametrize("pattern", ["((a{1000}){1000}){1000}", "a{4294967294}", "(?:x{200}){200}", "a" * 1001])
def test_patterns_too_large_to_compile_are_refused_before_compiling(pattern):
    assert pattern_size(pattern) > MAX_PATTERN_SIZE or len(pattern) > 1000
    with pytest.raises(UsageError, match="more than"):
        check_pattern(pattern, "overrides[0]")


def test_the_matching_time_of_a_merge_is_bounded_in_all():
    clock = RegexClock(total=0.0)
    with pytest.raises(UsageError, match="took over 0 s in all"):
        clock.search("embed", "model.embed.weight")
    clock = RegexClock(total=5.0)
    assert clock.search("embed", "model.embed.weight") and clock.left < 5.0
