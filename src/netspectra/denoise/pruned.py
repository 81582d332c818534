"""Write a model with chosen weight matrices magnitude-pruned (the ratios of :mod:`netspectra.act.pruning`)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from netspectra.act.pruning import magnitude_prune
from netspectra.denoise.encoding import COMPRESSIBLE_DTYPES
from netspectra.denoise.model import check_output
from netspectra.denoise.writer import SafetensorsWriter
from netspectra.errors import UsageError
from netspectra.io import open_source
from netspectra.io.quantized import holds_quantized_tensors


def write_pruned(source: object, output: str | os.PathLike[str], sparsity: dict[str, float]) -> list[str]:
    """Write ``source`` to the safetensors file ``output`` with each tensor named in ``sparsity`` pruned to
    that fraction of zeros by magnitude (the others, and tensors in a dtype netspectra does not write,
    copied unchanged); return the names pruned.  Nothing appears at ``output`` unless it completes.

    Raises
    ------
    UsageError
        When ``output`` is an input file of the model, or the model is quantized (no dtype to write).
    """
    out = Path(output)
    src = open_source(source)
    pruned: list[str] = []
    with src if src is not source else contextlib.nullcontext(src):
        if holds_quantized_tensors(src):
            raise UsageError(
                f"{out}: a pruned model is written as safetensors, which cannot carry the quantized "
                "tensors of this model; prune the unquantized checkpoint"
            )
        check_output(out, None, src)
        with SafetensorsWriter(out, {"format": "pt", "netspectra": "magnitude-pruned at alpha-allocated ratios"}) as writer:
            for record in src.tensors():
                ratio = sparsity.get(record.name)
                if ratio is None or record.dtype not in COMPRESSIBLE_DTYPES:
                    writer.add_unchanged(record)
                    continue
                writer.add_array(record.name, magnitude_prune(record.load_required(), ratio), record.dtype)
                pruned.append(record.name)
            if not pruned:
                raise UsageError(f"{out}: none of the planned matrices can be written pruned (quantized or fused)")
            writer.commit()
    return pruned
