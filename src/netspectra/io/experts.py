"""Mixture-of-experts weights stored as one 3-D tensor: (E, out, in) or (E, in, out), one matrix per expert.

transformers 5 stores the experts of a block as parameters ``mlp.experts.gate_up_proj`` and
``mlp.experts.down_proj`` of shape (E, ., .); GPT-OSS checkpoints are written that way, and llama.cpp
stores ``blk.N.ffn_gate_exps``/``ffn_up_exps``/``ffn_down_exps`` as (E, out, in) too (the GGUF reader
names them ``mlp.experts.gate_proj.weight`` ...).  Expert ``e`` is the matrix ``W[e]``.

The fused ``gate_up_proj`` holds the gate and up projections of each expert in one of three layouts, set
per architecture in transformers (``use_experts_implementation(is_transposed=..., is_concatenated=...)``
in ``transformers/integrations/moe.py``, and each family's ``forward``):

* (E, 2 I, H), gate = rows [0, I), up = rows [I, 2 I): Mixtral, Qwen2/3-MoE, DeepSeek V2/V3, OLMoE,
  PhiMoE, Granite MoE, GLM-4 MoE, ... (``F.linear(x, W[e]).chunk(2, dim=-1)``, transformers' default
  ``is_transposed=False, is_concatenated=True``);
* (E, H, 2 I), gate = columns [0, I), up = columns [I, 2 I): Llama 4 (``bmm(x, W).chunk(2, dim=-1)``);
* (E, H, 2 I), gate = even columns, up = odd columns: GPT-OSS (``gate_up[..., ::2], gate_up[..., 1::2]``).

The layout is known from config.json's ``model_type`` (:data:`FUSED_LAYOUTS`); without it the fused
matrix of each expert is analyzed whole, with the note :data:`NOTE_FUSED_UNSPLIT` (:data:`NOTE_FUSED_ODD`
when the fused dimension is odd).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NOTE_FUSED_UNSPLIT = "fused gate/up of the experts left unsplit: layout unknown (config.json has no known model_type)"
NOTE_FUSED_ODD = "fused gate/up of the experts left unsplit: odd size, not two halves"


@dataclass(frozen=True)
class FusedLayout:
    """How the gate and up projections of one expert share its matrix W[e].

    ``transposed``: W[e] is (in, out) = (H, 2 I), the halves are columns; otherwise (out, in) = (2 I, H),
    the halves are rows.  ``interleaved``: gate and up alternate (gate 0, up 0, gate 1, ...); otherwise
    gate is the first half and up the second.
    """

    transposed: bool = False
    interleaved: bool = False

    def part(self, matrix: np.ndarray, which: str) -> np.ndarray:
        """The ``gate`` or ``up`` projection of one expert's fused matrix (a view)."""
        index = 0 if which == "gate" else 1
        axis_matrix = matrix.T if self.transposed else matrix
        size = axis_matrix.shape[0] // 2
        rows = axis_matrix[index::2] if self.interleaved else axis_matrix[index * size : (index + 1) * size]
        return rows.T if self.transposed else rows

    def part_shape(self, shape: tuple[int, int]) -> tuple[int, int]:
        """Shape of :meth:`part` for an expert matrix of ``shape``."""
        rows, cols = shape
        return (rows, cols // 2) if self.transposed else (rows // 2, cols)


_ROWS_HALVES = FusedLayout()
#: config.json ``model_type`` -> layout of ``experts.gate_up_proj``, as transformers defines it.
FUSED_LAYOUTS: dict[str, FusedLayout] = {
    **dict.fromkeys(
        (
            "mixtral",
            "qwen2_moe",
            "qwen3_moe",
            "qwen3_next",
            "deepseek_v2",
            "deepseek_v3",
            "olmoe",
            "phimoe",
            "granitemoe",
            "granitemoeshared",
            "glm4_moe",
            "ernie4_5_moe",
            "hunyuan_v1_moe",
            "minimax",
            "jamba",
        ),
        _ROWS_HALVES,
    ),
    "llama4": FusedLayout(transposed=True),
    "llama4_text": FusedLayout(transposed=True),
    "gpt_oss": FusedLayout(transposed=True, interleaved=True),
}


def fused_layout(config: dict) -> FusedLayout | None:
    """The layout of the fused experts of a model with this config.json (or its ``text_config``), or None."""
    for candidate in (config, config.get("text_config")):
        if isinstance(candidate, dict):
            model_type = candidate.get("model_type")
            if isinstance(model_type, str) and model_type in FUSED_LAYOUTS:
                return FUSED_LAYOUTS[model_type]
    return None
