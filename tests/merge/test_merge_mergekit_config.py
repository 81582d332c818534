"""mergekit configuration files, accepted as they are: the example YAMLs of mergekit's repository merge here
tensor by tensor as mergekit resolves them (its own parameter resolution: per-model parameters, gradients over
layers, filters, precedence) and computes them (its own method objects)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from merge_testbed import write_model
from safetensors.numpy import load_file

from netspectra.errors import UsageError
from netspectra.io import open_source
from netspectra.merge import MergeConfig, load_config, merge_models

torch = pytest.importorskip("torch")
yaml = pytest.importorskip("yaml")
mergekit_registry = pytest.importorskip("mergekit.merge_methods.registry")
from mergekit.config import ConfigReader, InputSliceDefinition, MergeConfiguration, OutputSliceDefinition  # noqa: E402
from mergekit.merge_methods.base import ParameterScope, TensorGroup  # noqa: E402
from mergekit.parameter_resolver import resolve_parameters  # noqa: E402

# The example configurations of mergekit's repository (examples/*.yml), verbatim.
EXAMPLES = {
    "bio-merge.yml": """\
models:
  - model: mistralai/Mistral-7B-Instruct-v0.2
    parameters:
      density: 0.5
      weight: 0.5
  - model: BioMistral/BioMistral-7B
    parameters:
      density: 0.5
      weight: 0.5
merge_method: ties
base_model: mistralai/Mistral-7B-v0.1
parameters:
  normalize: false
  int8_mask: true
dtype: float16
""",
    "ties.yml": """\
models:
  - model: psmathur/orca_mini_v3_13b
    parameters:
      density: [1, 0.7, 0.1] # density gradient
      weight: 1.0
  - model: garage-bAInd/Platypus2-13B
    parameters:
      density: 0.5
      weight: [0, 0.3, 0.7, 1] # weight gradient
  - model: WizardLM/WizardMath-13B-V1.0
    parameters:
      density: 0.33
      weight:
        - filter: mlp
          value: 0.5
        - value: 0
merge_method: ties
base_model: TheBloke/Llama-2-13B-fp16
parameters:
  normalize: true
  int8_mask: true
dtype: float16
""",
    "linear.yml": """\
models:
  - model: psmathur/orca_mini_v3_13b
    parameters:
      weight: 1.0
  - model: WizardLM/WizardLM-13B-V1.2
    parameters:
      weight: 0.3
  - model: garage-bAInd/Platypus2-13B
    parameters:
      weight: 0.5
merge_method: linear
dtype: float16
""",
    # gradient-slerp.yml in "the equivalent models: syntax" its own comment gives
    "gradient-slerp.yml": """\
models:
  - model: psmathur/orca_mini_v3_13b
  - model: garage-bAInd/Platypus2-13B
merge_method: slerp
base_model: psmathur/orca_mini_v3_13b
parameters:
  t:
    - filter: self_attn
      value: [0, 0.5, 0.3, 0.7, 1]
    - filter: mlp
      value: [1, 0.5, 0.7, 0.3, 0]
    - value: 0.5 # fallback for rest of tensors
