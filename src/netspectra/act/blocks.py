"""The repeated blocks of a model, read from its tensor names: which matrices a layer-wise pruner prunes.

Pruning tools for transformers (Wanda, SparseGPT, and AlphaPruning's ``ww_sparsity``, Lu et al., NeurIPS
2024) prune the linear layers inside the model's repeated blocks (``model.model.layers`` of a LLaMA) and
nothing else: not the embeddings, not the language-model head, not a BERT pooler that a sentence encoder
never runs.  Here the blocks are found in the names:

* the *block* of a matrix is its name up to and including the first path component that is a number
  (``model.layers.3.self_attn.q_proj.weight`` -> ``model.layers.3``; ``encoder.layer.0.output.dense.weight``
  -> ``encoder.layer.0``); its *container* is what precedes that number (``model.layers``);
* a container with at least two numbered blocks holds *repeated blocks*;
* when the model has repeated blocks, the matrices outside them (``pooler.dense``, ``lm_head``,
  ``classifier.1``) are out of scope; when it has none (an MLP ``fc0``, ``fc1``, ``fc2``), every matrix is in
  scope and is its own block.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

#: Why a matrix outside the repeated blocks is left out.
OUTSIDE_BLOCKS = "outside the repeated blocks (pruning tools prune the blocks' layers only)"


def split_block(name: str) -> tuple[str, str] | None:
    """``(container, block)`` of a tensor name: the parts before and up to its first numeric component.

    >>> split_block("model.layers.3.self_attn.q_proj.weight")
    ('model.layers', 'model.layers.3')
    >>> split_block("pooler.dense.weight") is None
    True
    """
    parts = name.split(".")
    for i, part in enumerate(parts[:-1]):  # the last component is the tensor's own name
        if part.isdigit():
            return ".".join(parts[:i]), ".".join(parts[: i + 1])
    return None


@dataclass(frozen=True)
class BlockScope:
    """For each matrix (in the order given): its block, or None when it is out of scope."""

    blocks: tuple[str | None, ...]
    has_repeated_blocks: bool


def block_scope(names: Sequence[str]) -> BlockScope:
    """The block of each of ``names`` under the rules of the module docstring."""
    splits = [split_block(name) for name in names]
    numbers: dict[str, set[str]] = defaultdict(set)
    for split in splits:
        if split is not None:
            numbers[split[0]].add(split[1])
    repeated = {container for container, blocks in numbers.items() if len(blocks) >= 2}
    if not repeated:
        return BlockScope(blocks=tuple(names), has_repeated_blocks=False)
    return BlockScope(
        blocks=tuple(split[1] if split is not None and split[0] in repeated else None for split in splits),
        has_repeated_blocks=True,
    )
