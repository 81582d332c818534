"""What a weight matrix is in its model: its role (attention query, MLP down projection, router, expert, ...),
its transformer block, its expert index and its stack (encoder, decoder, vision, text), from its tensor name.

One table of name patterns per family (:data:`FAMILY_PATTERNS`): Llama/Qwen/Mistral/Gemma/Phi (and the
Meta and GGUF spellings of the same layers), mixture-of-experts blocks, GPT-2 (and OpenCLIP, GPT-NeoX),
BERT/MPNet/ViT, T5, CLIP and Whisper (and BART, whose names are Whisper's).  Each pattern is searched in
the lower-case name without its ``.weight`` and split suffix (``[q]``, ``[3,gate]``); the first that
matches gives the role, in the order of the table (mixture-of-experts first: ``experts.3.up_proj`` is an
expert before it is an MLP).  A name no pattern matches has role ``other``.

The block is the number after the first ``layers``/``layer``/``h``/``block``/``blocks``/``blk``/
``resblocks`` word of the name (``model.layers.11.mlp.down_proj`` -> 11), -1 outside the blocks; the
expert the number after ``experts`` (-1 for every other matrix; a 3-D expert tensor's experts are
numbered by :mod:`netspectra.io.layers`).

Model order (:func:`model_order`): the rows of a transformer are sorted into the order of computation,
whatever the order of the file (GGUF files list ``blk.0, blk.1, blk.10, ...``; safetensors files are
sorted by name): the embeddings, then each stack (encoder before decoder) block by block, within a block
by role (:data:`ROLES`: q, k, v, o, router, gate, up, down, ...), then the heads (``lm_head``, a
classifier).  A model with no attention, MLP or expert role (a CNN) keeps the order of its source.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

#: Roles before the blocks (embeddings and input convolutions), in computation order.
INPUT_ROLES = ("embedding", "position_embedding", "token_type_embedding", "patch_embedding", "input_conv")
#: Roles inside a block, in computation order.
BLOCK_ROLES = (
    "attn_q",
    "attn_k",
    "attn_v",
    "attn_qkv",
    "attn_kv",
    "attn_o",
    "cross_attn_q",
    "cross_attn_k",
    "cross_attn_v",
    "cross_attn_o",
    "router",
    "mlp_gate",
    "mlp_up",
    "mlp_gate_up",
    "mlp_down",
    "shared_expert_gate",
    "shared_expert_up",
    "shared_expert_down",
    "expert_gate",
    "expert_up",
    "expert_gate_up",
    "expert_down",
)
#: Roles after the blocks (output heads).
OUTPUT_ROLES = ("lm_head", "pooler", "classifier", "projection")
#: Every role, in model order; ``norm`` (normalisation weights, skipped as matrices) and ``other`` (no
#: pattern matched) last.
ROLES = (*INPUT_ROLES, *BLOCK_ROLES, *OUTPUT_ROLES, "norm", "other")
_RANK = {role: rank for rank, role in enumerate(ROLES)}

#: Roles whose presence makes a model a transformer, whose rows are put in model order.
TRANSFORMER_ROLES = frozenset(r for r in BLOCK_ROLES if r != "router")

#: Role of each part of a fused QKV tensor split by the layer rules (its kind).
KIND_ROLES = {"attention_q": "attn_q", "attention_k": "attn_k", "attention_v": "attn_v"}

_ATTN = r"(?:^|\.)(?:self_attn|attn|attention|self_attention)"
_EXPERT_LEAF = (
    (r"(?:gate_proj|w1)", "gate"),
    (r"(?:up_proj|w3)", "up"),
    (r"(?:down_proj|w2)", "down"),
    (r"gate_up_proj", "gate_up"),
)

#: Name patterns per family: (regular expression searched in the normalised name, role), first match wins.
FAMILY_PATTERNS: dict[str, tuple[tuple[str, str], ...]] = {
    # Mixtral, Qwen2/3-MoE, DeepSeek V2/V3, OLMoE, GPT-OSS, Llama 4, Granite MoE; per-expert
    # (experts.3.w1, experts.3.gate_proj) and fused (experts.gate_up_proj) tensors, the GGUF reader's names.
    "mixture-of-experts": (
        *((rf"(?:^|\.)shared_experts?\.{leaf}$", f"shared_expert_{part}") for leaf, part in _EXPERT_LEAF),
        (r"\.shared_expert_gate$", "router"),
        *((rf"(?:^|\.)experts\.(?:\d+\.)?{leaf}$", f"expert_{part}") for leaf, part in _EXPERT_LEAF),
        (r"(?:^|\.)(?:mlp|moe|block_sparse_moe|feed_forward|ffn|sparse_moe_block)\.(?:gate|router)(?:\.layer)?$", "router"),
    ),
    # Llama, Qwen, Mistral, Gemma, Phi-3 (fused qkv_proj, gate_up_proj), Phi-1/2 (dense, fc1/fc2), DeepSeek's
    # latent attention (q_a/q_b, kv_a/kv_b), Meta's own checkpoints (wq, w1, tok_embeddings, output).
    "llama": (
        (rf"{_ATTN}\.(?:q_proj|q_a_proj|q_b_proj|wq)$", "attn_q"),
        (rf"{_ATTN}\.(?:k_proj|wk)$", "attn_k"),
        (rf"{_ATTN}\.(?:v_proj|wv)$", "attn_v"),
        (rf"{_ATTN}\.(?:qkv_proj|wqkv)$", "attn_qkv"),
        (rf"{_ATTN}\.(?:kv_a_proj_with_mqa|kv_b_proj)$", "attn_kv"),
        (rf"{_ATTN}\.(?:o_proj|wo|dense)$", "attn_o"),
        (r"(?:mlp|feed_forward)\.(?:gate_proj|w1)$", "mlp_gate"),
        (r"(?:mlp|feed_forward)\.(?:up_proj|w3)$", "mlp_up"),
        (r"(?:mlp|feed_forward)\.gate_up_proj$", "mlp_gate_up"),
        (r"(?:mlp|feed_forward)\.(?:down_proj|w2)$", "mlp_down"),
        (r"mlp\.fc1$", "mlp_up"),
        (r"mlp\.fc2$", "mlp_down"),
        (r"(?:^|\.)(?:embed_tokens|tok_embeddings)$", "embedding"),
        (r"(?:^|\.)lm_head$", "lm_head"),
        (r"^output$", "lm_head"),
    ),
    # llama.cpp's names, where the GGUF reader has no Hugging Face name for them.
    "gguf": (
        (r"\.attn_q$", "attn_q"),
        (r"\.attn_k$", "attn_k"),
        (r"\.attn_v$", "attn_v"),
        (r"\.attn_qkv$", "attn_qkv"),
        (r"\.attn_output$", "attn_o"),
        (r"\.ffn_gate_inp$", "router"),
        (r"\.ffn_(gate|up|down)_exps$", r"expert_\1"),
        (r"\.ffn_(gate|up|down)_shexp$", r"shared_expert_\1"),
        (r"\.ffn_gate$", "mlp_gate"),
        (r"\.ffn_up$", "mlp_up"),
        (r"\.ffn_down$", "mlp_down"),
        (r"^token_embd$", "embedding"),
    ),
    # GPT-2 (Conv1D c_attn split into q, k, v by the layer rules), OpenCLIP (attn.in_proj, c_fc), GPT-NeoX.
    "gpt2": (
        (r"attn\.c_attn$", "attn_qkv"),
        (r"attn\.c_proj$", "attn_o"),
        (r"mlp\.c_fc$", "mlp_up"),
        (r"mlp\.c_proj$", "mlp_down"),
        (r"attention\.query_key_value$", "attn_qkv"),
        (r"mlp\.dense_h_to_4h$", "mlp_up"),
        (r"mlp\.dense_4h_to_h$", "mlp_down"),
        (r"(?:^|\.)(?:wte|embed_in)$", "embedding"),
        (r"(?:^|\.)wpe$", "position_embedding"),
        (r"(?:^|\.)embed_out$", "lm_head"),
    ),
    # BERT, RoBERTa, MPNet (attention.attn.q), ViT (attention.attention.query), their heads.
    "bert": (
        (r"attention\.(?:self|attention)\.query$", "attn_q"),
        (r"attention\.(?:self|attention)\.key$", "attn_k"),
        (r"attention\.(?:self|attention)\.value$", "attn_v"),
        (r"attention\.attn\.q$", "attn_q"),
        (r"attention\.attn\.k$", "attn_k"),
        (r"attention\.attn\.v$", "attn_v"),
        (r"attention\.attn\.o$", "attn_o"),
        (r"attention\.output\.dense$", "attn_o"),
        (r"intermediate\.dense$", "mlp_up"),
        (r"(?:^|\.)output\.dense$", "mlp_down"),
        (r"(?:^|\.)word_embeddings$", "embedding"),
        (r"(?:^|\.)position_embeddings$", "position_embedding"),
        (r"(?:^|\.)token_type_embeddings$", "token_type_embedding"),
        (r"(?:^|\.)relative_attention_bias$", "position_embedding"),
        (r"patch_embeddings\.projection$", "patch_embedding"),
        (r"(?:^|\.)pooler\.dense$", "pooler"),
        (r"(?:^|\.)cls\.predictions\.decoder$", "lm_head"),
        (r"(?:^|\.)(?:cls|classifier|score|qa_outputs)(?:\.|$)", "classifier"),
    ),
    # T5 (v1.0: wi; v1.1 and Flan: wi_0 gate, wi_1 up), cross-attention EncDecAttention.
    "t5": (
        (r"encdecattention\.(q|k|v|o)$", r"cross_attn_\1"),
        (r"selfattention\.(q|k|v|o)$", r"attn_\1"),
        (r"densereludense\.wi_0$", "mlp_gate"),
        (r"densereludense\.wi(?:_1)?$", "mlp_up"),
        (r"densereludense\.wo$", "mlp_down"),
        (r"^shared$", "embedding"),
    ),
    # Whisper and BART: encoder_attn is the decoder's cross-attention, fc1/fc2 the MLP, conv1/conv2 the
    # audio stem.
    "whisper": (
        (r"encoder_attn\.(q|k|v)_proj$", r"cross_attn_\1"),
        (r"encoder_attn\.out_proj$", "cross_attn_o"),
        (r"(?:^|\.)fc1$", "mlp_up"),
        (r"(?:^|\.)fc2$", "mlp_down"),
        (r"encoder\.conv[12]$", "input_conv"),
        (r"(?:^|\.)embed_positions$", "position_embedding"),
        (r"(?:^|\.)proj_out$", "lm_head"),
    ),
    # CLIP's two towers, SigLIP, and the generic attention names last.
    "clip": (
        (r"(?:^|\.)token_embedding$", "embedding"),
        (r"(?:^|\.)position_embedding$", "position_embedding"),
        (r"(?:^|\.)patch_embedding$", "patch_embedding"),
        (r"(?:^|\.)(?:visual|text)_projection$", "projection"),
        (r"(?:^|\.)(?:self_attn|attn)\.out_proj$", "attn_o"),
        (r"(?:^|\.)in_proj$", "attn_qkv"),
        (r"(?:^|\.)q_proj$", "attn_q"),
        (r"(?:^|\.)k_proj$", "attn_k"),
        (r"(?:^|\.)v_proj$", "attn_v"),
        (r"(?:^|\.)(?:head|pooler)(?:\.|$)", "classifier"),
    ),
}

_PATTERNS = tuple((re.compile(pattern), role) for table in FAMILY_PATTERNS.values() for pattern, role in table)
_SUFFIX = re.compile(r"\[[^\]]*\]$")
_LEAF = re.compile(r"(?:\.weight|_weight)$")
_BLOCK = re.compile(r"(?:^|\.)(?:layers|layer|h|block|blocks|blk|resblocks)\.(\d{1,9})(?:\.|$)")
_EXPERT = re.compile(r"(?:^|\.)experts\.(\d{1,9})(?:\.|$)")
_NORM_WORD = re.compile(r"(?:^|[._])(?:[a-z]*norm\d*|ln\d*|ln_[a-z0-9]+)(?:[._]|$)")
_STACK_WORDS = {
    "encoder": "encoder",
    "decoder": "decoder",
    "text_model": "text",
    "language_model": "text",
    "vision_model": "vision",
    "vision_tower": "vision",
    "visual": "vision",
    "audio_tower": "audio",
}
_STACK = re.compile(r"(?:^|\.)(" + "|".join(_STACK_WORDS) + r")\.(?!(?:weight|bias)$)")  # not BERT's cls...decoder.weight
#: Order of the stacks in a model: a stack's blocks follow those of the stacks before it.
STACK_ORDER = ("", "encoder", "vision", "audio", "text", "decoder")


@dataclass(frozen=True)
class Placement:
    """Where a matrix sits in its model (the ``role``, ``stack``, ``block`` and ``expert`` columns).

    Attributes
    ----------
    role : str
        One of :data:`ROLES`.
    stack : str
        ``encoder``, ``decoder``, ``vision``, ``text`` or ``audio`` for a model of several stacks of
        blocks (T5, Whisper, CLIP, BERT's ``encoder``), empty otherwise.
    block : int
        Index of the transformer block within its stack, -1 outside the blocks.
    expert : int
        Index of the expert within its mixture-of-experts block, -1 for every other matrix.
    """

    role: str = "other"
    stack: str = ""
    block: int = -1
    expert: int = -1


def normalised(name: str) -> str:
    """The name as the patterns see it: lower case, without a split suffix or a trailing ``.weight``."""
    return _LEAF.sub("", _SUFFIX.sub("", name.lower()))


def role_of(name: str, kind: str = "linear") -> str:
    """The role of a matrix from its tensor name (and its kind, for the parts of a split fused QKV tensor)."""
    if kind in KIND_ROLES:
        return KIND_ROLES[kind]
    base = normalised(name)
    for pattern, role in _PATTERNS:
        match = pattern.search(base)
        if match:
            return match.expand(role)
    return "norm" if _NORM_WORD.search(base) else "other"


def place(name: str, kind: str = "linear", expert: int | None = None) -> Placement:
    """The :class:`Placement` of a matrix named ``name``; ``expert`` overrides the index read from the name."""
    low = name.lower()
    block = _BLOCK.search(low)
    stack = _STACK.search(low)
    if expert is None:
        found = _EXPERT.search(low)
        expert = int(found[1]) if found else -1
    return Placement(
        role=role_of(name, kind),
        stack=_STACK_WORDS[stack[1]] if stack else "",
        block=int(block[1]) if block else -1,
        expert=expert,
    )


def model_order(placements: Sequence[Placement]) -> list[int]:
    """The positions of ``placements`` (in source order) sorted into model order (see the module docstring).

    Sort key: embeddings of the whole model first, heads of the whole model last; between them the stacks
    in :data:`STACK_ORDER`, each with its input layers, its blocks in increasing index and its heads;
    within a block by role (:data:`ROLES`), then expert, then source order; outside the blocks in source
    order.  The identity when no placement has a role of :data:`TRANSFORMER_ROLES`.
    """
    if not any(p.role in TRANSFORMER_ROLES for p in placements):
        return list(range(len(placements)))

    def key(position: int) -> tuple[int, int, int, int, int, int, int]:
        p = placements[position]
        section = 1 if p.block >= 0 else (0 if p.role in INPUT_ROLES else 2)
        outer = 1 if p.stack or section == 1 else section
        stack = STACK_ORDER.index(p.stack) if p.stack in STACK_ORDER else len(STACK_ORDER)
        rank = _RANK.get(p.role, len(ROLES)) if p.block >= 0 else 0
        return (outer, stack, section, p.block, rank, p.expert, position)

    return sorted(range(len(placements)), key=key)