dtype: float16
""",
}

LAYERS = 3
#: A tiny Llama-like model: every tensor 2-D with 100 entries (density n is an integer for every density
#: the examples use, where our TIES trim and mergekit's keep the same entries).
NAMES = [
    "model.embed_tokens.weight",
    *(f"model.layers.{i}.{part}.weight" for i in range(LAYERS) for part in ("self_attn.q_proj", "mlp.up_proj")),
    "lm_head.weight",
]


def write_models(root: Path, text: str) -> list[str]:
    """Tiny fine-tunes of one base at every model path the configuration names (float32: the task vectors of
    float16 tensors have entries of equal magnitude, where which survive a trim is up to the sort)."""
    data = yaml.safe_load(text)
    paths = [m["model"] for m in data["models"]] + ([data["base_model"]] if data.get("base_model") else [])
    rng = np.random.default_rng(0)
    base = {name: rng.standard_normal((10, 10)) for name in NAMES}
    for path in dict.fromkeys(paths):
        weights = {n: (v + 0.1 * rng.standard_normal(v.shape)).astype(np.float32) for n, v in base.items()}
        write_model(root / path, weights, config={"model_type": "llama"})
    return list(dict.fromkeys(paths))


def mergekit_expected(root: Path, text: str) -> dict[str, np.ndarray]:
    """Each tensor as mergekit merges it: its parameters resolved by mergekit (models as one slice of all
    layers, t = layer / (layers - 1), 0 outside the layers), its method run in float64."""
    config = MergeConfiguration.model_validate(yaml.safe_load(text))
    method = mergekit_registry.get(config.merge_method)
    models = [m.model for m in config.models]
    if config.base_model is not None and config.base_model not in models:
        models.append(config.base_model)
    sources = [InputSliceDefinition(model=m, layer_range=(0, LAYERS), parameters=p.parameters if p else None)
               for m, p in zip(models, [*config.models, None])]  # fmt: skip
    base = config.base_model if method.spec.contract.base.value != "ignored" else None
    tensors = {}
    for name in NAMES:
        layer = next((int(part) for part in name.split(".") if part.isdigit()), None)
        t = 0.0 if layer is None else layer / (LAYERS - 1)
        reader = ConfigReader(config=config, t=t, slice_out=OutputSliceDefinition(sources=sources))
        shared, per_input = resolve_parameters(
            method.spec, tensor_name=name, inputs=dict.fromkeys(models, name), sources=reader.parameter_sources,
            base_model=base, t=t,
        )  # fmt: skip
        ids = [str(m) for m in models]
        order = [ids.index(str(base))] + [i for i, m in enumerate(ids) if m != str(base)] if base else range(len(ids))
        arrays = [load_file(root / ids[i] / "model.safetensors")[name].astype(np.float64) for i in order]
        group = TensorGroup.from_tensors(
            [torch.from_numpy(a) for a in arrays], ids=[ids[i] for i in order], base_index=0 if base else None
        )
        parameters = dict(shared)
        for p in method.spec.parameters:
            if p.scope != ParameterScope.SHARED:
                parameters[p.name] = {str(m): values[p.name] for m, values in per_input.items() if p.name in values}
        (merged,) = method([group], parameters=parameters, dtype=torch.float64)
        tensors[name] = merged.numpy()
    return tensors


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_mergekit_examples_merge_as_mergekit_merges_them(tmp_path: Path, example: str):
    text = EXAMPLES[example]
    (tmp_path / example).write_text(text)
    write_models(tmp_path, text)
    result = merge_models(load_config(tmp_path / example, check_paths=True), tmp_path / "out")
    expected = mergekit_expected(tmp_path, text)
    with open_source(tmp_path / "out") as merged:
        for record in merged.tensors():
            assert record.dtype == "F16"
            np.testing.assert_allclose(
                record.load().astype(np.float64), expected[record.name].astype(np.float16), rtol=1e-3, atol=1e-3,
                err_msg=f"{example}: {record.name}",
            )  # fmt: skip
    assert {x.rule for x in result.layers} == {yaml.safe_load(text)["merge_method"]}


def test_the_translation_of_a_mergekit_configuration(tmp_path: Path):
    (tmp_path / "ties.yml").write_text(EXAMPLES["ties.yml"])
    config = load_config(tmp_path / "ties.yml")
    assert config.method == "ties" and config.dtype == "F16"
    assert config.base_model == str(tmp_path / "TheBloke/Llama-2-13B-fp16")
    assert [m.path for m in config.models] == [str(tmp_path / p) for p in ("psmathur/orca_mini_v3_13b",
        "garage-bAInd/Platypus2-13B", "WizardLM/WizardMath-13B-V1.0")]  # fmt: skip
    assert config.params.density == 1.0 and config.params.normalize is True  # mergekit's TIES default density
    planner = config.planner(NAMES)
    plan = planner.plan("model.layers.1.mlp.up_proj.weight")  # t = 0.5
    assert plan.weights == (1.0, 0.5, 0.5)
    assert plan.params.density == (0.7, 0.5, 0.33)
    assert planner.plan("model.layers.2.self_attn.q_proj.weight").weights == (1.0, 1.0, 0.0)


def test_a_listed_base_is_the_base_and_slerp_starts_from_it():
    data = yaml.safe_load(EXAMPLES["gradient-slerp.yml"])
    data["models"] = data["models"][::-1]  # the base second: still t = 0 at the base
    config = MergeConfig.from_dict(data)
    assert [m.path for m in config.models] == ["psmathur/orca_mini_v3_13b", "garage-bAInd/Platypus2-13B"]
    assert config.base_model is None
    dare = MergeConfig.from_dict(
        {"merge_method": "dare_ties", "base_model": "b", "models": [{"model": "b"}, {"model": "x"}, {"model": "y"}]}
    )
    assert [m.path for m in dare.models] == ["x", "y"] and dare.base_model == "b"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"merge_method": "passthrough"}, "unknown merge method 'passthrough'"),
        ({"slices": []}, "netspectra merges whole models"),
        ({"tokenizer_source": "union"}, "tokenizer merging is not supported"),
        ({"models": [{"path": "a"}, {"model": "b"}]}, "models[0] must be a mapping with 'model'"),
        ({"parameters": {"density": 2}}, "density must lie in (0, 1], got 2"),
        ({"parameters": {"density": [1, 0.5, 1.5]}}, "density must lie in (0, 1], got 1.5"),
        ({"parameters": {"lambda": "x"}}, "scale must be a finite number"),
        ({"models": [{"model": "a", "parameters": {"normalize": True}}, {"model": "b"}]}, "not a per-model parameter"),
        ({"parameters": {"t": [{"filter": 3, "value": 1}]}}, "filter must be a string"),
        ({"merge_method": "slerp", "models": [{"model": "a"}, {"model": "b"}, {"model": "c"}]}, "slerp merges exactly two"),
        ({"bogus": 1}, "unknown mergekit configuration key 'bogus'"),
    ],
)
def test_mergekit_mistakes_are_refused_with_one_line(change, message):
    data = {"merge_method": "ties", "base_model": "base", "models": [{"model": "a"}, {"model": "b"}]}
    data.update(change)
    with pytest.raises(UsageError) as err:
        MergeConfig.from_dict(data)
    assert message in str(err.value) and "\n" not in str(err.value)
