"""Find and order the checkpoints of a training run.

* The step of a checkpoint is the number after ``step``, ``global_step``, ``iter``, ``iteration``,
  ``checkpoint`` or ``ckpt`` in its name (``step_100.safetensors``, ``checkpoint-200/``,
  ``model.ckpt-300``), else the number after ``epoch``, else the last number in its name
  (``model_400.pt``).
* Checkpoints named as arguments keep the order they are given in, with steps 0, 1, 2, ..., unless every
  name carries a step after one of the words above (``checkpoint-200``, ``epoch_3``: a shell glob of a
  run's checkpoints, which lists ``checkpoint-1000`` before ``checkpoint-200``); then they are ordered by
  it.  A bare last number (``all-MiniLM-L6-v2``) does not reorder what the user listed.
* The checkpoints inside a directory are ordered by step when every one has a step (the last number
  counts here); otherwise by natural sort of their names, and the step is the position 0, 1, 2, ...
  Two checkpoints with the same step are an error.
* A single directory argument that holds checkpoints (model files or sub-directories, not hidden)
  stands for them: those with a step in their name if any have one (a Trainer output directory also
  holds ``runs/`` and the final model's files), else all of them.  A directory that is itself one
  model (it has ``config.json`` or a ``*.index.json``, and no sub-directory with a step) is one
  checkpoint.  What a directory stands for must resolve inside it (:func:`~netspectra.io.paths.resolve_inside`):
  a step file or a ``checkpoint-N`` folder that links out of the run's folder is refused.  Paths named
  as arguments are taken as given.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from netspectra.errors import UsageError
from netspectra.io.base import TORCH_SUFFIXES, natural_key
from netspectra.io.paths import resolve_inside

#: Number patterns tried in order: a step beats an epoch (``epoch_3_step_1200`` is step 1200).
_STEP_PATTERNS = (
    re.compile(r"(?:global_step|step|iteration|iter|checkpoint|ckpt)[-_=.]?(\d+)", re.I),
    re.compile(r"epoch[-_=.]?(\d+)", re.I),
)
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")
#: Suffixes of files that hold a model (see :func:`netspectra.io.open_source`).
MODEL_SUFFIXES = (".safetensors", *TORCH_SUFFIXES, ".npz", ".npy", ".onnx")


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint: its training step and its path."""

    step: int
    path: Path


def step_of(name: str, *, last_number: bool = True) -> int | None:
    """The training step in a file or directory name, or None (rules in the module docstring);
    ``last_number=False``: only a number after a step word (``step``, ``checkpoint``, ``epoch``, ...)."""
    stem = name
    for suffix in (*MODEL_SUFFIXES, ".index.json"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    for pattern in (*_STEP_PATTERNS, _LAST_NUMBER) if last_number else _STEP_PATTERNS:
        match = pattern.search(stem)
        if match:
            return int(match.group(1))
    return None


def _is_model_file(path: Path) -> bool:
    return path.is_file() and (path.name.lower().endswith(MODEL_SUFFIXES) or path.name.endswith(".index.json"))


def _entries(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if not p.name.startswith(".") and (p.is_dir() or _is_model_file(p))]


def _checkpoints_in(directory: Path) -> list[Path]:
    """The checkpoints a single directory argument stands for (see the module docstring)."""
    entries = _entries(directory)
    stepped_dirs = [p for p in entries if p.is_dir() and step_of(p.name) is not None]
    one_model = (directory / "config.json").is_file() or any(p.name.endswith(".index.json") for p in entries)
    if one_model and not stepped_dirs:
        return [directory]
    stepped = [p for p in entries if step_of(p.name) is not None]
    if not (stepped or entries):
        raise UsageError(f"{directory}: no checkpoints (model files or sub-directories) in it")
    root = (directory.resolve(),)
    label, where = str(directory), "the training run's folder"
    return [
        resolve_inside(p, root, label, "checkpoint", kind="folder" if p.is_dir() else "file", where=where)
        for p in stepped or entries
    ]


def find_checkpoints(paths: Sequence[str | Path]) -> list[Checkpoint]:
    """The checkpoints named by ``paths`` (files, directories, or one directory of them), in training order
    (module docstring: the order given, a directory's contents by step).

    Raises
    ------
    UsageError
        No paths, a path that does not exist, a directory without checkpoints, or two with one step.
    """
    if not paths:
        raise UsageError("give checkpoint files or a directory of checkpoints")
    items = [Path(p) for p in paths]
    for p in items:
        if not p.exists():
            raise UsageError(f"{p}: no such file or directory")
    if len(items) == 1 and items[0].is_dir():
        return order_checkpoints(_checkpoints_in(items[0]))
    return given_order(items)


def _by_step(steps: Sequence[int], items: Sequence[Path]) -> list[Checkpoint]:
    ordered = sorted(zip(steps, items), key=lambda t: (t[0], natural_key(t[1].name)))
    for (s1, p1), (s2, p2) in zip(ordered, ordered[1:]):
        if s1 == s2:
            raise UsageError(f"{p1} and {p2} have the same step {s1}")
    return [Checkpoint(s, p) for s, p in ordered]


def given_order(items: Sequence[Path]) -> list[Checkpoint]:
    """Checkpoints listed by the user: by step when every name has one after a step word, else as given
    with steps 0, 1, 2, ..."""
    steps = [step_of(p.name, last_number=False) for p in items]
    if all(s is not None for s in steps):
        return _by_step(steps, items)  # type: ignore[arg-type]
    return [Checkpoint(i, p) for i, p in enumerate(items)]


def order_checkpoints(items: Sequence[Path]) -> list[Checkpoint]:
    """A directory's checkpoints: by step when every name has one, else by natural sort with steps 0, 1, 2, ..."""
    steps = [step_of(p.name) for p in items]
    if all(s is not None for s in steps):
        return _by_step(steps, items)  # type: ignore[arg-type]
    return [Checkpoint(i, p) for i, p in enumerate(sorted(items, key=lambda p: natural_key(p.name)))]
