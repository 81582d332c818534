"""LoRA adapters resolved as PEFT resolves them (issue 26, item 3), on tiny transformers models saved with
``save_pretrained`` and adapters made by PEFT's ``get_peft_model``.

The reference is PEFT's ``merge_and_unload``: every tensor the merged source lists equals PEFT's merged one
within 1e-6 under the same name and shape, for regular-expression keys of ``alpha_pattern``/``rank_pattern``
(``layer\\.[0-2]\\..*value``), LoRA on ``word_embeddings``/``wte``, GPT-2's Conv1D ``c_attn`` with
``fan_in_fan_out``, a classification adapter (``bert.`` prefix, ``modules_to_save``) on a ``BertModel`` file
and on the classifier's own, ``lora_bias``, and DoRA (Linear, Conv1D and Embedding).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from netspectra.cli import main
from netspectra.io import open_source
from netspectra.io.sources import open_adapter

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")

REGEX = r"layer\.[0-2]\..*value"


def _bert() -> torch.nn.Module:
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=99, hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=48, num_labels=3
    )
    return transformers.BertForSequenceClassification(config).eval()


def _gpt2() -> torch.nn.Module:
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=50, n_embd=32, n_layer=2, n_head=2, n_positions=16, bos_token_id=0, eos_token_id=0
    )
    return transformers.GPT2LMHeadModel(config).eval()


def _state(module: torch.nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def _peft(tmp_path: Path, model: torch.nn.Module, **lora: object) -> tuple[Path, dict[str, np.ndarray]]:
    """The adapter folder of ``model`` with ``lora`` and PEFT's merged state.  Trained parts are made unlike
    their initial values: the factor PEFT starts at zero (``lora_B``, ``lora_embedding_A``) drawn from
    N(0, 0.1^2), DoRA magnitudes scaled by 1 + N(0, 0.3^2), ``modules_to_save`` copies and ``lora_B.bias``
    moved by N(0, 0.3^2); the merged weights stay of order 1, where float32 resolves 1e-7."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = peft.get_peft_model(model, peft.LoraConfig(**lora))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            if "lora_B.default.weight" in name or "lora_embedding_A" in name:
                parameter.copy_(0.1 * noise)
            elif "lora_magnitude_vector" in name:
                parameter.mul_(1 + 0.3 * noise)
            elif "modules_to_save" in name or "lora_B.default.bias" in name:
                parameter.add_(0.3 * noise)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PEFT takes lora_B.bias for an unsharded tensor
        model.save_pretrained(str(tmp_path / "adapter"))
        merged = _state(model.merge_and_unload())
    return tmp_path / "adapter", merged


def _assert_merged_like_peft(records: dict, merged: dict[str, np.ndarray], name_of: Callable[[str], str] = str) -> None:
    """The listed tensors are PEFT's merged ones, name for name (``name_of``: PEFT's name -> the base's)."""
    expected = {name_of(k): v for k, v in merged.items() if k != "lm_head.weight"}  # tied to wte, not saved
    assert set(records) == set(expected)
    assert max(np.abs(v).max() for v in expected.values()) < 4  # float32 resolves 1e-6 there
    for name, record in records.items():
        assert tuple(record.shape) == expected[name].shape, name
        np.testing.assert_allclose(record.load(), expected[name], rtol=0, atol=1e-6, err_msg=name)


BERT_CASES = {
    "regex alpha_pattern and rank_pattern": {
        "target_modules": ["query", "value"],
        "r": 4,
        "lora_alpha": 8,
        "alpha_pattern": {REGEX: 64},
        "rank_pattern": {REGEX: 2},
    },
    "word_embeddings": {"target_modules": ["word_embeddings", "query"], "r": 4, "lora_alpha": 16},
    "DoRA": {"target_modules": ["query", "value", "word_embeddings"], "r": 4, "lora_alpha": 16, "use_dora": True},
}


@pytest.mark.parametrize("case", sorted(BERT_CASES))
def test_bert_adapter_merged_equals_peft(tmp_path, case):
    _assert_adapter_merged_like_peft(tmp_path, _bert(), BERT_CASES[case])


def _assert_adapter_merged_like_peft(tmp_path, model, case: dict) -> None:
    """The adapter of ``case`` on ``model`` (saved as the base), read with its base: PEFT's merged weights."""
    model.save_pretrained(str(tmp_path / "base"))
    adapter, merged = _peft(tmp_path, model, **case)
    with open_adapter(adapter, tmp_path / "base") as source:
        _assert_merged_like_peft({r.name: r for r in source.tensors()}, merged)


