"""Merge inputs bounded (issue 25, "Merge"): matching time per run, model count, pattern compile size, and
non-finite merged tensors refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from round3 import Case, Outcome

#: Tensors of the models below, and the override patterns matched against them.
NAMES = 20
OVERRIDES = 40
#: ``(a|aa)+$`` backtracks exponentially on a run of a's that is not at the end: about 0.25 s on 25 a's,
#: under the 1 s bound of each search, 800 searches (minutes) in all.
BACKTRACKING = "(a|aa)+$"


def _model(path: Path, names: list[str], value: float = 1.0, seed: int = 0) -> None:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    save_file({n: (value + 0.1 * rng.standard_normal((4, 4))).astype(np.float32) for n in names}, str(path))


def _config(folder: Path, config: dict) -> list[str]:
    (folder / "merge.json").write_text(json.dumps(config))
    return ["merge", "merge.json", "-o", "out", "--quiet"]


def _many_slow_overrides(folder: Path) -> list[str]:
    names = [f"{'a' * 25}!{i}" for i in range(NAMES)]
    for i, name in enumerate(("a", "b")):
        _model(folder / f"{name}.safetensors", names, seed=i)
    overrides = [{"match": f"{BACKTRACKING}(?#{i})", "method": "linear"} for i in range(OVERRIDES)]
    return _config(folder, {"models": ["a.safetensors", "b.safetensors"], "method": "linear", "overrides": overrides})


def _many_models(folder: Path) -> list[str]:
    (folder / "a").mkdir()
    _model(folder / "a" / "model.safetensors", ["w"])  # a model directory: a path of 1 character
    return _config(folder, {"models": ["a"] * 200_000, "method": "linear"})


def _nested_repetition(folder: Path) -> list[str]:
    for name in ("a", "b"):
        _model(folder / f"{name}.safetensors", ["w"])
    overrides = [{"match": "((a{1000}){1000}){1000}", "method": "linear"}]
    return _config(folder, {"models": ["a.safetensors", "b.safetensors"], "method": "linear", "overrides": overrides})


def _huge_weights(folder: Path) -> list[str]:
    for i, name in enumerate(("base", "a", "b")):
        _model(folder / f"{name}.safetensors", ["layer.weight", "layer.bias"], seed=i)
    models = [{"path": "a.safetensors", "weight": 1e308}, {"path": "b.safetensors", "weight": 1e308}]
    return _config(folder, {"base_model": "base.safetensors", "models": models, "method": "task-arithmetic"})


def _nothing_written(folder: Path, outcome: Outcome) -> None:
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith("out") or p.name.startswith(".out")]
    assert not leftovers, f"output left behind: {leftovers}"


CASES = [
    Case("40 overrides each just under the 1 s per-name bound", _many_slow_overrides, match="took over", check=_nothing_written),
    Case("a list of 200k models", _many_models, match="200000 models, more than the 256"),
    Case("a nested repetition pattern ((a{1000}){1000}){1000}", _nested_repetition, match="would compile to more than"),
    Case(
        "task arithmetic with weights 1e308 (an all-Inf merge)",
        _huge_weights,
        match=r"merged tensor 'layer\.(weight|bias)' holds (NaN or Inf values|values beyond the range of F32)",
        check=_nothing_written,
    ),
]
