"""Outputs onto inputs: every command's outputs against every file its inputs are read from (weights,
shard index, config.json, adapter_config.json, an accuracy CSV, the results store), by inode.

Each used to exit 0 (or fail after writing something): the output replaced the input, and a model whose
index or config.json was overwritten no longer opens, or opens as something else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from round3 import Case, Outcome
from round3._sentinel import config_unchanged, model_dir, write_model

_REFUSED = "refusing to overwrite an input file"


def _config_kept(model: str) -> Callable[[Path, Outcome], None]:
    def check(folder: Path, outcome: Outcome) -> None:
        config_unchanged(folder / model / "config.json")

    return check


def _on_config(*argv: str) -> Callable[[Path], Sequence[str]]:
    """``argv`` run on the model folders ``m`` (and ``n``), the output ``m/config.json``."""

    def build(folder: Path) -> Sequence[str]:
        model_dir(folder / "m", 0)
        model_dir(folder / "n", 1)
        return argv

    return build


def _sharded(folder: Path) -> Sequence[str]:
    write_model(folder / "sh" / "a.safetensors", 0, "layers.0.weight")
    write_model(folder / "sh" / "b.safetensors", 1, "layers.1.weight")
    index = {"weight_map": {"layers.0.weight": "a.safetensors", "layers.1.weight": "b.safetensors"}}
    (folder / "sh" / "model.safetensors.index.json").write_text(json.dumps(index))
    return ["analyze", "sh/model.safetensors.index.json", "-o", "sh/model.safetensors.index.json", "--quiet"]


def _index_kept(folder: Path, outcome: Outcome) -> None:
    index = json.loads((folder / "sh" / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"]) == {"layers.0.weight", "layers.1.weight"}, "the shard index was overwritten"


def _hard_link(folder: Path) -> Sequence[str]:
    model_dir(folder / "m")
    os.link(folder / "m" / "config.json", folder / "alias.json")
    return ["analyze", "m", "-o", "alias.json", "--quiet"]


def _symlink(folder: Path) -> Sequence[str]:
    model_dir(folder / "m")
    (folder / "link.json").symlink_to(folder / "m" / "config.json")
    return ["analyze", "m", "-o", "link.json", "--quiet"]


def _adapter_config(folder: Path) -> Sequence[str]:
    from round3.links import _adapter

    _adapter(folder / "ad", 0)
    return ["analyze", "ad", "-o", "ad/adapter_config.json", "--quiet"]


def _adapter_config_kept(folder: Path, outcome: Outcome) -> None:
    assert json.loads((folder / "ad" / "adapter_config.json").read_text())["peft_type"] == "LORA"


def _compress_sidecar(folder: Path) -> Sequence[str]:
    """The factored model's sidecar (OUT.json) falls on the model's config.json."""
    model_dir(folder / "m")
    return ["compress", "m/model.safetensors", "-o", "m/config.safetensors", "--method", "rank:2", "--force", "--quiet"]


def _nothing_written(*names: str) -> Callable[[Path, Outcome], None]:
    def check(folder: Path, outcome: Outcome) -> None:
        for name in names:
            assert not (folder / name).exists(), f"{name} was written"
        config_unchanged(folder / "m" / "config.json")

    return check


def _prune_write_over_weights(folder: Path) -> Sequence[str]:
    """The plan (-o) used to be written before --write was refused."""
    model_dir(folder / "m")
    return ["prune", "m", "--sparsity", "0.5", "-o", "plan.json", "--write", "m/model.safetensors", "--json"]


def _rank_accuracy(folder: Path) -> Sequence[str]:
    model_dir(folder / "m", 0)
    model_dir(folder / "n", 1)
    (folder / "acc.csv").write_text("model,accuracy\nm,0.9\nn,0.8\n")
    return ["rank", "m", "n", "--accuracy", "acc.csv", "-o", "acc.csv", "--json"]


def _accuracy_kept(folder: Path, outcome: Outcome) -> None:
    assert (folder / "acc.csv").read_text() == "model,accuracy\nm,0.9\nn,0.8\n", "the accuracy CSV was overwritten"


def _store(name: str, *argv: str) -> Callable[[Path], Sequence[str]]:
    """A results store named ``name`` holding run 1, then ``argv``."""

    def build(folder: Path) -> Sequence[str]:
        from netspectra.cli import main

        write_model(folder / "m.safetensors")
        here = os.getcwd()
        os.chdir(folder)
        try:
            assert main(["analyze", "m.safetensors", "--store", name, "--quiet"]) == 0
        finally:
            os.chdir(here)
        return argv

    return build


def _store_kept(name: str) -> Callable[[Path, Outcome], None]:
    def check(folder: Path, outcome: Outcome) -> None:
        assert (folder / name).read_bytes().startswith(b"SQLite format 3\x00"), "the store was overwritten"

    return check


CASES = [
    Case("analyze: -o the shard index it reads", _sharded, match=_REFUSED, check=_index_kept),
    Case(
        "analyze: -o the model's config.json",
        _on_config("analyze", "m", "-o", "m/config.json"),
        match=_REFUSED,
        check=_config_kept("m"),
    ),
    Case(
        "prune: -o the model's config.json",
        _on_config("prune", "m", "--sparsity", "0.5", "-o", "m/config.json", "--json"),
        match=_REFUSED,
        check=_config_kept("m"),
    ),
    Case(
        "select-layers: -o the model's config.json",
        _on_config("select-layers", "m", "--top", "0.5", "-o", "m/config.json", "--json"),
        match=_REFUSED,
        check=_config_kept("m"),
    ),
    Case(
        "compare: -o B's config.json",
        _on_config("compare", "m", "n", "-o", "n/config.json", "--json"),
        match=_REFUSED,
        check=_config_kept("n"),
    ),
    Case(
        "merge-check: -o a model's config.json",
        _on_config("merge-check", "m", "n", "-o", "n/config.json", "--json"),
        match=_REFUSED,
        check=_config_kept("n"),
    ),
    Case("analyze: -o a hard link of config.json", _hard_link, match=_REFUSED, check=_config_kept("m")),
    Case("analyze: -o a symlink to config.json", _symlink, match=_REFUSED, check=_config_kept("m")),
    Case("analyze: -o the adapter's adapter_config.json", _adapter_config, match=_REFUSED, check=_adapter_config_kept),
    Case(
        "compress: the sidecar onto config.json",
        _compress_sidecar,
        match=_REFUSED,
        check=_nothing_written("m/config.safetensors"),
    ),
    Case(
        "prune: --write onto the weights after -o", _prune_write_over_weights, match=_REFUSED, check=_nothing_written("plan.json")
    ),
    Case("rank: -o the accuracy CSV", _rank_accuracy, match=_REFUSED, check=_accuracy_kept),
    Case(
        "runs --show: -o the store",
        _store("s.json", "runs", "--store", "s.json", "--show", "1", "-o", "s.json", "--json"),
        match=_REFUSED,
        check=_store_kept("s.json"),
    ),
    Case(
        "report: -o the store",
        _store("s.html", "report", "1", "--store", "s.html", "-o", "s.html", "--quiet"),
        match=_REFUSED,
        check=_store_kept("s.html"),
    ),
    Case(
        "report RUN_A RUN_B: -o the store",
        _store("s.html", "report", "1", "1", "--store", "s.html", "-o", "s.html", "--quiet"),
        match=_REFUSED,
        check=_store_kept("s.html"),
    ),
]
