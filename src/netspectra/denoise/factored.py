"""Factored output: ``NAME.A`` (R x r) and ``NAME.B`` (r x C) with A @ B = W_hat, and a JSON sidecar.

The format, and how a factored file reads back as the model it stands for, is :mod:`netspectra.io.factored`:
``open_source``, ``analyze`` and ``compare`` read ``OUT.safetensors`` as W = A B under the original names and
shapes.  A matrix whose factors would not be smaller than the matrix (r (R + C) >= R C) is stored dense and
not listed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from netspectra.errors import SourceError
from netspectra.io.factored import SIDECAR_FORMAT, SIDECAR_VERSION, factor_names, sidecar_path
from netspectra.io.safetensors_source import SafetensorsSource

__all__ = ["factor_names", "load_factored", "sidecar", "sidecar_path"]


def sidecar(weights: Path, entries: dict[str, dict[str, object]], extra: dict[str, object]) -> dict[str, object]:
    """The sidecar document for ``weights`` with ``entries`` (tensor name -> A, B, shape, dtype, rank)."""
    return {"format": SIDECAR_FORMAT, "version": SIDECAR_VERSION, "weights": weights.name, **extra, "factored": entries}


def load_factored(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Rebuild every tensor of a factored file: ``{name: array}`` under the original names and shapes.

    Factored matrices come back as A @ B (:func:`~netspectra.io.factored.factor_product`), the others as
    stored.  Values are float32 (float64 for F64 and wide integers) as
    :class:`~netspectra.io.safetensors_file.SafetensorsFile` decodes them: NumPy has no bfloat16, and A @ B
    of BF16/F16 factors is summed in float64 and stored in float32.

    Raises
    ------
    SourceError
        When the sidecar is missing or does not match the file (:func:`~netspectra.io.factored.read_factored`).
    SourceError
        For a tensor of a dtype netspectra cannot decode (it was copied into the file as bytes).
    """
    weights = Path(path)
    source = SafetensorsSource(weights)
    if len(source.files) == 1:  # no sidecar was read
        raise SourceError(f"{weights}: not a factored output: no {SIDECAR_FORMAT} sidecar {sidecar_path(weights).name} beside it")
    return {record.name: record.load_required() for record in source.tensors()}
