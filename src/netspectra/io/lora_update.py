"""One LoRA-adapted matrix as PEFT's ``merge_and_unload`` forms it: the update alone, or merged on the base.

For ``lora_A`` (r x in) and ``lora_B`` (out x r) PEFT's ``get_delta_weight`` (peft 0.21, ``tuners/lora/layer.py``) is

    dW = s B A                (Linear: the weight is out x in)
    dW = s (B A)^T = s A^T B^T  (a GPT-2 ``Conv1D`` with ``fan_in_fan_out``: the weight is in x out;
                               an Embedding, ``lora_embedding_A`` r x vocab and ``lora_embedding_B`` dim x r:
                               the weight is vocab x dim)

with s from :mod:`netspectra.io.lora_config`, and the merged weight W + dW.  DoRA (Liu et al. 2024,
arXiv:2402.09353, eq. 5; PEFT's ``DoraLinearVariant`` and ``DoraEmbeddingVariant``) rescales it by its
magnitude vector m (one entry per output feature):

    W' = (W + dW) * m / ||W + dW||_c

the norm taken over the inputs of each output feature: the rows of an out x in weight, the columns of an
in x out or vocab x dim one.  The matrix is formed in float32, each block of rows in float64, after its
memory is planned against what is available (an adapter of a few KB can name a huge module); column norms
take a first pass over the blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import MatrixError
from ..scale.workers import refuse_unless_fits
from .base import TensorRecord

#: Bytes per entry of dW while it is formed: the float32 result, and with a base its loaded matrix
#: (float64 at most).
UPDATE_BYTES, BASE_BYTES = 4, 8
#: Entries of dW computed in float64 at a time.
BLOCK_ENTRIES = 1 << 22


@dataclass(frozen=True)
class LoraUpdate:
    """Loader of dW = s B A, or s (B A)^T when ``transposed`` (float32), plus ``base`` when given, rescaled
    by the DoRA ``magnitude`` when given (with a base only)."""

    a: TensorRecord
    b: TensorRecord
    scale: float
    transposed: bool = False
    base: TensorRecord | None = None
    magnitude: TensorRecord | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """(out, in) = rows of B by columns of A; (in, out) when transposed."""
        out, inner = self.b.shape[0], self.a.shape[1]
        return (inner, out) if self.transposed else (out, inner)

    def __call__(self) -> np.ndarray:
        rows, cols = self.shape
        per_entry = UPDATE_BYTES + (BASE_BYTES if self.base is not None else 0)
        refuse_unless_fits(rows * cols * per_entry, f"forming the {rows} x {cols} update B A", MatrixError)
        a = np.asarray(self.a.load(), dtype=np.float64)
        b = np.asarray(self.b.load(), dtype=np.float64)
        left, right = (a.T, b.T) if self.transposed else (b, a)  # dW = s * left @ right
        base = None if self.base is None else self.base.load()
        step = max(1, BLOCK_ENTRIES // max(cols, 1))
        starts = range(0, rows, step)

        def block(start: int) -> np.ndarray:
            part = self.scale * (left[start : start + step] @ right)
            return part if base is None else base[start : start + step] + part

        magnitude = None if self.magnitude is None or base is None else np.asarray(self.magnitude.load(), np.float64)
        column_factor = None
        if magnitude is not None and self.transposed:
            squares = sum((np.square(block(start)).sum(axis=0) for start in starts), np.zeros(cols))
            column_factor = _ratio(magnitude, np.sqrt(squares))
        out = np.empty((rows, cols), dtype=np.float32)
        for start in starts:
            part = block(start)
            if column_factor is not None:
                part *= column_factor
            elif magnitude is not None:
                part *= _ratio(magnitude[start : start + step], np.linalg.norm(part, axis=1))[:, None]
            out[start : start + step] = part
        return out


@dataclass(frozen=True)
class LoraBiasUpdate:
    """Loader of the merged bias b + s * ``lora_B.bias`` (PEFT's ``lora_bias``), float32."""

    bias: TensorRecord
    lora_bias: TensorRecord
    scale: float

    def __call__(self) -> np.ndarray:
        merged = np.asarray(self.bias.load(), np.float64) + self.scale * np.asarray(self.lora_bias.load(), np.float64)
        return merged.astype(np.float32)


def _ratio(magnitude: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """m / ||W + dW||_c; a zero norm gives a non-finite entry, as in PEFT, which analysis then reports."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return magnitude / norms
