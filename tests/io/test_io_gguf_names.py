"""GGUF names and layouts as transformers' GGUF loader gives them (issue 26, item 2), for every architecture
it loads.

The reference is transformers itself: ``get_gguf_hf_weights_map`` run on a two-block model of each
architecture built on the meta device (no weights), as ``load_gguf_checkpoint`` runs it on the model it
loads into, and each architecture's ``TensorProcessor`` run on the same values as our
:func:`~netspectra.io.gguf_layout.relayout_rule`.  Gemma 3's ``ffn_up`` was ``feed_forward.up_proj``
before (a tie in the ranking of gguf's table), Bloom's, GPT-2's, Falcon's, Mamba's and T5's tensors were
named in the Llama scheme, StarCoder2's MLP ``mlp.up_proj``.
"""

from __future__ import annotations

import numpy as np
import pytest

from gguf_files import write_gguf_file
from netspectra.io import open_source
from netspectra.io.gguf_layout import relayout_rule
from netspectra.io.gguf_names import SCHEMES, scheme_name

gguf = pytest.importorskip("gguf")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.slow  # transformers' model classes: about 10 s to import and build

TINY = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    vocab_size=128,
    pad_token_id=0,
    bos_token_id=0,
    eos_token_id=0,
)
#: GGUF architecture -> (transformers model type, its configuration beyond TINY): the ones transformers'
#: GGUF loader reads (modeling_gguf_pytorch_utils.GGUF_SUPPORTED_ARCHITECTURES), as it configures them.
ARCHITECTURES = {
    "llama": ("llama", {}),
    "qwen2": ("qwen2", {}),
    "qwen2moe": ("qwen2_moe", dict(num_experts=4, moe_intermediate_size=32, shared_expert_intermediate_size=32)),
    "qwen3": ("qwen3", {}),
    "qwen3moe": ("qwen3_moe", dict(num_experts=4, moe_intermediate_size=32)),
    "minimax-m2": ("minimax_m2", dict(num_local_experts=4)),
    "gpt-oss": ("gpt_oss", dict(num_local_experts=4)),
    "lfm2": ("lfm2", {}),
    "falcon": ("falcon", dict(num_key_value_heads=None, head_dim=None)),
    "phi3": ("phi3", {}),
    "bloom": ("bloom", dict(n_layer=2, n_head=4)),
    "t5": ("t5", dict(d_model=64, d_ff=128, num_layers=2, num_heads=4, d_kv=16, feed_forward_proj="gated-gelu")),
    "stablelm": ("stablelm", {}),
    "gpt2": ("gpt2", dict(n_layer=2, n_head=4, n_embd=64)),
    "starcoder2": ("starcoder2", {}),
    "mamba": ("mamba", dict(num_hidden_layers=2)),
    "nemotron": ("nemotron", {}),
    "gemma2": ("gemma2", {}),
    "gemma3": ("gemma3_text", {}),
    "gemma4": ("gemma4_text", {}),
}


def transformers_map(architecture: str) -> dict[str, str]:
    """transformers' GGUF name -> parameter name for a two-block model of ``architecture``."""
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM
    from transformers.modeling_gguf_pytorch_utils import TENSOR_PROCESSORS, TensorProcessor, get_gguf_hf_weights_map

    model_type, extra = ARCHITECTURES[architecture]
    config = AutoConfig.for_model(model_type, **{k: v for k, v in {**TINY, **extra}.items() if v is not None})
    with torch.device("meta"):
        try:
            model = AutoModelForCausalLM.from_config(config)
        except ValueError:  # T5: no causal-LM class
            model = AutoModel.from_config(config)
    processor = TENSOR_PROCESSORS.get(architecture, TensorProcessor)(config={})
    return get_gguf_hf_weights_map(model, processor, num_layers=2)


def test_the_schemes_cover_every_architecture_transformers_reads():
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    names = {"qwen2_moe": "qwen2moe", "qwen3_moe": "qwen3moe", "gpt_oss": "gpt-oss", "minimax_m2": "minimax-m2", "umt5": "t5"}
    # mistral is a llama GGUF file; deci's model class is remote code, not in transformers.
    expected = {names.get(a, a) for a in GGUF_SUPPORTED_ARCHITECTURES} - {"general", "tokenizer", "mistral", "deci"}
    assert expected <= set(SCHEMES) and set(ARCHITECTURES) == expected


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_every_name_is_the_one_transformers_gives(architecture):
    reference = transformers_map(architecture)
    assert reference
    scheme = SCHEMES[architecture]
    for gguf_name, hf in reference.items():
        # transformers keys a parameter without .weight/.bias by the bare GGUF name (``blk.0.ffn_down_exps``);
        # the file stores it with or without ``.weight``.
        ours = {scheme_name(gguf_name, scheme), scheme_name(f"{gguf_name}.weight", scheme)} - {None}
        assert hf in ours, (gguf_name, hf, ours)


def _metadata(architecture: str, heads: int = 4, kv_heads: int = 2) -> dict[str, object]:
    return {f"{architecture}.attention.head_count": heads, f"{architecture}.attention.head_count_kv": kv_heads}


