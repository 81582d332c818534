"""Which reader dequantizes a checkpoint: MLX (:mod:`.mlx_quantized`), compressed-tensors
(:mod:`.compressed_tensors`), or the Hugging Face quantizations of :mod:`.quantized` (GPTQ, AWQ, FP8,
bitsandbytes), by what its config.json says."""

from __future__ import annotations

from .base import ModelSource
from .compressed_tensors import compressed_tensors_dequantizing
from .mlx_quantized import mlx_dequantizing
from .quantized import dequantizing as hf_dequantizing


def dequantizing(source: ModelSource) -> ModelSource:
    """``source`` itself, or wrapped in the source that dequantizes its quantized weights.

    Raises
    ------
    SourceError
        For a quantization no reader dequantizes, or settings and parts that do not fit together.
    """
    return mlx_dequantizing(source) or compressed_tensors_dequantizing(source) or hf_dequantizing(source)
