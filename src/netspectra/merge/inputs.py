"""The models of a merge, opened together: their tensors lined up by name, checked, and split into shards.

Nothing is read here but headers: tensors are loaded by the caller one name at a time.  The reference
model (the base if there is one, else the first model) gives the tensor order and the shard layout of
the output.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from netspectra.errors import NetspectraError
from netspectra.io import ModelSource, TensorRecord, open_source
from netspectra.io.base import natural_key

#: Most models one merge takes (each is opened at once, holding its files; model soups use a few dozen).
MAX_MODELS = 256


class MergeError(NetspectraError):
    """The models cannot be merged: a tensor is missing from one, or differs in shape or dtype."""


@dataclass(frozen=True)
class ModelSet:
    """Opened models.  ``records[i]`` maps tensor names to records for ``labels[i]``; when ``has_base``,
    index 0 is the base.  ``names`` lists the tensors in the reference model's order."""

    labels: tuple[str, ...]
    sources: tuple[ModelSource, ...]
    records: tuple[dict[str, TensorRecord], ...]
    names: tuple[str, ...]
    has_base: bool

    @property
    def reference(self) -> ModelSource:
        return self.sources[0]

    def group(self, name: str) -> tuple[TensorRecord | None, list[TensorRecord]]:
        """(base record or None, model records) of tensor ``name``."""
        recs = [r[name] for r in self.records]
        return (recs[0], recs[1:]) if self.has_base else (None, recs)

    def shards(self) -> list[tuple[str, list[str]]]:
        """Output shards: (file name, tensor names), one per weight file of the reference model.

        A single file becomes ``model.safetensors``; n files become ``model-0000i-of-0000n.safetensors``
        in the natural order of the input file names, each with the tensors of its input file.
        """
        by_file: dict[str, list[str]] = {}
        for name in self.names:
            by_file.setdefault(self.records[0][name].source, []).append(name)
        files = sorted(by_file, key=lambda f: natural_key(os.path.basename(f)))
        if len(files) == 1:
            return [("model.safetensors", by_file[files[0]])]
        n = len(files)
        return [(f"model-{i + 1:05d}-of-{n:05d}.safetensors", by_file[f]) for i, f in enumerate(files)]


@contextlib.contextmanager
def open_models(models: Sequence[str | os.PathLike], base: str | os.PathLike | None = None) -> Iterator[ModelSet]:
    """Open the base (if any) and the models, check that they line up, and close them on exit.

    Raises
    ------
    MergeError
        Fewer than two models or more than :data:`MAX_MODELS`, or a tensor missing from a model or differing
        in shape or dtype.
    SourceError
        A model cannot be opened.
    """
    if len(models) < 2:
        raise MergeError(f"give at least two models to merge, got {len(models)}")
    if len(models) > MAX_MODELS:
        raise MergeError(f"{len(models)} models, more than the {MAX_MODELS} one merge opens")
    paths = ([base] if base is not None else []) + list(models)
    labels = tuple(os.fspath(p) for p in paths)
    with contextlib.ExitStack() as stack:
        sources = []
        for p in paths:
            src = open_source(p)
            stack.callback(src.close)
            sources.append(src)
        records = tuple({r.name: r for r in src.tensors()} for src in sources)
        check_aligned(labels, records)
        yield ModelSet(labels, tuple(sources), records, tuple(records[0]), base is not None)


def check_aligned(labels: Sequence[str], records: Sequence[dict[str, TensorRecord]]) -> None:
    """Every model has the reference's tensors (index 0), with the same shapes and dtypes.

    Raises
    ------
    MergeError
        Naming the first offending tensor and model (and how many other problems there are).
    """
    problems: list[str] = []
    ref, ref_label = records[0], labels[0]
    for label, recs in zip(labels[1:], records[1:]):
        for name, want in ref.items():
            got = recs.get(name)
            if got is None:
                problems.append(f"tensor {name!r} is missing from {label} (it is in {ref_label})")
            elif tuple(got.shape) != tuple(want.shape):
                shapes = f"{tuple(got.shape)} in {label} but {tuple(want.shape)} in {ref_label}"
                problems.append(f"tensor {name!r} has shape {shapes}")
            elif got.dtype != want.dtype:
                problems.append(f"tensor {name!r} has dtype {got.dtype} in {label} but {want.dtype} in {ref_label}")
        problems.extend(f"tensor {name!r} of {label} is not in {ref_label}" for name in recs if name not in ref)
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise MergeError(f"cannot merge: {problems[0]}{more}")
