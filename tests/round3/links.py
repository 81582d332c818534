"""Links out of the folders merge and track read: a config.json that merge copies into the merged model, a
merge output that is a link to another directory, checkpoints of a training run that link out.

Each used to exit 0 with a private file's text in the merged model's config.json, or with the sentinel
model's tensors as rows of the trajectory; the merge into a linked output created its temporary model
in the link's target.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from round3 import Case, Outcome
from round3._sentinel import model_dir, nothing_outside, outside_model, secret_file, write_model


def _merge_config(folder: Path, models: Sequence[str]) -> Path:
    path = folder / "merge.json"
    path.write_text(json.dumps({"models": list(models), "method": "linear"}))
    return path


def _npy_models_config_links_out(folder: Path) -> Sequence[str]:
    """Models given as .npy files; the first one's folder has a config.json linking to a private file."""
    secret = secret_file(folder)
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (folder / name).mkdir()
        np.save(folder / name / "w.npy", rng.standard_normal((64, 32)).astype(np.float32))
    (folder / "a" / "config.json").symlink_to(secret)
    _merge_config(folder, ["a/w.npy", "b/w.npy"])
    return ["merge", "merge.json", "-o", "merged", "--quiet"]


def _adapter(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 2, "lora_alpha": 4}))
    save_file(
        {
            "base_model.model.layers.0.lora_A.weight": rng.standard_normal((2, 32)).astype(np.float32),
            "base_model.model.layers.0.lora_B.weight": rng.standard_normal((64, 2)).astype(np.float32),
        },
        str(path / "adapter_model.safetensors"),
    )


def _adapter_config_links_out(folder: Path) -> Sequence[str]:
    """Models given as adapter folders; the first one's config.json links to a private file."""
    secret = secret_file(folder)
    _adapter(folder / "a", 0)
    _adapter(folder / "b", 1)
    (folder / "a" / "config.json").symlink_to(secret)
    _merge_config(folder, ["a", "b"])
    return ["merge", "merge.json", "-o", "merged", "--quiet"]


def _merge_output_links_to_a_directory(folder: Path) -> Sequence[str]:
    model_dir(folder / "a", 0)
    model_dir(folder / "b", 1)
    (folder / "outside" / "target").mkdir(parents=True)
    (folder / "merged").symlink_to(folder / "outside" / "target")
    _merge_config(folder, ["a", "b"])
    return ["merge", "merge.json", "-o", "merged", "--quiet"]


def _outside_untouched(folder: Path, outcome: Outcome) -> None:
    left = sorted(p.name for p in (folder / "outside").rglob("*"))
    assert left == ["target"], f"written into the link's target: {left}"


def _track_step_file_links_out(folder: Path) -> Sequence[str]:
    outside = outside_model(folder)
    write_model(folder / "run" / "step_1.safetensors")
    (folder / "run" / "step_2.safetensors").symlink_to(outside / "model.safetensors")
    return ["track", "run", "--json"]


def _track_checkpoint_folder_links_out(folder: Path) -> Sequence[str]:
    outside = outside_model(folder)
    model_dir(folder / "run" / "checkpoint-1")
    (folder / "run" / "checkpoint-2").symlink_to(outside)
    return ["track", "run", "--json"]


_OUT = "links to a file outside|outside the"

CASES = [
    Case("merge: .npy models whose config.json links out", _npy_models_config_links_out, match=_OUT, check=nothing_outside),
    Case("merge: adapter folders whose config.json links out", _adapter_config_links_out, match=_OUT, check=nothing_outside),
    Case("merge: -o is a link to another directory", _merge_output_links_to_a_directory, match="link", check=_outside_untouched),
    Case("track: a step file links out", _track_step_file_links_out, match=_OUT, check=nothing_outside),
    Case("track: a checkpoint-N folder links out", _track_checkpoint_folder_links_out, match=_OUT, check=nothing_outside),
]
