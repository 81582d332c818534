"""Mixture-of-experts tensors whose header lies (issue 26): each expert of a 3-D ``experts`` tensor is a row,
so the first dimension of a 1-byte-per-entry tensor sets how many rows a tiny file asks for.

A 200 KB file declaring 200,000 experts of 1 x 1 would plan 200,000 rows; three tensors of 40,000 would
pass a per-tensor bound; a fused gate/up of odd size cannot be halved (GPT-OSS's interleaved layout would
give a gate one column wider than its up).  The headers are written by hand (``round3.quantized``).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from round3 import Case, Outcome
from round3.quantized import save_safetensors


def _many_experts(folder: Path) -> list[str]:
    save_safetensors(folder / "m.safetensors", {"model.layers.0.mlp.experts.down_proj": ("U8", (200_000, 1, 1), bytes(200_000))})
    return ["analyze", "m.safetensors", "-o", "out.csv", "--quiet"]


def _experts_over_tensors(folder: Path) -> list[str]:
    tensors = {f"model.layers.{b}.mlp.experts.down_proj": ("U8", (40_000, 1, 1), bytes(40_000)) for b in range(3)}
    save_safetensors(folder / "m.safetensors", tensors)
    return ["analyze", "m.safetensors", "-o", "out.csv", "--quiet"]


def _odd_fused(folder: Path) -> list[str]:
    model = folder / "m"
    model.mkdir()
    rng = np.random.default_rng(0)
    save_safetensors(
        model / "model.safetensors",
        {"model.layers.0.mlp.experts.gate_up_proj": rng.standard_normal((2, 32, 65)).astype(np.float32)},
    )
    (model / "config.json").write_text(json.dumps({"model_type": "gpt_oss"}))
    return ["analyze", "m", "-o", "out.csv", "--quiet"]


def _two_whole_experts(folder: Path, outcome: Outcome) -> None:
    with open(folder / "out.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["name"], r["role"], r["expert"], r["N"], r["M"]) for r in rows] == [
        (f"model.layers.0.mlp.experts.gate_up_proj[{e}]", "expert_gate_up", str(e), "65", "32") for e in range(2)
    ]
    assert all("odd size" in r["warning"] for r in rows)


CASES = [
    Case("200,000 experts declared in a 200 KB file", _many_experts, match="declares 200,000 experts, more than 100,000"),
    Case(
        "3 x 40,000 experts: more matrices than a model may have",
        _experts_over_tensors,
        match="more than 100,000 weight matrices",
    ),
    Case("fused gate/up of odd size under a known layout", _odd_fused, expect="ok", check=_two_whole_experts),
]
