"""What the path and output cases of round three share: a sentinel model and a private file under
``folder / "outside"`` that no case may read, small models to attack with, and the checks.

A case that reads outside its root shows it: the sentinel's tensor name (or the private file's text)
appears on stdout, on stderr, or in a file the command wrote.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from round3 import Outcome

#: The tensor of the model outside the root: its name in any output means the model was read.
SECRET_TENSOR = "outside_secret.weight"
#: The text of a private file outside the root (a token, a key).
SECRET_TEXT = "PRIVATE-TOKEN-hunter2"
#: config.json of the attacked models, to check that it is unchanged.
CONFIG = {"model_type": "tiny"}


def write_model(path: Path, seed: int = 0, name: str = "layers.0.weight") -> Path:
    """A one-matrix safetensors model (64 x 32, float32)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({name: np.random.default_rng(seed).standard_normal((64, 32)).astype(np.float32)}, str(path))
    return path


def model_dir(path: Path, seed: int = 0) -> Path:
    """A Hugging Face style folder: config.json and model.safetensors."""
    write_model(path / "model.safetensors", seed)
    (path / "config.json").write_text(json.dumps(CONFIG))
    return path


def outside_model(folder: Path) -> Path:
    """The sentinel model folder ``folder/outside`` (``model.safetensors`` holding :data:`SECRET_TENSOR`)."""
    return write_model(folder / "outside" / "model.safetensors", 7, SECRET_TENSOR).parent


def secret_file(folder: Path) -> Path:
    """A private file ``folder/outside/secret.txt`` holding :data:`SECRET_TEXT`."""
    path = folder / "outside" / "secret.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"token": SECRET_TEXT}))
    return path


def _written(folder: Path) -> list[Path]:
    """Every regular file under ``folder`` outside ``folder/outside``, links not followed."""
    found = []
    for root, dirs, files in os.walk(folder):
        if Path(root) == folder and "outside" in dirs:
            dirs.remove("outside")
        found += [Path(root) / f for f in files if not os.path.islink(Path(root) / f)]
    return found


def nothing_outside(folder: Path, outcome: Outcome) -> None:
    """Neither the sentinel model nor the private file was read into stdout, stderr or a written file."""
    for secret in (SECRET_TENSOR, SECRET_TEXT):
        assert secret not in outcome.stdout + outcome.stderr, f"{secret} read from outside the root"
        for path in _written(folder):
            assert secret.encode() not in path.read_bytes(), f"{secret} copied into {path}"


def config_unchanged(path: Path) -> None:
    """``path`` still holds :data:`CONFIG`."""
    assert json.loads(path.read_text()) == CONFIG, f"{path} was overwritten"