#: (GGUF architecture, tensor, stored shape in PyTorch order, transformers' processor configuration).
LAYOUT_CASES = [
    ("llama", "blk.0.attn_q.weight", (64, 24), dict(num_attention_heads=4, num_key_value_heads=2)),
    ("llama", "blk.0.attn_k.weight", (32, 24), dict(num_attention_heads=4, num_key_value_heads=2)),
    ("llama", "blk.0.attn_q.bias", (64,), dict(num_attention_heads=4, num_key_value_heads=2)),
    ("llama", "blk.0.attn_v.weight", (32, 24), dict(num_attention_heads=4, num_key_value_heads=2)),
    ("bloom", "blk.0.attn_qkv.weight", (96, 32), dict(n_head=4, hidden_size=32)),
    ("bloom", "blk.0.attn_qkv.bias", (96,), dict(n_head=4, hidden_size=32)),
    ("gpt2", "blk.0.attn_qkv.weight", (96, 32), {}),
    ("gpt2", "blk.0.attn_output.weight", (32, 32), {}),
    ("gpt2", "blk.0.ffn_up.weight", (128, 32), {}),
    ("gpt2", "blk.0.ffn_down.weight", (32, 128), {}),
    ("gemma3", "blk.0.attn_norm.weight", (32,), {}),
    ("gemma3", "blk.0.attn_q_norm.weight", (16,), {}),
    ("gemma2", "output_norm.weight", (32,), {}),
    ("nemotron", "blk.0.ffn_norm.weight", (32,), {}),
    ("mamba", "blk.0.ssm_conv1d.weight", (64, 4), {}),
    ("mamba", "blk.0.ssm_a", (64, 16), {}),
    ("qwen2moe", "blk.0.ffn_gate_inp_shexp.weight", (32,), {}),
]


@pytest.mark.parametrize(("architecture", "name", "shape", "config"), LAYOUT_CASES, ids=[f"{c[0]}-{c[1]}" for c in LAYOUT_CASES])
def test_layout_is_the_one_transformers_gives(architecture, name, shape, config):
    from transformers.modeling_gguf_pytorch_utils import TENSOR_PROCESSORS

    rng = np.random.default_rng(1)
    stored = rng.standard_normal(shape).astype(np.float32)
    if name.endswith("ssm_a"):
        stored = -np.exp(stored)
    expected = TENSOR_PROCESSORS[architecture](config=config).process(weights=stored.copy(), name=name).weights
    heads = config.get("num_attention_heads", config.get("n_head", 4))
    metadata = _metadata(architecture, heads, config.get("num_key_value_heads", heads))
    relayout = relayout_rule(architecture, metadata.get)(name, shape)
    ours = relayout(stored.copy()) if relayout is not None else stored
    assert (relayout.shape(shape) if relayout is not None else shape) == expected.shape == ours.shape
    np.testing.assert_array_equal(ours, expected)
    changed = not np.array_equal(np.asarray(expected).ravel(), stored.ravel()) or expected.shape != stored.shape
    assert changed == (relayout is not None), name


def test_a_mixture_of_experts_file_reads_as_transformers_loads_it(tmp_path):
    """A Qwen2-MoE file (4 routed experts stored as 3-D tensors, a shared expert): every tensor's name, shape
    and values equal to what ``load_gguf_checkpoint`` gives, gate and up joined into ``gate_up_proj``."""
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    experts, inner, hidden, vocab = 4, 32, 64, 96
    rng = np.random.default_rng(2)
    path = tmp_path / "moe.gguf"

    def metadata(writer):
        writer.add_context_length(128)
        writer.add_embedding_length(hidden)
        writer.add_feed_forward_length(inner)
        writer.add_head_count(4)
        writer.add_head_count_kv(2)
        writer.add_expert_count(experts)
        writer.add_expert_used_count(2)
        writer.add_vocab_size(vocab)

    shapes = {
        "token_embd.weight": (vocab, hidden),
        "output_norm.weight": (hidden,),
        "output.weight": (vocab, hidden),
        "blk.0.attn_norm.weight": (hidden,),
        "blk.0.attn_q.weight": (hidden, hidden),
        "blk.0.attn_q.bias": (hidden,),
        "blk.0.attn_k.weight": (hidden // 2, hidden),
        "blk.0.attn_v.weight": (hidden // 2, hidden),
        "blk.0.attn_output.weight": (hidden, hidden),
        "blk.0.ffn_norm.weight": (hidden,),
        "blk.0.ffn_gate_inp.weight": (experts, hidden),
        "blk.0.ffn_gate_exps.weight": (experts, inner, hidden),
        "blk.0.ffn_up_exps.weight": (experts, inner, hidden),
        "blk.0.ffn_down_exps.weight": (experts, hidden, inner),
        "blk.0.ffn_gate_shexp.weight": (inner, hidden),
        "blk.0.ffn_up_shexp.weight": (inner, hidden),
        "blk.0.ffn_down_shexp.weight": (hidden, inner),
        "blk.0.ffn_gate_inp_shexp.weight": (hidden,),
    }
    tensors = {name: rng.standard_normal(shape).astype(np.float32) for name, shape in shapes.items()}
    q8 = {name: "Q8_0" for name in shapes if name.endswith("_exps.weight")}  # stored quantized, as llama.cpp stores them
    write_gguf_file(path, tensors, arch="qwen2moe", types=q8, metadata=metadata)

    config = load_gguf_checkpoint(str(path), return_tensors=False)["config"]
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**config))
    expected = load_gguf_checkpoint(str(path), return_tensors=True, model_to_load=model)["tensors"]
    ours = {r.name: r for r in open_source(path).tensors()}
    assert set(ours) == set(expected) and len(ours) == len(shapes) - 1  # gate and up: one parameter
    joined = ours["model.layers.0.mlp.experts.gate_up_proj"]
    assert (joined.shape, joined.dtype) == ((experts, 2 * inner, hidden), "Q8_0")
    for name, record in ours.items():
        reference = expected[name].numpy()
        assert record.shape == reference.shape, name
        np.testing.assert_array_equal(record.load(), reference, err_msg=name)
