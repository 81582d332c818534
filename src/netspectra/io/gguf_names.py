"""GGUF tensor names -> the Hugging Face names that transformers' GGUF loader gives them, per architecture.

transformers (``modeling_gguf_pytorch_utils.get_gguf_hf_weights_map``) builds the model class of the
file's architecture and maps each name of its state dict to a GGUF name with the gguf package's
``TensorNameMap``; a GGUF tensor gets the name of the model parameter that maps to it.  That table
lists, for each GGUF tensor, the names of every Hugging Face family (``blk.N.ffn_up`` is
``mlp.up_proj`` in Llama and Gemma, ``feed_forward.up_proj`` in another family, ``mlp.c_fc`` in
StarCoder2): which one a file's tensor takes depends on its architecture, not on a ranking of the
table's names.  :data:`SCHEMES` writes them down for each architecture transformers loads (the
state-dict names of its model class, GGUF leaf -> Hugging Face path inside a block), and
``tests/io/test_io_gguf_names.py`` checks every entry against transformers' own mapping of a model
of each architecture.  Where transformers drops a tensor (it names no parameter), the file's name is
kept.  The routed experts' gate and up projections (``ffn_gate_exps``, ``ffn_up_exps``: experts x
intermediate x hidden each) are one parameter for transformers, ``mlp.experts.gate_up_proj``, the two
joined along the intermediate axis, gate first (:data:`JOINED_LEAVES`); the source joins them so too.

A file of another architecture gets the gguf package's table (:func:`hf_name_table`): the Llama
scheme that most decoders share (``model.layers.*``, ``model.embed_tokens``, ``model.norm``,
``lm_head``) preferred, then another ``model.``-prefixed name, then the first listed; a name the
table does not know is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ..errors import SourceError


@dataclass(frozen=True)
class BlockScheme:
    """The tensors of numbered blocks: ``{gguf_prefix}N.{leaf}`` -> ``{hf_prefix}N.{leaves[leaf]}``.

    A leaf is looked up with its suffix first (``ffn_down_exps.weight``: a parameter without one),
    then without ``.weight``/``.bias``, the suffix carried over.
    """

    gguf_prefix: str
    hf_prefix: str
    leaves: Mapping[str, str]


@dataclass(frozen=True)
class NameScheme:
    """The Hugging Face names of one architecture: tensors outside the blocks (``top``), then blocks."""

    top: Mapping[str, str]
    blocks: tuple[BlockScheme, ...]


def _frozen(*parts: Mapping[str, str], **extra: str) -> Mapping[str, str]:
    merged: dict[str, str] = {}
    for part in parts:
        merged.update(part)
    merged.update(extra)
    return MappingProxyType(merged)


_DECODER_TOP = _frozen({"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"})
_ATTENTION = _frozen(
    {
        "attn_norm": "input_layernorm",
        "attn_q": "self_attn.q_proj",
        "attn_k": "self_attn.k_proj",
        "attn_v": "self_attn.v_proj",
        "attn_output": "self_attn.o_proj",
        "ffn_norm": "post_attention_layernorm",
    }
)
_QK_NORM = _frozen({"attn_q_norm": "self_attn.q_norm", "attn_k_norm": "self_attn.k_norm"})
_GATED_MLP = _frozen({"ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"})
_MLP = _frozen({"ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"})
_GEMMA_NORMS = _frozen(
    {
        "ffn_norm": "pre_feedforward_layernorm",
        "post_attention_norm": "post_attention_layernorm",
        "post_ffw_norm": "post_feedforward_layernorm",
    }
)
#: Routed experts stored as one 3-D tensor per projection (``ffn_down_exps``: experts x out x in), the
#: parameters of transformers' fused experts module (no ``.weight``): ``mlp.experts.down_proj``, and gate
#: and up joined into ``mlp.experts.gate_up_proj`` (:data:`JOINED_LEAVES`).
EXPERT_LEAVES = _frozen(
    {
        "ffn_gate_inp": "mlp.gate",
        "ffn_down_exps.weight": "mlp.experts.down_proj",
        "ffn_gate_exps.weight": "mlp.experts.gate_up_proj",
        "ffn_up_exps.weight": "mlp.experts.gate_up_proj",
    }
)
#: The GGUF leaves that transformers joins into one parameter, in the order they are joined (along dim 1).
JOINED_LEAVES = ("ffn_gate_exps.weight", "ffn_up_exps.weight")
_SHARED_EXPERT = _frozen(
    {
        "ffn_gate_shexp": "mlp.shared_expert.gate_proj",
        "ffn_up_shexp": "mlp.shared_expert.up_proj",
        "ffn_down_shexp": "mlp.shared_expert.down_proj",
        "ffn_gate_inp_shexp": "mlp.shared_expert_gate",
    }
)


def _decoder(*leaves: Mapping[str, str], top: Mapping[str, str] = _DECODER_TOP, **extra: str) -> NameScheme:
    """A decoder of the Llama layout: ``model.layers.N.*`` blocks."""
    return NameScheme(top, (BlockScheme("blk.", "model.layers.", _frozen(*leaves, **extra)),))


def _t5_block(side: str, ffn_layer: int) -> dict[str, str]:
    """The leaves of a T5 block: self-attention in ``layer.0``, cross-attention (decoder) in ``layer.1``,
    the gated feed-forward (transformers reads every T5 GGUF as gated, ``wi_0``/``wi_1``) last."""
    leaves = {
        "attn_norm": "layer.0.layer_norm",
        "attn_q": "layer.0.SelfAttention.q",
        "attn_k": "layer.0.SelfAttention.k",
        "attn_v": "layer.0.SelfAttention.v",
        "attn_o": "layer.0.SelfAttention.o",
        "attn_rel_b": "layer.0.SelfAttention.relative_attention_bias",
        "ffn_norm": f"layer.{ffn_layer}.layer_norm",
        "ffn_gate": f"layer.{ffn_layer}.DenseReluDense.wi_0",
        "ffn_up": f"layer.{ffn_layer}.DenseReluDense.wi_1",
        "ffn_down": f"layer.{ffn_layer}.DenseReluDense.wo",
    }
    if side == "dec":
        leaves.update({f"cross_attn_{p}": f"layer.1.EncDecAttention.{p}" for p in "qkvo"}, cross_attn_norm="layer.1.layer_norm")
    return leaves


_T5 = NameScheme(
    _frozen(
        {
            "token_embd": "shared",
            "enc.output_norm": "encoder.final_layer_norm",
            "dec.output_norm": "decoder.final_layer_norm",
            "output": "lm_head",
        }
    ),
    (
        BlockScheme("enc.blk.", "encoder.block.", _frozen(_t5_block("enc", 1))),
        BlockScheme("dec.blk.", "decoder.block.", _frozen(_t5_block("dec", 2))),
    ),
)
_FALCON_BLOOM_TOP = {"token_embd": "transformer.word_embeddings", "output_norm": "transformer.ln_f", "output": "lm_head"}
_FALCON_BLOOM_BLOCK = {
    "attn_norm": "input_layernorm",
    "attn_qkv": "self_attention.query_key_value",
    "attn_output": "self_attention.dense",
    "ffn_up": "mlp.dense_h_to_4h",
    "ffn_down": "mlp.dense_4h_to_h",
}
_LLAMA = _decoder(_ATTENTION, _GATED_MLP)
_QWEN3 = _decoder(_ATTENTION, _QK_NORM, _GATED_MLP)
_QWEN_MOE = _decoder(_ATTENTION, _QK_NORM, _GATED_MLP, EXPERT_LEAVES, _SHARED_EXPERT)

#: The Hugging Face scheme of each ``general.architecture`` that transformers' GGUF loader reads.
SCHEMES: Mapping[str, NameScheme] = MappingProxyType(
    {
        "llama": _LLAMA,
        "qwen2": _LLAMA,
        "stablelm": _LLAMA,
        "qwen3": _QWEN3,
        "qwen2moe": _QWEN_MOE,
        "qwen3moe": _QWEN_MOE,
        "minimax-m2": _decoder(_ATTENTION, _QK_NORM, EXPERT_LEAVES, {"exp_probs_b.bias": "mlp.e_score_correction_bias"}),
        "nemotron": _decoder(_ATTENTION, _MLP),
        "starcoder2": _decoder(_ATTENTION, {"ffn_up": "mlp.c_fc", "ffn_down": "mlp.c_proj"}),
        "phi3": _decoder(
            _ATTENTION, {"attn_qkv": "self_attn.qkv_proj", "ffn_up": "mlp.gate_up_proj", "ffn_down": "mlp.down_proj"}
        ),
        "gemma2": _decoder(_ATTENTION, _GATED_MLP, _GEMMA_NORMS),
        "gemma3": _decoder(_ATTENTION, _QK_NORM, _GATED_MLP, _GEMMA_NORMS),
        "gemma4": _decoder(
            _ATTENTION,
            _QK_NORM,
            _GATED_MLP,
            _GEMMA_NORMS,
            inp_gate="per_layer_input_gate",
            proj="per_layer_projection",
            post_norm="post_per_layer_input_norm",
            **{"layer_output_scale": "layer_scalar", "layer_output_scale.weight": "layer_scalar"},
            top=_frozen(
                _DECODER_TOP,
                per_layer_token_embd="model.embed_tokens_per_layer",
                per_layer_model_proj="model.per_layer_model_projection",
                per_layer_proj_norm="model.per_layer_projection_norm",
            ),
        ),
        "gpt-oss": _decoder(
            _ATTENTION,
            EXPERT_LEAVES,
            {"attn_sinks": "self_attn.sinks", "attn_sinks.weight": "self_attn.sinks"},
            post_attention_norm="post_attention_layernorm",
            ffn_gate_inp="mlp.router",
        ),
        "lfm2": _decoder(
            {
                "attn_norm": "operator_norm",
                "attn_q": "self_attn.q_proj",
                "attn_k": "self_attn.k_proj",
                "attn_v": "self_attn.v_proj",
                "attn_output": "self_attn.out_proj",
                "attn_q_norm": "self_attn.q_layernorm",
                "attn_k_norm": "self_attn.k_layernorm",
                "ffn_norm": "ffn_norm",
                "ffn_gate": "feed_forward.w1",
                "ffn_up": "feed_forward.w3",
                "ffn_down": "feed_forward.w2",
                "shortconv.in_proj": "conv.in_proj",
                "shortconv.out_proj": "conv.out_proj",
                "shortconv.conv": "conv.conv",
            },
            top=_frozen(_DECODER_TOP, token_embd_norm="model.embedding_norm"),
        ),
        "falcon": NameScheme(_frozen(_FALCON_BLOOM_TOP), (BlockScheme("blk.", "transformer.h.", _frozen(_FALCON_BLOOM_BLOCK)),)),
        "bloom": NameScheme(
            _frozen(_FALCON_BLOOM_TOP, token_embd_norm="transformer.word_embeddings_layernorm"),
            (BlockScheme("blk.", "transformer.h.", _frozen(_FALCON_BLOOM_BLOCK, ffn_norm="post_attention_layernorm")),),
        ),
        "gpt2": NameScheme(
            _frozen(
                {
                    "token_embd": "transformer.wte",
                    "position_embd": "transformer.wpe",
                    "output_norm": "transformer.ln_f",
                    "output": "lm_head",
                }
            ),
            (
                BlockScheme(
                    "blk.",
                    "transformer.h.",
                    _frozen(
                        {
                            "attn_norm": "ln_1",
                            "attn_qkv": "attn.c_attn",
                            "attn_output": "attn.c_proj",
                            "ffn_norm": "ln_2",
                            "ffn_up": "mlp.c_fc",
                            "ffn_down": "mlp.c_proj",
                        }
                    ),
                ),
            ),
        ),
        "mamba": NameScheme(
            _frozen({"token_embd": "backbone.embeddings", "output_norm": "backbone.norm_f", "output": "lm_head"}),
            (
                BlockScheme(
                    "blk.",
                    "backbone.layers.",
                    _frozen(
                        {
                            "attn_norm": "norm",
                            "ssm_in": "mixer.in_proj",
                            "ssm_conv1d": "mixer.conv1d",
                            "ssm_x": "mixer.x_proj",
                            "ssm_dt": "mixer.dt_proj",
                            "ssm_a": "mixer.A_log",
                            "ssm_d": "mixer.D",
                            "ssm_out": "mixer.out_proj",
                        }
                    ),
                ),
            ),
        ),
        "t5": _T5,
        "t5encoder": _T5,
    }
)

_SUFFIXES = ("weight", "bias")


def _lookup(name: str, table: Mapping[str, str]) -> str | None:
    """``name`` in ``table`` as it is, else without its ``.weight``/``.bias`` with the suffix carried over."""
    if name in table:
        return table[name]
    base, dot, suffix = name.rpartition(".")
    if dot and suffix in _SUFFIXES and base in table:
        return f"{table[base]}.{suffix}"
    return None


def _block_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(re.escape(prefix) + r"(\d{1,9})\.(.+)\Z")


_BLOCK_PATTERNS = {prefix: _block_pattern(prefix) for prefix in ("blk.", "enc.blk.", "dec.blk.")}


def scheme_name(gguf_name: str, scheme: NameScheme) -> str | None:
    """The Hugging Face name of a GGUF tensor in ``scheme``, or None where it names no parameter."""
    if (top := _lookup(gguf_name, scheme.top)) is not None:
        return top
    for block in scheme.blocks:
        pattern = _BLOCK_PATTERNS.get(block.gguf_prefix) or _block_pattern(block.gguf_prefix)
        if (match := pattern.match(gguf_name)) and (leaf := _lookup(match[2], block.leaves)) is not None:
            return f"{block.hf_prefix}{int(match[1])}.{leaf}"
    return None


#: Most blocks whose names the gguf package's table is built for: it costs 0.35 ms and 271 names a
#: block (a ``block_count`` of 10^9 in a 24 KB file hung building it); the deepest models have about 130.
MAX_GGUF_BLOCKS = 1024
_BLOCK_INDEX = re.compile(r"blk\.(\d{1,9})\.")
#: The Hugging Face names of the Llama scheme outside the blocks.
_LLAMA_TOP_LEVEL = frozenset(_DECODER_TOP.values())


def hf_name_table(architecture: str, num_blocks: int) -> dict[str, str]:
    """GGUF base name -> Hugging Face base name from the gguf package's table, for an architecture
    without a :data:`SCHEMES` entry.

    The table lists every Hugging Face variant of a tensor (``transformer.wte``, ``model.embed_tokens``,
    ...); the Llama scheme is preferred (``model.layers.*``, ``model.embed_tokens``, ``model.norm``,
    ``lm_head``), then another ``model.``-prefixed name, then the first listed.
    """
    import gguf

    arch = next((a for a, name in gguf.MODEL_ARCH_NAMES.items() if name == architecture), None)
    if arch is None:
        return {}
    candidates: dict[str, list[str]] = {}
    for hf, (_tensor, gguf_name) in gguf.get_tensor_name_map(arch, num_blocks).mapping.items():
        candidates.setdefault(gguf_name, []).append(hf)

    def rank(hf: str) -> int:
        if hf.startswith("model.layers.") or hf in _LLAMA_TOP_LEVEL:
            return 0
        return 1 if hf.startswith("model.") else 2

    return {g: min(names, key=rank) for g, names in candidates.items()}


def held_blocks(declared: int, names: Iterable[str], label: str) -> int:
    """The blocks to build the package's name table for: those ``declared`` (``block_count``), no more
    than the tensor names reach (``blk.N.``): the metadata cannot make the table larger than the file.

    Raises
    ------
    SourceError
        When the tensors name more than :data:`MAX_GGUF_BLOCKS` declared blocks.
    """
    named = max((int(m[1]) + 1 for name in names if (m := _BLOCK_INDEX.match(name))), default=0)
    blocks = min(declared, named)
    if blocks > MAX_GGUF_BLOCKS:
        raise SourceError(f"{label}: tensors of {blocks:,} blocks; netspectra maps the names of at most {MAX_GGUF_BLOCKS:,}")
    return blocks


def table_name(gguf_name: str, table: Mapping[str, str]) -> str:
    """The name of a GGUF tensor in the package's table (suffix ``.weight``/``.bias`` kept), or the name itself."""
    return _lookup(gguf_name, table) or gguf_name


