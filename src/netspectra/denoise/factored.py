"""Factored output: ``NAME.A`` (R x r) and ``NAME.B`` (r x C) with A @ B = W_hat, and a JSON sidecar.

The sidecar ``OUT.json`` (``OUT.safetensors`` with the suffix replaced) says how to rebuild::

    {"format": "netspectra-factored", "version": 1, "weights": "OUT.safetensors",
     "factored": {"fc1.weight": {"A": "fc1.weight.A", "B": "fc1.weight.B",
                                 "shape": [256, 64], "dtype": "F32", "rank": 12}, ...}}

Every tensor not listed is stored as it is, under its own name.  A matrix whose factors would not be
smaller than the matrix (r (R + C) >= R C) is stored dense and not listed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from netspectra.errors import SourceError
from netspectra.io.base import MAX_JSON_BYTES
from netspectra.io.safetensors_file import SafetensorsFile
from netspectra.io.structured import read_json_file

SIDECAR_FORMAT = "netspectra-factored"
SIDECAR_VERSION = 1


def sidecar_path(weights: str | os.PathLike) -> Path:
    """``OUT.json`` for ``OUT.safetensors`` (``OUT.ext.json`` for any other suffix)."""
    path = Path(weights)
    return path.with_suffix(".json") if path.suffix == ".safetensors" else path.with_name(path.name + ".json")


def factor_names(name: str) -> tuple[str, str]:
    """Names of the two factors of tensor ``name``."""
    return f"{name}.A", f"{name}.B"


def sidecar(weights: Path, entries: dict[str, dict[str, object]], extra: dict[str, object]) -> dict[str, object]:
    """The sidecar document for ``weights`` with ``entries`` (tensor name -> A, B, shape, dtype, rank)."""
    return {"format": SIDECAR_FORMAT, "version": SIDECAR_VERSION, "weights": weights.name, **extra, "factored": entries}


def load_factored(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Rebuild every tensor of a factored file: ``{name: array}`` under the original names and shapes.

    Factored matrices come back as A @ B, the others as stored.  Values are float32 (float64 for F64 and
    wide integers) as :class:`~netspectra.io.safetensors_file.SafetensorsFile` decodes them: NumPy has no
    bfloat16, and A @ B of BF16/F16 factors is computed in float32.

    Raises
    ------
    SourceError
        When the sidecar is missing or invalid, or names tensors the file does not have.
    MatrixError
        For a tensor of a dtype netspectra cannot decode (it was copied into the file as bytes).
    """
    weights = Path(path)
    meta_path = sidecar_path(weights)
    document = read_json_file(meta_path, os.fspath(meta_path), "factored-model sidecar", SourceError, MAX_JSON_BYTES)
    if not isinstance(document, dict) or document.get("format") != SIDECAR_FORMAT:
        raise SourceError(f"{meta_path}: not a {SIDECAR_FORMAT} sidecar")
    if document.get("version") != SIDECAR_VERSION:
        raise SourceError(f"{meta_path}: unsupported sidecar version {document.get('version')!r}")
    st = SafetensorsFile(weights)
    factored = document.get("factored", {})
    parts = {name for spec in factored.values() for name in (spec["A"], spec["B"])}
    missing = sorted(parts - st.entries.keys())
    if missing:
        raise SourceError(f"{weights}: factors named in {meta_path.name} are missing: {', '.join(missing)}")
    out = {name: st.read(name) for name in st.entries if name not in parts}
    for name, spec in factored.items():
        matrix = st.read(spec["A"]) @ st.read(spec["B"])
        if list(matrix.shape) != list(spec["shape"]):
            raise SourceError(f"{weights}: {name} rebuilds to shape {matrix.shape}, sidecar says {spec['shape']}")
        out[name] = matrix
    return out
