"""No output overwrites an input: the one check of every command's outputs against every file its inputs
are read from.

An output is refused when it is the same file as an input by inode (a hard link or a symlink to an
input is that input) or by path: each model's weights, shard index, config.json and adapter files
(:func:`~netspectra.io.inputs.input_files`), and the other files a command reads (a results store, an
accuracy CSV, a merge configuration).  Commands check before any work, so a refusal writes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from netspectra.errors import UsageError
from netspectra.io.inputs import model_input_files
from netspectra.io.paths import same_file

#: An output or input argument of a command: a path, or None when the option was not given.
MaybePath = str | os.PathLike[str] | None


def refuse_inputs(outputs: Iterable[MaybePath], inputs: Iterable[Path]) -> None:
    """Raise :class:`UsageError` for the first output that is (by inode, else by resolved path) one of
    ``inputs``, naming both when they differ."""
    inputs = list(inputs)
    for output in outputs:
        if output is None:
            continue
        out = Path(output)
        for path in inputs:
            if same_file(out, path):
                alias = "" if out.absolute() == path.absolute() else f" ({path})"
                raise UsageError(f"{out}: refusing to overwrite an input file{alias}")


def check_outputs_against_inputs(
    outputs: Iterable[MaybePath], models: Iterable[object] = (), files: Iterable[MaybePath] = ()
) -> None:
    """Refuse, before any work, an output that is an input file of one of ``models`` (paths, sources)
    or one of ``files``.

    Only an output that exists (or is a link) can be an input: the models are opened to list their
    files (headers only) when one does, not otherwise.

    Raises
    ------
    UsageError
        An output is an input; SourceError when a model cannot be opened.
    """
    existing = [Path(o) for o in outputs if o is not None and os.path.lexists(o)]
    if not existing:
        return
    inputs = [Path(f) for f in files if f is not None]
    inputs += [f for model in models if model is not None for f in model_input_files(model)]
    refuse_inputs(existing, inputs)