def _assert_updates(records: dict, merged: dict, base: dict) -> None:
    """Each record of an adapter read alone is its update: PEFT's merged weight minus the base's."""
    for name, record in records.items():
        np.testing.assert_allclose(record.load(), merged[name] - base[name], rtol=0, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("case", ["regex alpha_pattern and rank_pattern", "word_embeddings"])
def test_bert_updates_alone_are_merged_minus_base(tmp_path, case):
    model = _bert()
    base = _state(model)
    adapter, merged = _peft(tmp_path, model, **BERT_CASES[case])
    records = {r.name: r for r in open_source(adapter).tensors()}
    changed = {name for name in merged if not np.array_equal(merged[name], base[name])}
    assert set(records) == changed
    _assert_updates(records, merged, base)


@pytest.mark.parametrize("base", ["BertForSequenceClassification", "BertModel"])
def test_classification_adapter_with_the_bert_prefix_on_either_base(tmp_path, base):
    """A SEQ_CLS adapter names ``bert.encoder...`` and saves ``classifier`` whole (``modules_to_save``): on the
    classifier's file the names are PEFT's; on a BertModel file (no ``bert.``) the base's, and the classifier
    follows the base's tensors."""
    model = _bert()
    (model if base == "BertForSequenceClassification" else model.bert).save_pretrained(str(tmp_path / "base"))
    adapter, merged = _peft(
        tmp_path, model, task_type="SEQ_CLS", target_modules=["query", "value", "word_embeddings"], r=4, lora_alpha=8
    )
    with open_adapter(adapter, tmp_path / "base") as source:
        records = [r.name for r in source.tensors()]
        if base == "BertModel":
            assert records[-2:] == ["classifier.bias", "classifier.weight"]
            _assert_merged_like_peft({r.name: r for r in source.tensors()}, merged, lambda k: k.removeprefix("bert."))
        else:
            _assert_merged_like_peft({r.name: r for r in source.tensors()}, merged)


GPT2_CASES = {
    "c_attn fan_in_fan_out, wte": {"target_modules": ["c_attn", "c_proj", "wte"], "r": 4, "lora_alpha": 8},
    "lora_bias": {"target_modules": ["c_attn"], "r": 4, "lora_alpha": 8, "lora_bias": True},
    "DoRA": {"target_modules": ["c_attn", "c_fc", "wte"], "r": 4, "lora_alpha": 8, "use_dora": True},
    "rsLoRA, regex keys": {
        "target_modules": ["c_attn", "c_fc"],
        "r": 4,
        "lora_alpha": 8,
        "use_rslora": True,
        "rank_pattern": {r"h\.1\.mlp\..*": 3},
        "alpha_pattern": {r"h\.1\.mlp\..*": 9},
    },
}


@pytest.mark.parametrize("case", sorted(GPT2_CASES))
def test_gpt2_adapter_merged_equals_peft(tmp_path, case):
    _assert_adapter_merged_like_peft(tmp_path, _gpt2(), GPT2_CASES[case])


def test_gpt2_updates_alone_in_the_conv1d_layout(tmp_path):
    model = _gpt2()
    base = _state(model)
    adapter, merged = _peft(tmp_path, model, **GPT2_CASES["c_attn fan_in_fan_out, wte"])
    records = {r.name: r for r in open_source(adapter).tensors()}
    assert records["transformer.h.0.attn.c_attn.weight"].shape == (32, 96)  # in x out, as GPT-2 stores it
    assert records["transformer.wte.weight"].shape == (50, 32)
    _assert_updates(records, merged, base)


def test_cli_analyzes_and_compares_gpt2_and_prefixed_bert_adapters(tmp_path, capsys):
    """The cases the issue found refused ("update 384 x 128, base (128, 384)", "not this adapter's base")
    run end to end: every adapted matrix in a row; the 28 matrices of a BertModel beside the classification
    adapter's merge under the same names, and the new head said unmatched."""
    gpt2 = tmp_path / "gpt2"
    gpt2.mkdir()
    model = _gpt2()
    model.save_pretrained(str(gpt2 / "base"))
    adapter, _ = _peft(gpt2, model, **GPT2_CASES["c_attn fan_in_fan_out, wte"])
    out = tmp_path / "gpt2.csv"
    assert main(["analyze", str(adapter), "--base", str(gpt2 / "base"), "-o", str(out), "--quiet"]) == 0
    text = out.read_text()
    assert "transformer.h.1.attn.c_attn.weight" in text and "transformer.wte.weight" in text
    bert = tmp_path / "bert"
    bert.mkdir()
    model = _bert()
    model.bert.save_pretrained(str(bert / "base"))
    adapter, _ = _peft(bert, model, task_type="SEQ_CLS", target_modules=["query", "value"], r=4, lora_alpha=8)
    capsys.readouterr()
    assert main(["compare", str(bert / "base"), str(adapter)]) == 0
    out = capsys.readouterr().out
    assert "28 layers matched (28 by name, 0 by shape)" in out and "unmatched in B: classifier.weight" in out