def hf_names(architecture: str | None, block_count: object, names: list[str], label: str) -> tuple[list[str], list[list[int]]]:
    """The Hugging Face name of each GGUF tensor name (module docstring), in order, and the groups of
    tensors that transformers joins into one parameter (indices in :data:`JOINED_LEAVES` order).

    Two tensors given one name keep theirs (the file's own name is the second one's), unless they are
    the parts of one joined parameter, each part once; the parts of an incomplete group keep theirs.
    """
    scheme = SCHEMES.get(architecture) if architecture else None
    if scheme is not None:
        mapped = [scheme_name(name, scheme) or name for name in names]
    elif architecture and isinstance(block_count, int) and not isinstance(block_count, bool):
        table = hf_name_table(architecture, held_blocks(block_count, names, label))
        mapped = [table_name(name, table) for name in names]
    else:
        mapped = list(names)
    parts: dict[str, dict[str, list[int]]] = {}
    for index, (gguf_name, name) in enumerate(zip(names, mapped, strict=True)):
        leaf = next((leaf for leaf in JOINED_LEAVES if gguf_name.endswith(f".{leaf}")), None)
        if scheme is not None and leaf is not None and name != gguf_name:
            parts.setdefault(name, {}).setdefault(leaf, []).append(index)
    groups = []
    for group in parts.values():
        if all(len(group.get(leaf, ())) == 1 for leaf in JOINED_LEAVES):
            groups.append([group[leaf][0] for leaf in JOINED_LEAVES])
        else:
            for index in (i for indices in group.values() for i in indices):
                mapped[index] = names[index]
    joined = {i for group in groups for i in group[1:]}
    seen: set[str] = set()
    for index, name in enumerate(mapped):
        if name in seen and index not in joined:
            mapped[index] = names[index]
        seen.add(mapped[index])
    return mapped, groups
