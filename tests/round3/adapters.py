"""PEFT LoRA adapters whose ranks, alphas, patterns or shapes are forged (issues 25 and 26).

A rank of 0 (``lora_A`` 0 x 64) raised ZeroDivisionError in ``analyze``, ``analyze --base``, ``compare``
and ``select-layers``; a ``lora_alpha`` or ``alpha_pattern`` value of 10**400 (valid JSON, an int past
float's range) a TypeError; a 240 KB rank-1 adapter on a 30000 x 30000 module allocated 6.71 GiB to form
dW = B A.  Since ``rank_pattern``/``alpha_pattern`` keys are regular expressions, as PEFT reads them
(issue 26), a key may be invalid, compile to gigabytes (``((a{1000}){1000}){1000}``) or backtrack for
minutes (``(a|aa)*`` on a module of 40 a's and a b); a config may give A another rank than it has, or name
a LoRA variant PEFT merges otherwise.  The adapter folders are written as PEFT saves them
(``adapter_config.json`` and ``adapter_model.safetensors`` with ``base_model.model.<module>.lora_A.weight``),
then one field forged.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from round3 import Case, Outcome
from round3.quantized import save_safetensors

IN, OUT = 64, 48


def _adapter(folder: Path, rank: int, config: str | None = None, rows: int = OUT, cols: int = IN, module: str = "q_proj") -> None:
    """``adapter/`` of a LoRA of ``rank`` on ``module`` (rows x cols), and ``base.safetensors``;
    ``config`` is the JSON text of adapter_config.json (written as given: it may hold 10**400)."""
    rng = np.random.default_rng(0)
    (folder / "adapter").mkdir()
    save_safetensors(
        folder / "adapter" / "adapter_model.safetensors",
        {
            f"base_model.model.{module}.lora_A.weight": rng.standard_normal((rank, cols)).astype(np.float32),
            f"base_model.model.{module}.lora_B.weight": rng.standard_normal((rows, rank)).astype(np.float32),
        },
    )
    default = json.dumps({"peft_type": "LORA", "r": rank, "lora_alpha": 8, "target_modules": ["q_proj"]})
    (folder / "adapter" / "adapter_config.json").write_text(config or default)
    if rows * cols <= 1 << 20:
        save_safetensors(folder / "base.safetensors", {f"{module}.weight": rng.standard_normal((rows, cols)).astype(np.float32)})


def _built(argv: Sequence[str], **adapter: object) -> Callable[[Path], Sequence[str]]:
    def build(folder: Path) -> Sequence[str]:
        _adapter(folder, **adapter)
        return argv

    return build


_HUGE = "1" + "0" * 400  # 10**400 as JSON text
_COMMANDS = {
    "analyze": ["analyze", "adapter", "-o", "out.csv", "--quiet"],
    "analyze --base": ["analyze", "adapter", "--base", "base.safetensors", "-o", "out.csv", "--quiet"],
    "compare": ["compare", "base.safetensors", "adapter"],
    "select-layers": ["select-layers", "adapter", "--top", "0.5", "-o", "layers.json"],
}


def _patterns(field: str, key: str) -> str:
    return json.dumps({"peft_type": "LORA", "r": 4, "lora_alpha": 8, field: {key: 2}})


def _update_refused_for_memory(folder: Path, outcome: Outcome) -> None:
    """The 30000 x 30000 update is planned, not formed: an error row saying what it needs and what there is."""
    with open(folder / "out.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert (row["name"], row["status"]) == ("q_proj.weight", "error"), row
    assert "forming the 30000 x 30000 update B A needs about 3.4 GiB" in row["warning"] and "available" in row["warning"], row


CASES = [
    *(
        Case(f"rank 0 ({command})", _built(argv, rank=0), match=r"adapter: q_proj: lora_A \(0, 64\) is of rank 0")
        for command, argv in _COMMANDS.items()
    ),
    Case(
        "lora_alpha 10**400",
        _built(_COMMANDS["analyze"], rank=4, config=f'{{"peft_type": "LORA", "r": 4, "lora_alpha": {_HUGE}}}'),
        match=r"adapter: lora_alpha of q_proj = 1000.*: must be a number",
    ),
    Case(
        "alpha_pattern value 10**400",
        _built(
            _COMMANDS["analyze --base"], rank=4, config=f'{{"r": 4, "lora_alpha": 8, "alpha_pattern": {{"q_proj": {_HUGE}}}}}'
        ),
        match=r"adapter: alpha_pattern of q_proj = 1000.*: must be a number",
    ),
    Case(
        "240 KB rank-1 adapter on a 30000 x 30000 module",
        _built(_COMMANDS["analyze"], rank=1, rows=30_000, cols=30_000),
        expect="ok",
        check=_update_refused_for_memory,
    ),
    Case(
        "alpha_pattern key that is not a regular expression",
        _built(_COMMANDS["analyze"], rank=4, config=_patterns("alpha_pattern", "q_(proj")),
        match=r"adapter: alpha_pattern key 'q_\(proj'.*(invalid regular expression|not a Python regular expression)",
    ),
    Case(
        "rank_pattern key ((a{1000}){1000}){1000} (10^9 nodes to compile)",
        _built(_COMMANDS["analyze"], rank=4, config=_patterns("rank_pattern", "((a{1000}){1000}){1000}")),
        match=r"adapter: rank_pattern key .*would compile to more than",
    ),
    Case(
        "alpha_pattern key (a|aa)* backtracking on a module of 40 a's and a b",
        _built(_COMMANDS["analyze --base"], rank=4, module="a" * 40 + "b", config=_patterns("alpha_pattern", "(a|aa)*")),
        match=r"adapter: alpha_pattern key '\(a\|aa\)\*': matching 'a+\.\.\.a+b' took over .*catastrophic backtracking",
    ),
    Case(
        "r 8 for a lora_A of rank 4",
        _built(_COMMANDS["compare"], rank=4, config=json.dumps({"peft_type": "LORA", "r": 8, "lora_alpha": 8})),
        match=r"adapter: q_proj: lora_A \(4, 64\) is of rank 4, adapter_config.json gives it r = 8",
    ),
    Case(
        "rank_pattern value 2.5",
        _built(_COMMANDS["analyze"], rank=4, config=_patterns("rank_pattern", "q_proj").replace(": 2}", ": 2.5}")),
        match=r"adapter: rank_pattern of q_proj = 2.5: must be an integer >= 1",
    ),
    Case(
        "a block-diagonal LoRA (use_bdlora)",
        _built(_COMMANDS["analyze --base"], rank=4, config=json.dumps({"r": 4, "lora_alpha": 8, "use_bdlora": {"a": 1}})),
        match=r"use_bdlora is set: a block-diagonal LoRA adapter is not merged as W \+ \(alpha/r\) B A",
    ),
    Case(
        "use_dora without magnitude vectors",
        _built(_COMMANDS["analyze"], rank=4, config=json.dumps({"r": 4, "lora_alpha": 8, "use_dora": True})),
        match=r"adapter: q_proj: use_dora without lora_magnitude_vector",
    ),
]
